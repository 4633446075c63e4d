"""An e-mail message saved as a file (``.eml``: Thunderbird, Apple Mail, Outlook's "Save as"):
its sender, recipients, date and subject, then its body as a reader sees it.

Indexed as it is, a message is MIME: headers, part boundaries, base64 and quoted-printable
(`maintenan=` / `ce logs`, `=E2=80=9Cthe Agreement=E2=80=9D`), so a phrase of its body was found
in no passage, and a hit on its HTML part printed `<html><body><p>` (a paralegal's trial). Read
here with the standard library's parser: the plain-text body, else the HTML one as text; the
names of attached files (their contents are not read); a message attached to it (forwarded
whole) after it. The subject is the title.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from searchapp.ingest.formats.html import html_to_text
from searchapp.ingest.formats.spans import LocatedText

EML_SUFFIX = ".eml"
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
MAX_NESTED_MESSAGES = 8  # messages forwarded inside messages: past this, a hostile file


def extract_eml(data: bytes) -> LocatedText:
    """The readable text of a message file (``data``, its bytes)."""
    subject, text = read_message(data)
    return LocatedText(subject, text)


def read_message(data: bytes) -> tuple[str, str]:
    """A message's subject and its readable text (``data``: its bytes, as an ``.eml`` file or
    one message of a mailbox holds them)."""
    message = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(message, EmailMessage)  # policy.default parses into EmailMessage
    return _header(message, "Subject"), _message_text(message, MAX_NESTED_MESSAGES).strip() + "\n"


def _message_text(message: EmailMessage, depth: int) -> str:
    lines = [f"{name}: {value}" for name in _HEADERS if (value := _header(message, name))]
    body = message.get_body(preferencelist=("plain", "html"))
    text = ""
    if body is not None:
        content = _content(body)
        if body.get_content_subtype() == "html":
            content = html_to_text(content)[1]
        text = content.replace("\r\n", "\n").strip()
    attached = []
    for part in message.iter_attachments():
        if part.get_content_type() == "message/rfc822" and depth > 0:
            inner = part.get_payload()
            inner = inner[0] if isinstance(inner, list) and inner else inner
            if isinstance(inner, EmailMessage):
                attached.append("Forwarded message:\n" + _message_text(inner, depth - 1))
                continue
        name = part.get_filename()
        if name:
            attached.append(f"Attachment: {name}")
        elif part.get_content_maintype() == "text" and part.get_content_disposition() != (
            "attachment"
        ):  # the text after an inline image (Apple Mail's): the body's, not an attachment's
            inline = _content(part)
            if part.get_content_subtype() == "html":
                inline = html_to_text(inline)[1]
            attached.append(inline.replace("\r\n", "\n").strip())
    return "\n\n".join(part for part in ("\n".join(lines), text, *attached) if part)


def _header(message: EmailMessage, name: str) -> str:
    """A header as a person reads it (encoded words decoded), on one line; "" if absent or
    unreadable."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError, AttributeError):  # malformed past parsing
        return ""
    return " ".join(str(value or "").split())


def _content(part: EmailMessage) -> str:
    """A text part's content, decoded from its transfer encoding and charset (an unknown
    charset as UTF-8, bad bytes replaced)."""
    try:
        content = part.get_content()
    except (LookupError, ValueError, UnicodeError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""
