"""Private keys in a document's text, blanked before it is chunked or shown: a PEM block
(``-----BEGIN OPENSSH PRIVATE KEY-----``, RSA, EC, PKCS #8, encrypted ones) or an armored PGP
private key, in a note, a configuration file, a JSON service-account file or a test's string
literals, is never a passage, a hit, a snippet that `search mcp` hands to an assistant, or a
line of `search query -C` context. Its BEGIN and END lines stay (a search for "private key"
finds where it was); the key between them becomes spaces, so every offset and line number of
the text around it stays as it was. Files that are secrets by name (``*.env``, ``*.pem``,
``id_rsa``) are left out by the walk (``discovery.DEFAULT_EXCLUDES``).
"""

from __future__ import annotations

import re

MARK = "PRIVATE KEY"  # in every such block's BEGIN line: the quick test
_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----")
_QUOTES = " \t\"'"
# What a key's lines hold between its BEGIN and END lines: base64, perhaps as a string literal
# of code (``"MIIE...\n" +``, ``'MIIE...',``), and the headers of an encrypted PEM
# (``Proc-Type: 4,ENCRYPTED``) or an armored PGP key (``Version: ...``).
_KEY_LINE = re.compile(
    r"[ \t]*(?:[rbu]?[\"'])?"
    r"(?P<body>[A-Za-z0-9+/=]*|(?:Proc-Type|DEK-Info|Version|Comment|Hash|Charset): [^\n]*)"
    r"(?:\\n)?(?:[\"'])?[ \t]*[+,]?[ \t\r]*"
)
# A block without its END line ends after its last line of this much base64 (or a header): a
# one-word line after it ("TODO") is text, not key.
STRONG_KEY_CHARS = 16


def blank_private_keys(text: str) -> str:
    """``text`` with the body of each private key block replaced by spaces (newlines and
    carriage returns kept): on the BEGIN line's own line when the block is written on one line
    (JSON's ``"-----BEGIN PRIVATE KEY-----\\nMIIE...\\n-----END PRIVATE KEY-----\\n"``), else on
    the lines up to its END line. Linear in the text's length."""
    if MARK not in text:
        return text
    out: list[str] = []
    at = 0
    while (begin := _BEGIN.search(text, at)) is not None:
        body_start = begin.end()
        line_end = text.find("\n", body_start)
        line_end = len(text) if line_end < 0 else line_end
        same_line = _END.search(text, body_start, line_end)
        if same_line is None:  # the key on the lines below: the rest of this line stays
            body_start, body_end = line_end, _block_end(text, line_end)
        else:
            body_end = same_line.start()
        out.append(text[at:body_start])
        out.append(re.sub(r"[^\n\r]", " ", text[body_start:body_end]))
        at = body_end
    out.append(text[at:])
    return "".join(out)


def _block_end(text: str, newline: int) -> int:
    """Where the key whose BEGIN line ends at ``newline`` ends: its END line's start, or, with
    no END line before a line that is not key, the end of its last strong line."""
    end_of_strong = newline
    while newline < len(text):
        start = newline + 1
        newline = text.find("\n", start)
        newline = len(text) if newline < 0 else newline
        end = _END.search(text, start, newline)
        if end is not None and not text[start : end.start()].strip(_QUOTES):
            return end.start()
        line = _KEY_LINE.fullmatch(text, start, newline)
        if line is None:
            break
        body = line.group("body")
        if len(body) >= STRONG_KEY_CHARS or ": " in body:
            end_of_strong = newline
    return end_of_strong
