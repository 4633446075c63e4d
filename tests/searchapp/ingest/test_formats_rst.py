"""reStructuredText and AsciiDoc (``formats/rst.py``): headings as sections, the text as it is."""

from __future__ import annotations

from pathlib import Path

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.formats.spans import locate

RST = """\
=================
 The Field Guide
=================

Intro text.

Install
=======

Get it.

Linux
-----

apt install it.

Windows
-------

Use the installer.

Usage
=====

Run it. A table, a transition:

=====  =====
A      B
=====  =====

----------

The end of usage.
"""

ADOC = """\
= The Guide
Author Name

== Install

Text.

=== Linux

----
= not a heading, a listing's line
----

== Usage

Run.
"""


def test_rst_headings_are_sections_by_their_adornments_order(tmp_path: Path) -> None:
    # Read as plain text, Sphinx docs' passages ran across sections and named none.
    (tmp_path / "guide.rst").write_text(RST, "utf-8")
    [document] = load_documents(tmp_path / "guide.rst")
    assert document.title == "The Field Guide" and document.text == RST  # lines as the file's

    def section(words: str) -> str | None:
        return locate(document.spans, document.text.index(words)).section

    assert section("apt install") == "The Field Guide > Install > Linux"
    assert section("Use the installer") == "The Field Guide > Install > Windows"
    assert section("The end of usage") == "The Field Guide > Usage"  # no table or transition
    assert section("Intro text") == "The Field Guide"


def test_asciidoc_section_headings_are_sections_not_in_listings(tmp_path: Path) -> None:
    (tmp_path / "guide.adoc").write_text(ADOC, "utf-8")
    [document] = load_documents(tmp_path / "guide.adoc")
    assert document.title == "The Guide" and document.text == ADOC
    at = document.text.index("not a heading")
    assert locate(document.spans, at).section == "Install > Linux"
    assert locate(document.spans, document.text.index("Run.")).section == "Usage"
