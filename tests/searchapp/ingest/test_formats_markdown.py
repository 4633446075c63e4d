"""Markdown: heading paths for every position, front matter as the title, not the body."""

from __future__ import annotations

import base64
from pathlib import Path

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.formats.markdown import extract_markdown
from searchapp.ingest.formats.spans import locate

GUIDE = """\
---
title: "Field Guide"
tags: [install, linux]
---
Preface text.

# Install

Get it.

## Linux

```sh
# a comment, not a heading
apt install it
```

### Debian ###

Debian words.

## macOS
brew words.

Usage
=====

Use it.

Options
-------
- item
---
Last words.
"""


def section_at(text: str, spans, needle: str) -> str | None:
    return locate(spans, text.index(needle)).section


def test_every_position_knows_its_heading_path() -> None:
    located = extract_markdown(GUIDE)
    text, spans = located.text, located.spans
    assert section_at(text, spans, "Preface") is None
    assert section_at(text, spans, "Get it") == "Install"
    assert section_at(text, spans, "apt install") == "Install > Linux"  # the comment is code
    assert section_at(text, spans, "Debian words") == "Install > Linux > Debian"
    assert section_at(text, spans, "brew words") == "Install > macOS"
    assert section_at(text, spans, "Use it") == "Usage"  # setext, level 1
    assert section_at(text, spans, "- item") == "Usage > Options"  # setext, level 2
    assert section_at(text, spans, "Last words") == "Usage > Options"  # "---" after a list: a rule
    assert [text[span.start_char : text.index("\n", span.start_char)] for span in spans] == [
        "# Install",
        "## Linux",
        "### Debian ###",
        "## macOS",
        "Usage",
        "Options",
    ]


def test_front_matter_is_the_title_and_what_names_the_note_is_searched() -> None:
    # A note's title, aliases and tags were found by none of their words, and a note of front
    # matter alone (a book's, a person's) had no passage: those lines are its text; layout,
    # dates and ids, and the "---" lines, are blank lines, so line numbers still match.
    located = extract_markdown(GUIDE)
    assert located.title == "Field Guide"
    lines = located.text.split("\n")[:5]
    # As words: without YAML's quotes, brackets and dashes (a hit showed `[postfix, smtp
    # relay]`).
    # Tags as Obsidian writes them in a note (`#install`): a tag query finds them as those.
    assert lines == ["", "Field Guide", "#install, #linux", "", "Preface text."]
    # Values, not keys: in a vault whose every note has `tags:`, "tags" found every note's
    # front matter before the note about tags.
    note = "---\ntitle: The Overstory\nlayout: book\ntags:\n  - trees\naliases: [Overstory]\n---\n"
    assert extract_markdown(note).text == "\nThe Overstory\n\n\n#trees\nOverstory\n\n"
    listed = "---\naliases: ['smtp relay', \"mail, relay\"]\ntags:\n  - 'infra'\n---\n"
    assert extract_markdown(listed).text == "\nsmtp relay, mail, relay\n\n#infra\n\n"
    # Any key's words but those a generator or a plugin reads: a meeting note was found by
    # no attendee's name (an Obsidian user's trial).
    meeting = "---\ndate: 2026-11-03\nattendees: [Tom, Anna Weber]\nstatus: done\nid: 7f3a\n---\n"
    assert extract_markdown(meeting).text == "\n\nTom, Anna Weber\ndone\n\n\n"


def test_front_matter_variants() -> None:
    assert extract_markdown("---\ntitle: Plain\n...\nbody\n").title == "Plain"
    assert extract_markdown("---\ntitle: 'Quoted'\n---\n").title == "Quoted"
    assert extract_markdown("---\ntitle: >\n  folded\n---\nbody\n").title == ""
    assert extract_markdown("---\ndate: 2024-01-05\n---\nbody\n").text == "\n\n\nbody\n"
    assert extract_markdown("---\nauthor: me\n---\nbody\n").text == "\nme\n\nbody\n"
    # A rule and a paragraph, not front matter: no "key:" line.
    assert extract_markdown("---\njust a rule\n---\n").text == "---\njust a rule\n---\n"
    # Not at the very start: body text.
    assert extract_markdown("\n---\ntitle: X\n---\n").title == ""


