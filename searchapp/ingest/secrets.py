"""Private keys in a document's text, blanked before it is chunked: a PEM block
(``-----BEGIN OPENSSH PRIVATE KEY-----``, RSA, EC, PKCS #8, encrypted ones) in a note, a
configuration file or a JSON service-account file is never a passage, a hit or a snippet that
`search mcp` hands to an assistant. Its BEGIN and END lines stay (a search for "private key"
finds where it was); the key between them becomes spaces, so every offset and line number of
the text around it stays as it was. Files that are secrets by name (``*.env``, ``*.pem``,
``id_rsa``) are left out by the walk (``discovery.DEFAULT_EXCLUDES``).
"""

from __future__ import annotations

import re

MARK = "PRIVATE KEY-----"  # in every such block's BEGIN line: the quick test
_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")
# What a key's lines hold between its BEGIN and END lines: base64, and an encrypted PEM's
# headers (``Proc-Type: 4,ENCRYPTED``, ``DEK-Info: AES-128-CBC,...``). A block without its END
# line ends at the first other line.
_KEY_LINE = re.compile(r"[ \t]*(?:[A-Za-z0-9+/=]*|(?:Proc-Type|DEK-Info): [^\n]*)[ \t\r]*")


def blank_private_keys(text: str) -> str:
    """``text`` with the body of each PEM private key block replaced by spaces (newlines and
    carriage returns kept): on the BEGIN line's own line when the block is written on one line
    (JSON's ``"-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n"``), else on
    the lines up to its END line."""
    if MARK not in text:
        return text
    out: list[str] = []
    at = 0
    while (begin := _BEGIN.search(text, at)) is not None:
        body_start = begin.end()
        line_end = text.find("\n", body_start)
        line_end = len(text) if line_end < 0 else line_end
        end = _END.search(text, body_start, line_end)
        if end is None:  # the key on the lines below, up to its END line
            end_at = body_start
            for line in re.finditer(r"\n([^\n]*)", text[body_start:]):
                content = line.group(1)
                if _END.match(content.strip()):
                    end = _END.search(text, body_start + line.start(1))
                    break
                if not _KEY_LINE.fullmatch(content):
                    break
                end_at = body_start + line.end()
            body_end = end.start() if end is not None else end_at
        else:
            body_end = end.start()
        out.append(text[at:body_start])
        out.append(re.sub(r"[^\n\r]", " ", text[body_start:body_end]))
        at = body_end
    out.append(text[at:])
    return "".join(out)
