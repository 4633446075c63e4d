"""Debian changelogs: each entry's heading a section, so a passage begins at its entry and a
hit names its version."""

from __future__ import annotations

import gzip

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.formats.changelog import extract_changelog, is_debian_changelog
from tests.searchapp.ingest.test_pipeline import make_index

NEWS = """apt (2.5.2) unstable; urgency=medium

  Installing or upgrading a binary package now upgrades other binaries from
  the same source package if they have the same candidate version.

 -- Julian Andres Klode <jak@debian.org>  Wed, 13 Jul 2022 18:30:00 +0200

apt (2.1.16) unstable; urgency=medium

  Automatically remove unused kernels on apt {dist,full}-upgrade. To revert
  to previous behavior, set APT::Get::AutomaticRemove::Kernels to false.

 -- Julian Andres Klode <jak@debian.org>  Thu, 07 Jan 2021 11:52:23 +0100

apt (1.9.11) experimental; urgency=medium

  apt(8) now waits for the lock indefinitely if connected to a tty.

 -- Julian Andres Klode <jak@debian.org>  Mon, 10 Feb 2020 10:41:00 +0100
"""


def test_each_entry_heading_is_a_section_and_the_text_is_kept() -> None:
    located = extract_changelog(NEWS)
    assert located.text == NEWS  # lines are the file's
    assert [span.section for span in located.spans] == [
        "apt (2.5.2) unstable",
        "apt (2.1.16) unstable",
        "apt (1.9.11) experimental",
    ]
    assert [NEWS.count("\n", 0, span.start_char) + 1 for span in located.spans] == [1, 8, 15]
    # Other shapes of heading Debian writes: a security upload, several keys.
    assert is_debian_changelog("\nopenssl (3.0.15-1~deb12u1) bookworm-security; urgency=high\n")
    assert is_debian_changelog("glibc (2.36-9) unstable experimental; urgency=low, binary-only=yes")
    # Old entries: no distribution, a note after the urgency.
    assert is_debian_changelog("dpkg (1.2.12); priority=LOW\n")
    assert is_debian_changelog("binutils (2.9.1.0.15-1) frozen; urgency=low (HIGH for m68k)")
    # Text that only looks like one is plain text.
    assert not is_debian_changelog("call foo (bar) now; it works\n")
    assert not is_debian_changelog("Notes\n\napt (2.1.16) unstable; urgency=medium\n")


def test_a_hit_in_an_entry_begins_at_its_heading_and_names_it(tmp_path) -> None:
    # Chunks cut at blank lines: the heading ended the passage before its entry, and a hit
    # showed the next entry's heading, so a change of 2.1.16 read as one of 1.9.11.
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "NEWS.Debian.gz").write_bytes(gzip.compress(NEWS.encode()))
    [document] = load_documents(docs / "NEWS.Debian.gz")
    assert document.text == NEWS and len(document.spans) == 3
    index = make_index(tmp_path / "idx")
    index.add([docs])
    hits = index.search("AutomaticRemove Kernels", k=3, per_doc=3, mode="lexical")
    assert hits[0].section == "apt (2.1.16) unstable" and "1.9.11" not in hits[0].text
    starts = index.store.rows("SELECT start_line, text FROM chunks ORDER BY start_line")
    headed = {line: text for line, text in starts if text.startswith("apt (")}
    assert sorted(headed) == [1, 8, 15]  # each entry's first passage begins at its heading