def test_without_a_title_key_the_first_top_level_heading_is_the_title() -> None:
    # An agent's get_document gave `"title": null` for every note without front matter.
    assert extract_markdown("intro\n\n## Setup\n\n# Anna  Weber #\n\n# Later\n").title == (
        "Anna Weber"
    )
    assert extract_markdown("Relay notes\n===========\n\ntext\n").title == "Relay notes"
    assert extract_markdown("```sh\n# not a heading\n```\n## Only a section\n").title == ""
    assert extract_markdown("---\ntitle: Given\n---\n# Heading\n").title == "Given"
    assert extract_markdown("---\ntags: [a]\n---\n# Heading\n").title == "Heading"
    # An Excalidraw drawing's headings are the plugin's: every one was titled "Text Elements".
    drawing = "---\nexcalidraw-plugin: parsed\n---\n# Text Elements\nFlamingo cache\n"
    assert extract_markdown(drawing).title == ""


def test_markdown_through_load_documents_by_name_only(tmp_path: Path) -> None:
    (tmp_path / "guide.md").write_text(GUIDE)
    (tmp_path / "guide.txt").write_text(GUIDE)
    [markdown] = load_documents(tmp_path / "guide.md")
    [plain] = load_documents(tmp_path / "guide.txt")
    assert markdown.title == "Field Guide" and len(markdown.spans) == 6
    assert (plain.title, plain.text, plain.spans) == ("", GUIDE, ())


def test_markdown_without_front_matter_or_headings_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "notes.markdown"
    path.write_bytes(b"just\r\nlines\n")
    [document] = load_documents(path)
    assert (document.title, document.text, document.spans) == ("", "just\nlines\n", ())


def test_an_anchor_before_a_heading_starts_its_section() -> None:
    # Node's docs put `<a id="ERR_X"></a>` before each heading: the anchor was the last line of
    # the entry before, so a search for ERR_INVALID_ARG_TYPE hit the entry above it.
    text = (
        "# Errors\n\nAbout errors.\n\n"
        '<a id="ERR_A"></a>\n\n### `ERR_A`\n\nA was wrong.\n\n'
        '<a id="ERR_B"></a>\n<a name="b"></a>\n### `ERR_B`\n\nB was wrong.\n\n'
        '<a id="stray"></a>\n\nA paragraph, then a heading.\n\n## More\n'
    )
    located = extract_markdown(text)
    spans = located.spans
    assert section_at(text, spans, '<a id="ERR_A">') == "Errors > `ERR_A`"
    assert section_at(text, spans, '<a id="ERR_B">') == "Errors > `ERR_B`"
    assert section_at(text, spans, "About errors") == "Errors"
    assert section_at(text, spans, '<a id="stray">') == "Errors > `ERR_B`"  # not before one
    assert section_at(text, spans, "## More") == "Errors > More"


def test_a_heading_in_an_html_comment_is_no_section() -> None:
    # "<!--\n# TODO old section\n-->" made "TODO old section" the section of all below it.
    text = "# Guide\n\n<!--\n# TODO old section\nDraft\n=====\n-->\n\nInstall it.\n"
    text += "<!-- x -->\n## Next\n"
    located = extract_markdown(text)
    assert section_at(located.text, located.spans, "Install it") == "Guide"
    assert section_at(located.text, located.spans, "## Next") == "Guide > Next"


def test_an_image_pasted_as_wrapped_base64_is_cut_and_lines_still_match() -> None:
    # Wrapped at 76 columns in an <img> tag, a 30 kB image was 174 passages of base64.
    image = base64.b64encode(bytes(range(256)) * 30).decode()
    wrapped = "\n".join(image[at : at + 76] for at in range(0, len(image), 76))
    for eol in ("\n", "\r\n"):
        text = f'# Notes\n\n<img src="data:image/png;base64,{wrapped}" />\n\nAfter it.\n'
        text = text.replace("\n", eol)
        cut = extract_markdown(text).text
        assert image[:40] not in cut and image[-40:] not in cut
        assert cut.count("\n") == text.count("\n")  # each line where it was
        assert (
            cut.split("\n")[text.split("\n").index("After it." + eol.rstrip("\n"))].strip()
            == "After it."
        )
    # Not wrapped, or at a line's end with prose after it: that prose stays.
    one = f"![x](data:image/png;base64,{image[:80]})\nHello world\n"
    assert extract_markdown(one).text == "![x]()\nHello world\n"
    bare = f"data:image/png;base64,{image[:76]}\nHello world\n"
    assert extract_markdown(bare).text == "\nHello world\n"


