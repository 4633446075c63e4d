"""Private keys inside documents are blanked before chunking (searchapp/ingest/secrets.py)."""

from __future__ import annotations

import json
from pathlib import Path

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.secrets import blank_private_keys

KEY_LINES = [
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "QyNTUxOQAAACBqYnNmZXRjaGVyc2VjcmV0a2V5bWF0ZXJpYWxoZXJlAAAAmBBfY2hlY2s=",
]
BODY = "\n".join(KEY_LINES)


def test_a_key_in_a_note_is_blanked_and_every_line_stays_where_it_was(tmp_path: Path) -> None:
    text = (
        "# Deploy\n\nThe bastion's key:\n\n```\n-----BEGIN OPENSSH PRIVATE KEY-----\n"
        f"{BODY}\n-----END OPENSSH PRIVATE KEY-----\n```\n\nRotate it every 90 days.\n"
    )
    path = tmp_path / "deploy.md"
    path.write_text(text, encoding="utf-8")
    (document,) = load_documents(path)
    assert KEY_LINES[0] not in document.text and KEY_LINES[1][:20] not in document.text
    assert "-----BEGIN OPENSSH PRIVATE KEY-----" in document.text
    assert "-----END OPENSSH PRIVATE KEY-----" in document.text
    assert "Rotate it every 90 days." in document.text
    original = load_documents(path, data=text.replace("PRIVATE KEY", "PRIVATE KEZ").encode())[0]
    # Same length, same lines: offsets, spans and line numbers of the rest are unchanged.
    assert len(document.text) == len(original.text)
    assert document.text.split("\n")[-3] == original.text.split("\n")[-3]
    assert [len(line) for line in document.text.split("\n")] == [
        len(line) for line in original.text.split("\n")
    ]


def test_a_service_account_key_on_one_json_line_is_blanked(tmp_path: Path) -> None:
    key = "-----BEGIN PRIVATE KEY-----\n" + BODY + "\n-----END PRIVATE KEY-----\n"
    account = {"type": "service_account", "client_email": "ci@proj.iam", "private_key": key}
    path = tmp_path / "ci-account.json"
    path.write_text(json.dumps(account, indent=2), encoding="utf-8")
    (document,) = load_documents(path)
    assert KEY_LINES[0][:30] not in document.text and "ci@proj.iam" in document.text
    assert document.text.count("\n") == path.read_text().count("\n")


def test_a_block_without_its_end_line_stops_at_the_first_line_that_is_not_key() -> None:
    text = (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B\n\n"
        f"{KEY_LINES[0]}\nthe rest of the note\n"
    )
    blanked = blank_private_keys(text)
    assert blanked.endswith("\nthe rest of the note\n")
    assert "ENCRYPTED" not in blanked and KEY_LINES[0] not in blanked
    assert [len(line) for line in blanked.split("\n")] == [len(line) for line in text.split("\n")]


def test_text_without_a_private_key_is_left_as_it_is() -> None:
    text = "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----\nprivate key rotation\n"
    assert blank_private_keys(text) is text
    certificate = "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n"
    assert blank_private_keys(certificate) == certificate


def test_keys_in_string_literals_and_pgp_blocks_are_blanked() -> None:
    # A reviewer's finds: a test fixture's PEM as concatenated literals, and a PGP key.
    code = (
        "KEY = (\n"
        '    "-----BEGIN PRIVATE KEY-----\\n"\n'
        f'    "{KEY_LINES[0]}\\n"\n'
        f"    '{KEY_LINES[1]}\\n' +\n"
        '    "-----END PRIVATE KEY-----\\n"\n'
        ")\n"
    )
    blanked = blank_private_keys(code)
    assert KEY_LINES[0] not in blanked and KEY_LINES[1] not in blanked
    assert "-----END PRIVATE KEY-----" in blanked and blanked.endswith(")\n")
    pgp = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\n"
        f"{KEY_LINES[0]}\n=Xy7q\n-----END PGP PRIVATE KEY BLOCK-----\nafter\n"
    )
    blanked = blank_private_keys(pgp)
    assert KEY_LINES[0] not in blanked and "GnuPG" not in blanked and "=Xy7q" not in blanked
    assert blanked.endswith("-----END PGP PRIVATE KEY BLOCK-----\nafter\n")


def test_a_block_without_end_keeps_the_short_words_after_its_key() -> None:
    text = f"-----BEGIN PRIVATE KEY-----\n{KEY_LINES[0]}\nTODO\nhello\n"
    assert blank_private_keys(text).endswith("\nTODO\nhello\n")


def test_mentions_of_a_key_without_one_are_left_as_they_are() -> None:
    line = "-----BEGIN PRIVATE KEY----- was logged by the scanner; no key follows\n"
    text = (line + "scan finished in 3 ms, nothing to report\n") * 2_000
    assert blank_private_keys(text) == text


def test_lines_shown_around_a_hit_have_the_key_blanked_too(tmp_path: Path) -> None:
    # `search query -C` read the lines the index left blank from the file: the key came back.
    from searchapp.ingest.decoding import decode_bytes

    text = f"# notes\n\n-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----\n"
    shown = decode_bytes(text.encode())
    assert shown is not None and KEY_LINES[0] not in shown and "# notes" in shown
