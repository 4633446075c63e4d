"""RTF: the visible text of WordPad, TextEdit and Word files, not their markup."""

from __future__ import annotations

import logging

import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from searchapp.ingest.formats.rtf import MAX_DEPTH, extract_rtf, is_rtf
from tests.searchapp.ingest.test_pipeline import make_index

# As TextEdit writes a note: one font table, each line ending in "\" and a line end (\par).
TEXTEDIT = rb"""{\rtf1\ansi\ansicpg1252\cocoartf2639
\cocoatextscaling0\cocoaplatform0{\fonttbl\f0\fswiss\fcharset0 Helvetica;}
{\colortbl;\red255\green255\blue255;}
{\*\expandedcolortbl;;}
\paperw11900\paperh16840\margl1440\margr1440\vieww11520\viewh8400\viewkind0
\pard\tx566\tx1133\pardirnatural\partightenfactor0

\f0\fs24 \cf0 Shopping list\
\
Caf\'e9 au lait for Ren\'e9e \'96 \{two\} cups at \u8364 ? 5\
\b bold
\b0  and plain}
"""

# As Word writes a document: a style sheet, properties, a header, fields, a footnote, fonts
# in other character sets, Unicode with its fallback, a table and a picture.
WORD = rb"""{\rtf1\adeflang1025\ansi\ansicpg1252\uc1\adeff31507\deff0
{\fonttbl{\f0\froman\fcharset0\fprq2{\*\panose 02020603050405020304}Times New Roman;}
{\f1\fswiss\fcharset204\fprq2 Arial Cyr;}{\f2\fnil\fcharset128 MS Mincho;}}
{\colortbl;\red0\green0\blue0;}
{\stylesheet{\ql \li0\widctlpar \f0\fs24 \snext0 Normal;}
{\s1\ql \keepn\outlinelevel0 \b\f0\fs32 \sbasedon0 \snext0 heading 1;}
{\s2\ql \keepn \b\f0\fs28 \sbasedon0 \snext0 heading 2;}{\*\cs10 \additive Default Paragraph Font;}}
{\*\rsidtbl \rsid1\rsid2}{\*\generator Microsoft Word 16.0;}
{\info{\title Glider Report}{\author Ann Author}{\creatim\yr2024\mo1\dy2}}
{\header \pard\plain \s3 Running header text\par}
\pard\plain \s1\ql \outlinelevel0 \b\f0\fs32 Introduction\par
\pard\plain \ql \f0\fs24 The glider\rquote s wing{\field{\*\fldinst {HYPERLINK "http://x.org/"}}
{\fldrslt { has a link}}} and a note{\super\chftn}
{\footnote \pard\plain {\super\chftn} Footnote words.}.\par
\pard\plain \s2\ql \b Results\par
\pard\plain \ql {\f1 \'cf\'f0\'e8\'e2\'e5\'f2} {\f2 \'93\'fa\'96\'7b} \u1055\'3f\u1088\'3f
{\v  hidden words} visible\par
\trowd \cellx1000\cellx2000\pard\intbl A1\cell B1\cell\row
\trowd \cellx1000\cellx2000\pard\intbl A2\cell B2\cell\row
\pard astral \u-10179\'3f\u-8704\'3f done\line next line\tab tabbed\par
{\pict\wmetafile8\picw100 0102030405ffee}{\*\bkmkstart b1}\pard x{\*\bkmkend b1}y z\par
}
"""


def test_a_textedit_note_is_its_words_not_its_markup() -> None:
    located = extract_rtf(TEXTEDIT)
    assert located.text == (
        "Shopping list\n\nCaf\u00e9 au lait for Ren\u00e9e \u2013 {two} cups at \u20ac 5"
        "\n\nbold and plain"
    )
    assert located.title == "" and located.spans == ()