def test_headings_and_titles_read_as_commonmark_s_closing_rules_say() -> None:
    # The heading and title patterns tried every split of a long run of blanks (a 2 MB file of
    # "# a<5,000 spaces>b" lines took 56 s); their blanks are now stripped after the match.
    # Each line is read as the backtracking patterns read it.
    import random
    import re

    from searchapp.ingest.formats.markdown import _ATX, _heading_text

    backtracking = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
    rng = random.Random(3)
    pieces = ["#", " ", "\t", "a", "b", "##", "  ", "x y"]
    for _ in range(20_000):
        line = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 10)))
        old, new = backtracking.fullmatch(line), _ATX.fullmatch(line)
        assert (old is None) == (new is None), line
        if old is not None:
            assert new.group(1) == old.group(1)
            assert _heading_text(new.group(2) or "") == (old.group(2) or ""), line
    spaced = "# a" + " " * 5000 + "b"
    text = f"---\ntitle:   Plan {' ' * 3}\n---\n{spaced}\n\nbody\n"
    document = extract_markdown(text)
    assert document.title == "Plan"
    assert [span.section for span in document.spans][:1] == ["a b"]  # blanks as one


def test_a_note_of_front_matter_alone_is_found_by_its_title_and_aliases(tmp_path: Path) -> None:
    from tests.searchapp.ingest.test_pipeline import make_index

    notes = tmp_path / "vault"
    notes.mkdir()
    (notes / "The Overstory.md").write_text(
        "---\ntitle: The Overstory\nauthor: Richard Powers\naliases: [Overstory]\n---\n", "utf-8"
    )
    (notes / "Piranesi.md").write_text("# Piranesi\nA house of endless halls.\n", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([notes])
    for query in ("Richard Powers", "Overstory"):
        [hit] = index.search(query, k=1, mode="lexical")
        assert hit.path == str(notes / "The Overstory.md") and hit.line in (2, 3, 4)


def test_an_excalidraw_drawing_is_its_words_not_its_json() -> None:
    # A 215 kB drawing was 402 passages of `"seed": 1234,`, ranked first for "when did I
    # draw the diagram".
    drawing = ",\n".join(f'  {{"id": "e{n}", "seed": {n * 7919}, "height": 60}}' for n in range(50))
    text = (
        "---\nexcalidraw-plugin: parsed\ntags: [excalidraw]\n---\n"
        "==⚠  Switch to EXCALIDRAW VIEW in the MORE OPTIONS menu of this document. ⚠==\n\n"
        "# Excalidraw Data\n## Text Elements\nLoad balancer in front of two API nodes ^a1b2\n\n"
        "Cache ^Xy-9\n\n"
        f'%%\n## Drawing\n```json\n{{"elements": [\n{drawing}\n]}}\n```\n%%\n'
    )
    located = extract_markdown(text)
    assert "Load balancer in front of two API nodes" in located.text
    assert "seed" not in located.text and "elements" not in located.text
    assert located.text.count("\n") == text.count("\n")  # lines still match
    # Nor the plugin's notice, its "%%" marks, or the block ids that end each element's words.
    assert "Load balancer in front of two API nodes\n" in located.text and "Cache\n" in located.text
    assert "EXCALIDRAW VIEW" not in located.text and "%%" not in located.text
    assert "^" not in located.text
    # Without the plugin's key, a "## Drawing" section is a note's own.
    plain = "# Notes\n## Drawing\nCharcoal on paper.\n"
    assert extract_markdown(plain).text == plain


def test_a_front_matter_line_is_never_a_heading() -> None:
    # A block scalar's line kept from the front matter ("  ## not a heading") named the
    # section of every passage after it.
    text = (
        "---\ntitle: Trip\nsummary: |\n  ## not a heading\n  plain words zebra\n...\n"
        "# Real heading\nbody\n"
    )
    located = extract_markdown(text)
    assert "plain words zebra" in located.text
    assert [span.section for span in located.spans] == ["Real heading"]
    assert located.text[located.spans[0].start_char :].startswith("# Real heading")


def test_a_query_for_a_front_matter_key_finds_the_note_about_it(tmp_path: Path) -> None:
    from tests.searchapp.ingest.test_pipeline import make_index

    vault = tmp_path / "vault"
    vault.mkdir()
    for topic in ("gardening", "taxes", "espresso", "guitar"):
        (vault / f"{topic}.md").write_text(
            f"---\ntitle: {topic}\ntags: [{topic}, notes]\nauthor: me\n---\n# {topic}\n", "utf-8"
        )
    (vault / "tagging.md").write_text("# Organising\n\nI use tags to group notes.\n", "utf-8")
    index = make_index(tmp_path / "idx")
    index.add([vault])
    assert [hit.path for hit in index.search("tags", k=5, mode="lexical")] == [
        str(vault / "tagging.md")
    ]


def test_numbers_alone_and_site_order_keys_are_not_searched() -> None:
    # A writer's chapters read "Mara 10000 # Chapter 1" (`words_target: 10000`), and a docs
    # page "9 Glossary" (Docusaurus's `sidebar_position: 9`).
    text = "---\ntitle: Glossary\npov: Mara\nwords_target: 10000\nsidebar_position: 9\n---\nBody\n"
    located = extract_markdown(text)
    assert located.text.split() == ["Glossary", "Mara", "Body"]
    assert located.text.count("\n") == text.count("\n")
    # A reviewer's: a number that is a note's title is its name; `position` is a property.
    novel = extract_markdown("---\ntitle: 1984\nposition: Chief Technology Officer\n---\nx\n")
    assert novel.text.split() == ["1984", "Chief", "Technology", "Officer", "x"]


def test_an_mdx_page_is_markdown_without_its_module_lines(tmp_path) -> None:
    # A Docusaurus page: no sections, no title, and its first passage began with `import`.
    from searchapp.ingest.decoding import load_documents

    page = (
        "---\ntitle: Configuration\n---\nimport Tabs from '@theme/Tabs';\n"
        "import {\n  TabItem,\n  Details,\n} from '@theme/Tabs';\n"  # a reviewer's: over lines
        "export const meta = {\n  tags: ['setup'],\n};\n\n"
        "# Configure\n\nSet the API key; import it from the vault.\n"
    )
    (tmp_path / "config.mdx").write_text(page, "utf-8")
    [document] = load_documents(tmp_path / "config.mdx")
    assert document.title == "Configuration" and "Tabs" not in document.text
    assert "TabItem" not in document.text and "setup" not in document.text
    # A bracket in a string or a comment is none (the whole page was blanked).
    for module in ("import x from 'a{b'", "import X from 'x' // see [docs"):
        text = extract_markdown(f"{module}\n\n# Title\nBody\n", mdx=True).text
        assert "Body" in text and "import" not in text
    assert "import it from the vault" in document.text  # a sentence is no module line
    assert [span.section for span in document.spans] == ["Configure"]


def test_r_markdown_and_quarto_are_markdown(tmp_path: Path) -> None:
    # An ecologist's reports: title null, section null, and "format: html: toc: true" and
    # "**NE-042**" in every hit's text.
    report = (
        '---\ntitle: "Annual report 2023"\nformat:\n  html:\n    toc: true\noutput: '
        "html_document\n---\n\n# Methods\n\n## Field protocol\n\nWe surveyed **NE-042**.\n\n"
        "```{r fit, echo=FALSE}\nfit_occupancy <- function(data) {\n  occu(data)\n}\n```\n"
    )
    for name in ("report.qmd", "report.Rmd"):
        (tmp_path / name).write_text(report, "utf-8")
        [document] = load_documents(tmp_path / name)
        assert document.title == "Annual report 2023"
        assert "html" not in document.text and "true" not in document.text
        at = document.text.index("fit_occupancy")
        assert locate(document.spans, at).section == "Methods > Field protocol"
    # A note's own keys of those names are searched (a reviewer's: an audiobook's editor).
    (tmp_path / "book.md").write_text("---\nformat: audiobook\neditor: Maria Popova\n---\nx\n")
    [note] = load_documents(tmp_path / "book.md")
    assert "audiobook" in note.text and "Maria Popova" in note.text
