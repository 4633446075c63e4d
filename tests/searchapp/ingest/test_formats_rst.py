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


CHANGELOG = """\
=========
Changelog
=========

2.3.0 (2024-12-05)
------------------

Added
~~~~~

- Retry budgets for the client, with fairness between hosts: each host gets its share of
  the retries a client may make in a minute, so one slow host cannot take them all.

2.2.0 (2024-10-01)
------------------

Fixed
~~~~~

- A crash on empty responses from the server, when the body was read twice by the
  streaming decoder and the second read found nothing to decode at all.
"""

LABELLED = """\
Retries
=======

The client retries failed requests a few times, with a growing pause between attempts.

.. _configuring-retries:

Configuring retries
-------------------

Use RetryPolicy(max_attempts=5) to configure retries.
"""


def test_a_heading_under_its_adornment_joins_its_text_and_a_label_its_section(
    tmp_path: Path,
) -> None:
    # A maintainer's changelog: "2.3.0 (2024-12-05)" over its underline was a passage of its
    # own, holding no change; `.. _configuring-retries:` was the section before's.
    from searchapp.search_index import SearchIndex
    from tests.searchapp.conftest import FakeEncoder

    docs = tmp_path / "docs"
    (docs / "_build" / "html" / "_sources").mkdir(parents=True)
    (docs / "CHANGELOG.rst").write_text(CHANGELOG, "utf-8")
    (docs / "retries.rst").write_text(LABELLED, "utf-8")
    # Sphinx's copy of a source: read as it is, its passages are copies of the source's.
    (docs / "_build" / "html" / "_sources" / "retries.rst.txt").write_text(LABELLED, "utf-8")
    index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(dim=64, max_length=128))
    index.add([docs])
    texts = [r[0] for r in index.store.db.execute("SELECT text FROM chunks ORDER BY id")]
    assert not [text for text in texts if text.strip().startswith("=") and "\n\n" not in text]
    [release] = [text for text in texts if "2.3.0" in text]
    assert "Retry budgets" in release and "2.2.0" not in release
    [hit] = index.search("configuring-retries", k=1, mode="lexical")
    assert hit.path.endswith("retries.rst") and hit.section == "Retries > Configuring retries"
    assert [p.split("/_build/")[-1] for p in hit.also] == ["html/_sources/retries.rst.txt"]


def test_tight_rst_headings_and_indented_lines() -> None:
    # A reviewer's: a heading's underline read as the next one's overline (its level wrong,
    # its section begun on the line before), and a literal block's line taken for a title.
    from searchapp.ingest.formats.rst import extract_rst
    from searchapp.ingest.formats.spans import heading_starts

    text = "Intro\n=====\nPart A\n======\ntext A\n\nPart B\n======\ntext B\n"
    located = extract_rst(text)
    assert [(s.section, text[s.start_char :].split("\n")[0]) for s in located.spans] == [
        ("Intro", "Intro"),
        ("Part A", "Part A"),
        ("Part B", "Part B"),
    ]
    assert extract_rst("Example::\n\n    x\n-----\n").spans == ()
    from searchapp.ingest.formats.rst import extract_asciidoc

    adoc = "= T\n\n== Install  \n\nText.\n"
    located = extract_asciidoc(adoc)
    assert [s.section for s in located.spans] == ["Install"]
    assert heading_starts(located.spans, adoc) == {adoc.index("== Install")}
    assert extract_asciidoc("= T\n\n== x" + " " * 50_000 + "y\n").spans[0].section.endswith("y")