def test_a_word_document_keeps_its_visible_text_headings_and_title() -> None:
    located = extract_rtf(WORD)
    assert located.title == "Glider Report"
    paragraphs = located.text.split("\n\n")
    assert paragraphs == [
        "Introduction",
        "The glider\u2019s wing has a link and a note.",
        "Results",
        # cp1251 and Shift-JIS bytes by their fonts' character sets; \u with "?" fallbacks.
        "\u041f\u0440\u0438\u0432\u0435\u0442 \u65e5\u672c \u041f\u0440 visible",
        "A1 | B1\nA2 | B2",  # a table is one unit, a row a line
        "astral \U0001f600 done\nnext line\ttabbed",
        "xy z",
    ]
    # Outline level 0 (its own) is heading 1; "heading 2" names a style without one.
    assert [(span.start_char, span.section) for span in located.spans] == [
        (0, "Introduction"),
        (located.text.index("Results"), "Introduction > Results"),
    ]
    for markup in ("Times", "Running header", "HYPERLINK", "Footnote", "hidden", "Ann", "0102"):
        assert markup not in located.text


def test_the_document_code_page_and_raw_bytes() -> None:
    # WordPad on a Russian system: \ansicpg1251, and a writer that puts bytes in as they are.
    assert extract_rtf(rb"{\rtf1\ansi\ansicpg1251 \'cc\'e8\'f0 \par}").text == "\u041c\u0438\u0440"
    raw = "{\\rtf1\\ansi\\ansicpg1252 na\u00efve}".encode("cp1252")
    assert extract_rtf(raw).text == "na\u00efve"
    assert extract_rtf(rb"{\rtf1\mac \'8e}").text == "\u00e9"  # Mac Roman
    # TextEdit's font table: its fonts in one group.
    one_group = rb"{\rtf1{\fonttbl\f0\fnil\fcharset204 Cyr;\f1\fswiss Arial;}\f0 \'cc\f1 \'cc}"
    assert extract_rtf(one_group).text == "\u041c\u00cc"
    # \uc0: no fallback; \uc2: two characters of it, a \'hh counting as one.
    assert extract_rtf(rb"{\rtf1\uc0 \u233 x}").text == "\u00e9x"
    assert extract_rtf(rb"{\rtf1\uc2 \u233\'65\'65x}").text == "\u00e9x"


def test_binary_data_and_ignorable_groups_are_never_text() -> None:
    located = extract_rtf(b"{\\rtf1 before {\\*\\unknown skipped} \\bin5 }{\\x after\\par}")
    assert located.text == "before  after"


def test_detection_by_content(tmp_path) -> None:
    assert is_rtf(b"\xef\xbb\xbf\n {\\rtf1 x}")
    assert not is_rtf(b"notes about {\\rtf1 files}")
    path = tmp_path / "letter.doc"  # WordPad's RTF saved under an old name
    path.write_bytes(WORD)
    [document] = load_documents(path)
    assert document.title == "Glider Report" and document.text.startswith("Introduction\n\n")
    quoted = tmp_path / "about.txt"
    quoted.write_bytes(b"Files begin {\\rtf1 and hold \\par words")
    [plain] = load_documents(quoted)
    assert plain.text == "Files begin {\\rtf1 and hold \\par words"


def test_a_file_nested_too_deep_is_skipped_with_a_reason(tmp_path) -> None:
    path = tmp_path / "deep.rtf"
    path.write_bytes(b"{\\rtf1 " + b"{" * (MAX_DEPTH + 1) + b"x")
    with pytest.raises(NotTextError, match="nested over 512 deep"):
        load_documents(path)


def test_an_rtf_note_is_found_by_its_words_and_heading(tmp_path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "report.rtf").write_bytes(WORD)
    (docs / "list.rtf").write_bytes(TEXTEDIT)
    index = make_index(tmp_path / "idx")
    assert index.add([docs]).added == 2
    [hit] = index.search("visible", k=1, mode="lexical")
    assert hit.path.endswith("report.rtf") and hit.section == "Introduction > Results"
    assert index.search("Helvetica", k=1, mode="lexical") == []
    assert index.search("fs24", k=1, mode="lexical") == []


