"""Maildir messages (mbsync's, offlineimap's, Dovecot's, as mutt, notmuch and aerc read them):
one file a message, in a folder's ``cur/`` or ``new/`` beside its ``tmp/``, named by its
delivery time (``1700000000.M20P1.host:2,S``; the flags after ":2," change as it is read).

With no suffix to tell it, a message was read as text: its MIME, quoted-printable and base64
(a hit printed `=E2=80=9C`, an attachment's base64 was skipped as generated). Here it is read
as an ``.eml`` file is (``formats/eml.py``), its subject the title.
"""

from __future__ import annotations

import re
from pathlib import Path

MAILDIR_FOLDERS = ("cur", "new")
# A delivery's name: its Unix time (9 or more digits), a dot, and the rest.
_NAME = re.compile(r"[0-9]{9,}\.[^/\\]+")
_HEADER_LINE = re.compile(rb"[!-9;-~]+:")


def is_maildir_name(path: str | Path) -> bool:
    """Whether ``path`` is named as a Maildir's message is, in its ``cur/`` or ``new/``."""
    path = Path(path)
    return path.parent.name in MAILDIR_FOLDERS and _NAME.fullmatch(path.name) is not None


def is_maildir_message(path: Path, data: bytes) -> bool:
    """Whether the file at ``path`` holding ``data`` is a Maildir's message: so named, its
    folder beside a ``tmp/`` (as every Maildir has), and beginning with a header line."""
    return (
        is_maildir_name(path)
        and _HEADER_LINE.match(data) is not None
        and (path.parent.parent / "tmp").is_dir()
    )