def test_text_boxes_and_tables_as_writers_make_them() -> None:
    # LibreOffice's text frame and Word's shape: the box's text, not its properties (a WordArt
    # label's gtextUNICODE) or its fallback copy.
    shape = (
        rb"{\rtf1 before\par{\shp{\*\shpinst{\sp{\sn gtextUNICODE}{\sv Label words}}"
        rb"{\shptxt \pard Textbox words\par}}{\shprslt Fallback copy}} after\par}"
    )
    assert extract_rtf(shape).text == "before\n\nTextbox words\n\nafter"
    # A cell of two paragraphs stays in its row.
    table = (
        rb"{\rtf1\trowd\pard\intbl Alice\cell First line\par Second line\cell\row"
        rb"\trowd\pard\intbl Bob\cell One\cell\row\pard After.\par}"
    )
    assert extract_rtf(table).text == "Alice | First line Second line\nBob | One\n\nAfter."


def test_what_is_not_text_stays_out() -> None:
    # List bullets and numbers (a symbol font's byte, LibreOffice's private-use bullet), a
    # TextEdit attachment and its mark, tracked deletions, nested tables' fallback copy.
    rtf = (
        rb"{\rtf1{\fonttbl{\f10\fnil\fcharset2 Wingdings;}}"
        rb"{\listtext\f10 \'fc\tab}done\par{\listtext \u61623\'3f\tab}item\par"
        rb"\s1\outlinelevel0{\listtext\pard\plain 1.\tab}Introduction\par\pard "
        rb"x{\f10 \'d8}y{{\NeXTGraphic Pasted Graphic 3.tiff \width4000}\'ac}z\par "
        rb"kept{\deleted  removed words} text{\nonesttables fallback words\par}\par}"
    )
    located = extract_rtf(rtf)
    assert located.text == "done\n\nitem\n\nIntroduction\n\nxyz\n\nkept text"
    assert located.spans[0].section == "Introduction"


def test_unicode_copies_double_byte_text_and_damaged_numbers() -> None:
    # The \upr pair's Unicode copy, in the title too.
    upr = (
        rb"{\rtf1{\info{\upr{\title ??}{\*\ud{\title \u26085\'3f\u26412\'3f}}}}"
        rb"{\upr{Resume ANSI}{\*\ud{R\u233 ?sum\u233 ?}}}\par}"
    )
    located = extract_rtf(upr)
    assert (located.title, located.text) == ("\u65e5\u672c", "R\u00e9sum\u00e9")
    # Shift-JIS and Big5 second bytes written as ASCII characters (0x5C as \\).
    assert extract_rtf(rb"{\rtf1\ansi\ansicpg932 \'83e\'83X\'83g \'95\\}").text == (
        "\u30c6\u30b9\u30c8 \u8868"
    )
    assert extract_rtf(rb"{\rtf1\ansi\ansicpg950 \'a5@}").text == "\u4e16"
    # A \u out of a signed 16-bit number's range costs one character, not the file.
    assert extract_rtf(rb"{\rtf1 a \u9999999? b \u-70000?c}").text == "a \ufffd b \ufffdc"
    # Breaks that separate words.
    assert extract_rtf(rb"{\rtf1 col\column start a\softline b}").text == "col\nstart a\nb"


def test_headings_by_a_style_based_on_a_heading_style() -> None:
    rtf = (
        rb"{\rtf1{\stylesheet{\s1\outlinelevel0 heading 1;}{\s20\sbasedon1 My Heading;}"
        rb"{\s21\sbasedon20 Deeper;}}\pard\s21 Top\par\pard Body\par}"
    )
    located = extract_rtf(rtf)
    assert [(span.start_char, span.section) for span in located.spans] == [(0, "Top")]


def test_reading_stops_at_the_time_bound_and_keeps_the_text_before(caplog) -> None:
    rtf = b"{\\rtf1 " + b"word\\par " * 10_000 + b"}"
    with caplog.at_level(logging.WARNING):
        located = extract_rtf(rtf, name="huge.rtf", max_seconds=0)
    assert 0 < located.text.count("word") < 10_000
    assert "huge.rtf: reading stopped after 0 s (MAX_RTF_SECONDS)" in caplog.text
