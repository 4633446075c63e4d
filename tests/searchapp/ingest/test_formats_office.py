"""Word (written by python-docx, and by hand for the corners), PowerPoint and OpenDocument text
(assembled as zip files here), and the zip limits that guard them."""

from __future__ import annotations

import io
import posixpath
import struct
import zipfile
from pathlib import Path

import docx
import pytest

from searchapp.ingest.decoding import NotTextError, load_documents
from searchapp.ingest.formats.dispatch import OLE2_MAGIC
from searchapp.ingest.formats.safe_zip import SafeZip, ZipLimits
from searchapp.ingest.formats.spans import Span, locate

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
OFFICE_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
WORD_MAIN = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
PPT_MAIN = "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"


def zip_bytes(members: dict[str, bytes | str], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def load(tmp_path: Path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return load_documents(path)


# -- Word ---------------------------------------------------------------------------------------


def python_docx_file(*, core_title: str = "Field Guide") -> bytes:
    document = docx.Document()
    document.core_properties.title = core_title
    document.add_heading("The Title Paragraph", level=0)  # the Title style
    document.add_heading("Install", level=1)
    document.add_paragraph("Intro text.")
    document.add_heading("Linux", level=2)
    document.add_paragraph("first\tsecond\nthird line")
    table = document.add_table(rows=2, cols=2)
    for (row, column), text in {(0, 0): "a", (0, 1): "b", (1, 0): "c", (1, 1): "d"}.items():
        table.cell(row, column).text = text
    document.add_heading("Usage", level=1)
    document.add_paragraph("run it")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_headings_and_tables_in_reading_order(tmp_path: Path) -> None:
    [document] = load(tmp_path, "guide.docx", python_docx_file())
    assert document.title == "Field Guide"
    assert document.text == (
        "The Title Paragraph\n\nInstall\n\nIntro text.\n\nLinux\n\nfirst\tsecond\nthird line"
        "\n\na | b\nc | d\n\nUsage\n\nrun it"
    )
    text = document.text
    assert document.spans == (
        Span(text.index("Install"), section="Install"),
        Span(text.index("Linux"), section="Install > Linux"),
        Span(text.index("Usage"), section="Usage"),
    )
    assert locate(document.spans, text.index("The Title")) == (None, None)
    assert locate(document.spans, text.index("Intro")) == (None, "Install")
    assert locate(document.spans, text.index("c | d")) == (None, "Install > Linux")
    assert locate(document.spans, text.index("run it")) == (None, "Usage")


def test_docx_headers_footers_and_footnotes_are_read_after_the_body(tmp_path: Path) -> None:
    # A name written only in a header ("Nightingale") was found by no query.
    document = docx.Document()
    document.add_paragraph("The body text.")
    section = document.sections[0]
    section.header.paragraphs[0].text = "Nightingale Project"
    section.footer.paragraphs[0].text = "Confidential, marmoset team"
    section.different_first_page_header_footer = True
    section.first_page_header.paragraphs[0].text = "Nightingale Project"  # the same: once
    buffer = io.BytesIO()
    document.save(buffer)
    [read] = load(tmp_path, "report.docx", buffer.getvalue())
    assert read.text == "The body text.\n\nNightingale Project\n\nConfidential, marmoset team"
    assert [span.section for span in read.spans] == ["header", "footer"]
    # Footnotes, without the separator lines Word writes as footnotes of their own.
    notes = (
        f'<w:footnotes xmlns:w="{W_NS}">'
        '<w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p>'
        f'</w:footnote><w:footnote w:id="1">{para("Source: the okapi survey.")}</w:footnote>'
        f'<w:footnote w:id="2">{para("Id. at 5.")}</w:footnote></w:footnotes>'
    )
    package = word_package(para("Body."))
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["word/footnotes.xml"] = notes
    # A footer's page fields as last saved ("Page 6 of 6") are not text; other fields' are.
    field = (
        '<w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText> {} </w:instrText>'
        '</w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>{}</w:t></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
    )
    members["word/footer1.xml"] = (
        f'<w:ftr xmlns:w="{W_NS}"><w:p><w:r><w:t xml:space="preserve">Page </w:t></w:r>'
        + field.format("PAGE \\* MERGEFORMAT", "6")
        + '<w:r><w:t xml:space="preserve"> of </w:t></w:r>'
        + '<w:fldSimple w:instr=" NUMPAGES "><w:r><w:t>6</w:t></w:r></w:fldSimple></w:p>'
        + "<w:p>"
        + field.format('HYPERLINK "https://x.org"', "the okapi site")
        + "<w:r><w:t>, page 2</w:t></w:r></w:p>"
        # ...and the words around them go with them (a paralegal's "Northwind MSA Page of"
        # was the first hit for "Northwind"); a footer's own words are kept.
        + '<w:p><w:r><w:t xml:space="preserve">Northwind MSA\tPage </w:t></w:r>'
        + field.format("PAGE", "3")
        + '<w:r><w:t xml:space="preserve"> of </w:t></w:r>'
        + field.format("NUMPAGES", "9")
        + "</w:p></w:ftr>"
    )
    members["word/_rels/document.xml.rels"] = (
        f'<Relationships xmlns="{RELS_NS}"><Relationship Id="rId9" '
        f'Type="{OFFICE_RELS}/footnotes" Target="footnotes.xml"/><Relationship Id="rId8" '
        f'Type="{OFFICE_RELS}/footer" Target="footer1.xml"/></Relationships>'
    )
    [read] = load(tmp_path, "noted.docx", zip_bytes(members))
    assert read.text == (
        "Body.\n\nthe okapi site, page 2\n\nNorthwind MSA\n\nSource: the okapi survey.\n\nId. at 5."
    )
    assert [span.section for span in read.spans][-2:] == ["footer", "footnotes"]


def test_docx_title_comes_from_the_title_style_without_core_properties(tmp_path: Path) -> None:
    [document] = load(tmp_path, "guide.docx", python_docx_file(core_title=""))
    assert document.title == "The Title Paragraph"


def word_package(
    body: str, *, styles: str = "", name: str = "word/document.xml", prolog: str = ""
) -> bytes:
    """A minimal Word package with ``body`` inside ``w:body``; the main part may be renamed (its
    relationships then lead to the styles)."""
    folder, base = posixpath.split(name)
    members: dict[str, bytes | str] = {
        "[Content_Types].xml": (
            f'<Types xmlns="{CONTENT_TYPES_NS}">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/{name}" ContentType="{WORD_MAIN}"/></Types>'
        ),
        "_rels/.rels": (
            f'<Relationships xmlns="{RELS_NS}"><Relationship Id="rId1" '
            f'Type="{OFFICE_RELS}/officeDocument" Target="{name}"/></Relationships>'
        ),
        name: (
            f'{prolog}<w:document xmlns:w="{W_NS}" '
            'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
            f"<w:body>{body}</w:body></w:document>"
        ),
    }
    if styles:
        members["word/styles.xml"] = f'<w:styles xmlns:w="{W_NS}">{styles}</w:styles>'
        members[f"{folder}/_rels/{base}.rels"] = (
            f'<Relationships xmlns="{RELS_NS}"><Relationship Id="rId1" Type="{OFFICE_RELS}/styles" '
            f'Target="{posixpath.relpath("word/styles.xml", folder)}"/></Relationships>'
        )
    return zip_bytes(members)


def para(text: str, style: str = "", extra: str = "") -> str:
    properties = f'<w:pPr><w:pStyle w:val="{style}"/></w:pPr>' if style else ""
    return f'<w:p>{properties}{extra}<w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'


def test_docx_numbered_paragraphs_begin_with_the_number_word_shows(tmp_path: Path) -> None:
    # A contract's clause numbers are Word's, in no w:t: "12.3 Termination" was read as
    # "Termination", and `-F 2.2` found no clause of the template (a paralegal's trial).
    python_made = docx.Document()  # its template's List Number style, linked to a list
    for text in ("first item", "second item", "third item"):
        python_made.add_paragraph(text, style="List Number")
    python_made.add_paragraph("a bullet", style="List Bullet")
    buffer = io.BytesIO()
    python_made.save(buffer)
    [listed] = load(tmp_path, "list.docx", buffer.getvalue())
    assert listed.text == "1. first item\n\n2. second item\n\n3. third item\n\na bullet"
    # A damaged numbering part (a reviewer's): the text without numbers, not a skipped file.
    damaged = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(damaged, "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            target.writestr(
                item, b"<w:numbering" if item.filename.endswith("numbering.xml") else data
            )
    [unnumbered] = load(tmp_path, "damaged.docx", damaged.getvalue())
    assert unnumbered.text == "first item\n\nsecond item\n\nthird item\n\na bullet"

    def level(n: int, fmt: str, text: str, extra: str = "") -> str:
        return (
            f'<w:lvl w:ilvl="{n}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>{extra}'
            f'<w:lvlText w:val="{text}"/></w:lvl>'
        )

    numbering = (
        f'<w:numbering xmlns:w="{W_NS}">'
        '<w:abstractNum w:abstractNumId="10">'
        + level(0, "decimal", "%1.")
        + level(1, "decimal", "%1.%2")
        + level(2, "lowerLetter", "(%3)")
        + '</w:abstractNum><w:abstractNum w:abstractNumId="20">'
        + level(0, "upperRoman", "Article %1")
        + level(1, "lowerRoman", "%1.%2", "<w:isLgl/>")
        + "</w:abstractNum>"
        '<w:num w:numId="1"><w:abstractNumId w:val="10"/></w:num>'
        '<w:num w:numId="2"><w:abstractNumId w:val="20"/></w:num>'
        '<w:num w:numId="3"><w:abstractNumId w:val="20"/>'
        '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="5"/></w:lvlOverride></w:num>'
        '<w:num w:numId="4"><w:abstractNumId w:val="20"/>'
        '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="3"/></w:lvlOverride></w:num>'
        "</w:numbering>"
    )
    styles = (
        '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/>'
        '<w:pPr><w:numPr><w:numId w:val="1"/></w:numPr><w:outlineLvl w:val="0"/></w:pPr>'
        '</w:style><w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/>'
        '<w:pPr><w:numPr><w:ilvl w:val="1"/><w:numId w:val="1"/></w:numPr>'
        '<w:outlineLvl w:val="1"/></w:pPr></w:style>'
        # A style based on a numbered one is numbered as it is.
        '<w:style w:type="paragraph" w:styleId="Clause"><w:name w:val="Clause"/>'
        '<w:basedOn w:val="Heading2"/></w:style>'
    )

    def numbered(text: str, num: int, ilvl: int) -> str:
        own = f'<w:numPr><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num}"/></w:numPr>'
        return f'<w:p><w:pPr>{own}</w:pPr><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'

    body = (
        para("Services", "Heading1")
        + para("Scope", "Heading2")
        + para("Standards", "Clause")
        + numbered("promptly;", 1, 2)
        + numbered("", 1, 2)  # empty: counted, as Word shows its number, and not written
        + numbered("in good faith.", 1, 2)
        + para("Payment", "Heading1")
        + para("Invoices", "Heading2")
        # numId 0 takes the style's numbering off this one heading
        + '<w:p><w:pPr><w:pStyle w:val="Heading1"/><w:numPr><w:numId w:val="0"/></w:numPr>'
        "</w:pPr><w:r><w:t>Schedule</w:t></w:r></w:p>"
        + numbered("Definitions", 2, 0)
        + numbered("Terms", 2, 1)
        + numbered("Termination", 3, 0)  # an instance starting again at V
        # ...and one at III whose first paragraph is a level below (a reviewer's: "2.1")
        + numbered("Fees", 4, 1)
        + numbered("Notices", 4, 0)
    )
    package = word_package(body, styles=styles)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["word/numbering.xml"] = numbering
    [document] = load(tmp_path, "msa.docx", zip_bytes(members))
    assert document.text.split("\n\n") == [
        "1. Services",
        "1.1 Scope",
        "1.2 Standards",
        "(a) promptly;",
        "(c) in good faith.",
        "2. Payment",
        "2.1 Invoices",
        "Schedule",
        "Article I Definitions",
        "1.1 Terms",  # isLgl: every level in decimal
        "Article V Termination",
        "3.1 Fees",
        "Article III Notices",
    ]
    assert [span.section for span in document.spans][:3] == [
        "1. Services",
        "1. Services > 1.1 Scope",
        "1. Services > 1.2 Standards",
    ]


def test_docx_numbers_count_table_cells_and_lists_defined_by_styles(tmp_path: Path) -> None:
    # A reviewer's: a numbered paragraph in a table cell was not counted (Word shows "2. Fees"
    # in it and "3. Termination" after it); a list a style defines (`w:numStyleLink`, law
    # firms' templates) numbered nothing; a start of 10**9 in letters was 1.9 GB of text.
    numbering = (
        f'<w:numbering xmlns:w="{W_NS}">'
        '<w:abstractNum w:abstractNumId="1"><w:lvl w:ilvl="0"><w:start w:val="1"/>'
        '<w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl></w:abstractNum>'
        '<w:abstractNum w:abstractNumId="2"><w:numStyleLink w:val="LegalList"/></w:abstractNum>'
        '<w:abstractNum w:abstractNumId="3"><w:lvl w:ilvl="0"><w:start w:val="1000000000"/>'
        '<w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%1)"/></w:lvl></w:abstractNum>'
        '<w:num w:numId="1"><w:abstractNumId w:val="1"/></w:num>'
        '<w:num w:numId="2"><w:abstractNumId w:val="2"/></w:num>'
        '<w:num w:numId="3"><w:abstractNumId w:val="3"/></w:num>'
        "</w:numbering>"
    )
    styles = (
        '<w:style w:type="numbering" w:styleId="LegalList"><w:name w:val="Legal List"/>'
        '<w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style>'
        '<w:style w:type="paragraph" w:styleId="LegalList"><w:name w:val="Legal List"/>'
        '<w:pPr><w:numPr><w:numId w:val="1"/></w:numPr></w:pPr></w:style>'
    )

    def numbered(text: str, num: int) -> str:
        own = f'<w:numPr><w:ilvl w:val="0"/><w:numId w:val="{num}"/></w:numPr>'
        return f'<w:p><w:pPr>{own}</w:pPr><w:r><w:t xml:space="preserve">{text}</w:t></w:r></w:p>'

    table = (
        f"<w:tbl><w:tr><w:tc>{numbered('Fees', 1)}</w:tc><w:tc>{para('EUR 500')}</w:tc>"
        "</w:tr></w:tbl>"
    )
    body = (
        numbered("Definitions", 1)
        + table
        + numbered("Termination", 1)
        + numbered("Notices", 2)  # by the style's list: its fourth
        + numbered("huge", 3)
    )
    package = word_package(body, styles=styles)
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["word/numbering.xml"] = numbering
    [document] = load(tmp_path, "terms.docx", zip_bytes(members))
    paragraphs = document.text.split("\n\n")
    assert paragraphs[:4] == ["1. Definitions", "2. Fees | EUR 500", "3. Termination", "4. Notices"]
    assert len(paragraphs[4]) < 2_000 and paragraphs[4].endswith(") huge")


def test_a_cell_merged_with_the_one_above_reads_as_it(tmp_path: Path) -> None:
    # A fee schedule's "| Data room review | $3,500" lost its "Phase 1" (merged down).
    def cell(text: str, merge: str | None = None, span: int = 1) -> str:
        properties = (f'<w:gridSpan w:val="{span}"/>' if span > 1 else "") + (
            "<w:vMerge/>"
            if merge == "continue"
            else f'<w:vMerge w:val="{merge}"/>'
            if merge
            else ""
        )
        return f"<w:tc><w:tcPr>{properties}</w:tcPr>{para(text)}</w:tc>"

    rows = [
        cell("Fees", span=2) + cell("Amount"),
        cell("Phase 1", "restart") + cell("Contract review") + cell("$2,000"),
        cell("", "continue") + cell("Data room review") + cell("$3,500"),
        cell("Phase 2") + cell("Closing") + cell("$1,000"),
    ]
    table = "<w:tbl>" + "".join(f"<w:tr>{row}</w:tr>" for row in rows) + "</w:tbl>"
    [document] = load(tmp_path, "fees.docx", word_package(table))
    assert document.text.split("\n") == [
        "Fees | Amount",
        "Phase 1 | Contract review | $2,000",
        "Phase 1 | Data room review | $3,500",
        "Phase 2 | Closing | $1,000",
    ]


def test_word_and_generated_go_files_are_read_again_after_schema_21(tmp_path, monkeypatch) -> None:
    docs = tmp_path / "contracts"
    docs.mkdir()
    (docs / "msa.docx").write_bytes(word_package(para("Services")))
    (docs / "note.txt").write_text("A note.\n")
    (docs / "main.go").write_text("package main\n\nfunc main() {}\n")
    (docs / "fees.csv").write_text("phase,fee\nreview,3500\n")
    (docs / "mock.go").write_text("// Code generated by MockGen. DO NOT EDIT.\n\npackage m\n")
    from searchapp.ingest import reading
    from searchapp.storage import schema
    from tests.searchapp.ingest.test_pipeline import make_index

    with monkeypatch.context() as before:  # a searchapp of 20 that indexed generated Go files
        before.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:20])
        before.setattr(reading, "go_generated", lambda text: False)
        index = make_index(tmp_path / "idx")
        assert index.add([docs]).added == 5
        index.close()
    index = make_index(tmp_path / "idx")
    report = index.add([docs])
    assert (report.updated, report.unchanged) == (2, 2)  # Word's, the CSV; not main.go
    assert [Path(path).name for path, _ in report.skipped] == ["mock.go"]
    assert str(docs / "mock.go") not in index.store.all_paths()


def test_docx_corners_written_by_hand(tmp_path: Path) -> None:
    styles = (
        # A localised heading style: known by its outline level, not its name.
        '<w:style w:type="paragraph" w:styleId="berschrift1"><w:name w:val="Überschrift 1"/>'
        '<w:pPr><w:outlineLvl w:val="0"/></w:pPr></w:style>'
        # A custom style based on it inherits the level.
        '<w:style w:type="paragraph" w:styleId="Chapter"><w:name w:val="Chapter"/>'
        '<w:basedOn w:val="berschrift1"/></w:style>'
    )
    body = (
        para("Kapitel", "berschrift1")
        + para("Chapter Two", "Chapter")
        # A paragraph with its own outline level: a level-2 heading.
        + '<w:p><w:pPr><w:outlineLvl w:val="1"/></w:pPr><w:r><w:t>Part A</w:t></w:r></w:p>'
        # Tracked changes: the insertion is read, the deletion is not; field codes are not text.
        + "<w:p><w:ins><w:r><w:t>kept</w:t></w:r></w:ins><w:del><w:r><w:delText>gone"
        "</w:delText></w:r></w:del><w:r><w:instrText>PAGE</w:instrText></w:r>"
        "<w:moveFrom><w:r><w:t>moved away</w:t></w:r></w:moveFrom></w:p>"
        # A content control around a paragraph; a drawing with a fallback copy of its text.
        + f"<w:sdt><w:sdtContent>{para('in a control')}</w:sdtContent></w:sdt>"
        + '<w:p><w:r><mc:AlternateContent><mc:Choice Requires="wps"><w:t>boxed</w:t>'
        "</mc:Choice><mc:Fallback><w:t>boxed</w:t></mc:Fallback></mc:AlternateContent></w:r></w:p>"
    )
    [document] = load(tmp_path, "renamed.bin", word_package(body, styles=styles, name="w/main.xml"))
    assert document.text == "Kapitel\n\nChapter Two\n\nPart A\n\nkept\n\nin a control\n\nboxed"
    assert [span.section for span in document.spans] == [
        "Kapitel",
        "Chapter Two",
        "Chapter Two > Part A",
    ]


def test_docx_hidden_text_is_not_read(tmp_path: Path) -> None:
    # Text Word hides (w:vanish: shown only with formatting marks on, never printed) was
    # indexed as the rest; a vanish turned off is text.
    body = (
        '<w:p><w:r><w:t xml:space="preserve">shown </w:t></w:r>'
        "<w:r><w:rPr><w:vanish/></w:rPr><w:t>hiddentextword</w:t></w:r>"
        '<w:r><w:rPr><w:vanish w:val="0"/></w:rPr><w:t>visible</w:t></w:r></w:p>'
    )
    [document] = load(tmp_path, "hidden.docx", word_package(body))
    assert document.text == "shown visible"


def test_docx_words_either_side_of_a_box_or_a_margin_tab_stay_apart(tmp_path: Path) -> None:
    # A positional tab and a text box's last paragraph glued words together ("InvoiceTotal",
    # "puffins.After the box."); ruby text came before the word it reads (とうきょう東京).
    body = (
        "<w:p><w:r><w:t>Invoice</w:t><w:ptab/><w:t>Total</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Before the box.</w:t><mc:AlternateContent><mc:Choice Requires='wps'>"
        "<w:txbxContent><w:p><w:r><w:t>Textbox line about puffins.</w:t></w:r></w:p>"
        "<w:p><w:r><w:t>Second box line.</w:t></w:r></w:p></w:txbxContent></mc:Choice>"
        "</mc:AlternateContent><w:t>After the box.</w:t></w:r></w:p>"
        "<w:p><w:r><w:ruby><w:rt><w:r><w:t>とうきょう</w:t></w:r></w:rt><w:rubyBase><w:r>"
        "<w:t>東京</w:t></w:r></w:rubyBase></w:ruby></w:r></w:p>"
    )
    [document] = load(tmp_path, "boxes.docx", word_package(body))
    assert document.text == (
        "Invoice\tTotal\n\nBefore the box.\nTextbox line about puffins.\nSecond box line."
        "\nAfter the box.\n\n東京"
    )


def test_docx_without_a_styles_part_knows_words_builtin_heading_ids(tmp_path: Path) -> None:
    # Generated files often carry no styles.xml: Word's ids for its built-in styles are their
    # names. A style the styles part defines is read from it, whatever its id says.
    body = para("Handbook", "Title") + para("Travel", "Heading1") + para("Hotels", "Heading2")
    body += para("Book early.") + para("Meals", "heading 2") + para("Keep receipts.")
    [document] = load(tmp_path, "generated.docx", word_package(body))
    assert document.title == "Handbook"
    assert [span.section for span in document.spans] == [
        "Travel",
        "Travel > Hotels",
        "Travel > Meals",
    ]
    styles = '<w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="Note"/></w:style>'
    [document] = load(tmp_path, "styled.docx", word_package(para("a", "Heading1"), styles=styles))
    assert [span.section for span in document.spans] == []


def test_spreadsheets_and_old_office_files_are_named_others_stay_binary(tmp_path: Path) -> None:
    # A workbook was skipped as "binary file", which it is not.
    xlsx = zip_bytes(
        {
            "[Content_Types].xml": f'<Types xmlns="{CONTENT_TYPES_NS}"><Override '
            f'PartName="/xl/workbook.xml" ContentType="{XLSX_MAIN}"/></Types>',
            "_rels/.rels": f'<Relationships xmlns="{RELS_NS}"><Relationship Id="r" '
            f'Type="{OFFICE_RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
            "xl/workbook.xml": "<workbook/>",
        }
    )
    plain_zip = zip_bytes({"a.txt": "hello", "b.bin": bytes(range(256)) * 10})
    with pytest.raises(NotTextError, match=r"^Excel workbook \(\.xlsx\): not indexed; export"):
        load(tmp_path, "book.xlsx", xlsx)
    with pytest.raises(NotTextError, match="^binary file$"):
        load(tmp_path, "archive.zip", plain_zip)
    # LibreOffice's spreadsheet and Office 97-2003 files too; other compound files stay binary.
    ods = zip_bytes({"mimetype": "application/vnd.oasis.opendocument.spreadsheet"})
    with pytest.raises(NotTextError, match=r"^OpenDocument spreadsheet \(\.ods\): not indexed"):
        load(tmp_path, "sheet.ods", ods)
    ole2 = OLE2_MAGIC + bytes(range(256)) * 4
    with pytest.raises(NotTextError, match=r"^Word 97-2003 document \(\.doc\): not indexed"):
        load(tmp_path, "letter.doc", ole2)
    with pytest.raises(NotTextError, match=r"^Excel 97-2003 workbook \(\.xls\)"):
        load(tmp_path, "old.XLS", ole2)
    with pytest.raises(NotTextError, match="^binary file$"):
        load(tmp_path, "Thumbs.db", ole2)


# -- PowerPoint ---------------------------------------------------------------------------------

A_NS = "http://schemas.openxmlformats.org/drawingml/2006/main"
P_NS = "http://schemas.openxmlformats.org/presentationml/2006/main"


def slide(*paragraphs: str) -> str:
    shapes = "".join(
        f"<p:sp><p:txBody><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp>"
        for text in paragraphs
    )
    return (
        f'<p:sld xmlns:p="{P_NS}" xmlns:a="{A_NS}" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        f"<p:cSld><p:spTree>{shapes}"
        "<mc:AlternateContent><mc:Choice><p:sp><p:txBody><a:p><a:r><a:t>once</a:t></a:r>"
        "<a:br/><a:r><a:t>only</a:t></a:r></a:p></p:txBody></p:sp></mc:Choice><mc:Fallback>"
        "<p:sp><p:txBody><a:p><a:r><a:t>once</a:t></a:r></a:p></p:txBody></p:sp></mc:Fallback>"
        "</mc:AlternateContent></p:spTree></p:cSld></p:sld>"
    )


def pptx_file() -> bytes:
    # The slide files are named against the presentation order, which must win.
    return zip_bytes(
        {
            "[Content_Types].xml": f'<Types xmlns="{CONTENT_TYPES_NS}"><Override '
            f'PartName="/ppt/presentation.xml" ContentType="{PPT_MAIN}"/></Types>',
            "_rels/.rels": f'<Relationships xmlns="{RELS_NS}">'
            f'<Relationship Id="r1" Type="{OFFICE_RELS}/officeDocument" '
            'Target="ppt/presentation.xml"/>'
            '<Relationship Id="r2" Type="http://schemas.openxmlformats.org/package/2006/'
            'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            "</Relationships>",
            "docProps/core.xml": '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/'
            'package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<dc:title>Quarterly Review</dc:title></cp:coreProperties>",
            "ppt/presentation.xml": f'<p:presentation xmlns:p="{P_NS}" xmlns:r="{OFFICE_RELS}">'
            '<p:sldIdLst><p:sldId id="256" r:id="rIdB"/><p:sldId id="257" r:id="rIdA"/>'
            "</p:sldIdLst></p:presentation>",
            "ppt/_rels/presentation.xml.rels": f'<Relationships xmlns="{RELS_NS}">'
            f'<Relationship Id="rIdA" Type="{OFFICE_RELS}/slide" Target="slides/slide1.xml"/>'
            f'<Relationship Id="rIdB" Type="{OFFICE_RELS}/slide" Target="slides/slide2.xml"/>'
            "</Relationships>",
            "ppt/slides/slide1.xml": slide("Results", "Revenue grew"),
            "ppt/slides/slide2.xml": slide("Agenda"),
        }
    )


def test_pptx_slides_in_presentation_order(tmp_path: Path) -> None:
    [document] = load(tmp_path, "deck.pptx", pptx_file())
    assert document.title == "Quarterly Review"
    assert document.text == "Agenda\nonce\nonly\n\nResults\nRevenue grew\nonce\nonly"
    assert document.spans == (
        Span(0, section="slide 1"),
        Span(document.text.index("Results"), section="slide 2"),
    )


# -- OpenDocument ---------------------------------------------------------------------------------

ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


def odt_file() -> bytes:
    content = (
        f"<office:document-content {ODF_NS}><office:body><office:text>"
        "<text:sequence-decls><text:sequence-decl text:name='Figure'/></text:sequence-decls>"
        '<text:h text:outline-level="1">Install</text:h>'
        "<text:p>Three<text:s text:c='3'/>spaces and <text:span>a span</text:span>"
        "<text:note><text:note-body><text:p>a footnote</text:p></text:note-body></text:note>"
        ".</text:p>"
        '<text:h text:outline-level="2">Linux</text:h>'
        "<text:list><text:list-item><text:p>apt</text:p></text:list-item>"
        "<text:list-item><text:p>dnf</text:p></text:list-item></text:list>"
        "<table:table><table:table-row><table:table-cell><text:p>a</text:p><text:p>a2</text:p>"
        "</table:table-cell><table:table-cell><text:p>b</text:p></table:table-cell>"
        "</table:table-row></table:table>"
        "</office:text></office:body></office:document-content>"
    )
    meta = (
        f"<office:document-meta {ODF_NS}><office:meta><dc:title>Notes</dc:title></office:meta>"
        "</office:document-meta>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")  # stored, first
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        archive.writestr("meta.xml", meta, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def odt_package(content: str, styles: str = "") -> bytes:
    """An OpenDocument text file of this content.xml (and styles.xml)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")  # stored, first
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
        if styles:
            archive.writestr("styles.xml", styles, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def test_odt_headings_paragraphs_lists_and_tables(tmp_path: Path) -> None:
    [document] = load(tmp_path, "notes.odt", odt_file())
    assert document.title == "Notes"
    assert document.text == (
        "Install\n\nThree   spaces and a span.\n\nLinux\n\napt\n\ndnf\n\na a2 | b\n\na footnote"
    )
    assert document.spans == (
        Span(0, section="Install"),
        Span(document.text.index("Linux"), section="Install > Linux"),
        Span(document.text.index("a footnote"), section="footnotes"),
    )


def test_odt_text_boxes_in_a_paragraph_headers_footers_and_notes(tmp_path: Path) -> None:
    # A box anchored in a paragraph was glued to its first word ("clubJoin"); the page styles'
    # headers and footers and the footnotes were not read, as they are for .docx.
    draw = 'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"'
    style = 'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"'
    content = (
        f"<office:document-content {ODF_NS} {draw}><office:body><office:text>"
        '<text:p><draw:frame text:anchor-type="paragraph"><draw:text-box>'
        "<text:p>Prizes from the football club</text:p></draw:text-box></draw:frame>"
        "Join us on the green<text:note><text:note-citation>1</text:note-citation>"
        "<text:note-body><text:p>On Saturday.</text:p></text:note-body></text:note>.</text:p>"
        "<text:p>This report has <text:page-count>12</text:page-count> pages<text:note>"
        "<text:note-body><text:p>Id. at 5.<draw:frame><draw:text-box><text:p>Boxed note"
        "</text:p></draw:text-box></draw:frame></text:p></text:note-body></text:note>.</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    styles = (
        f"<office:document-styles {ODF_NS} {style}><office:master-styles>"
        "<style:master-page><style:header><text:p>Northfield Trust</text:p></style:header>"
        "<style:header-left><text:p>Northfield Trust</text:p></style:header-left>"
        "<style:footer><text:p>Page <text:page-number>3</text:page-number> of "
        "<text:page-count>9</text:page-count></text:p></style:footer></style:master-page>"
        "</office:master-styles></office:document-styles>"
    )
    [document] = load(tmp_path, "flyer.odt", odt_package(content, styles))
    # A page count in the body is its text; a footnote's short text and its box are, once.
    assert document.text == (
        "Join us on the green.\n\nPrizes from the football club\n\nThis report has 12 pages."
        "\n\nNorthfield Trust\n\nOn Saturday.\n\nId. at 5.\nBoxed note"
    )
    assert [span.section for span in document.spans] == ["header", "footnotes"]


def test_odt_text_in_frames_numbered_paragraphs_and_index_titles_is_kept(tmp_path: Path) -> None:
    # Only paragraphs, headings, lists and tables were read: a text box anchored to the page
    # (a frame right under the body), a numbered paragraph and a contents' title were lost.
    draw = 'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"'
    content = (
        f"<office:document-content {ODF_NS} {draw}><office:body><office:text>"
        "<text:table-of-content><text:index-body><text:index-title>"
        "<text:p>Contents</text:p></text:index-title><text:p>Keeper 1</text:p>"
        "</text:index-body></text:table-of-content>"
        '<text:h text:outline-level="1">Keeper</text:h>'
        '<draw:frame text:anchor-type="page"><draw:text-box>'
        "<text:p>The lighthouse keeper salary.</text:p></draw:text-box></draw:frame>"
        "<text:numbered-paragraph><text:number>1.</text:number>"
        "<text:p>Spoke tension.</text:p></text:numbered-paragraph>"
        "<text:p>Normal paragraph.</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    [document] = load(tmp_path, "x.odt", odt_package(content))
    assert document.text == (
        "Contents\n\nKeeper 1\n\nKeeper\n\nThe lighthouse keeper salary.\n\n"
        "Spoke tension.\n\nNormal paragraph."
    )
    assert locate(document.spans, document.text.index("Spoke")) == (None, "Keeper")


# -- zip limits ---------------------------------------------------------------------------------


def test_a_member_that_would_inflate_too_far_is_a_skip(tmp_path: Path) -> None:
    """20 MB of one byte compresses ~1000:1: over the ratio limit, refused before inflating."""
    body = para("x" * 20_000_000)
    with pytest.raises(NotTextError, match=r"'word/document.xml' would inflate .* times"):
        load(tmp_path, "bomb.docx", word_package(body))


def test_a_member_that_claims_a_huge_size_is_refused_unread(tmp_path: Path) -> None:
    data = bytearray(word_package(para("small")))
    # Patch the central directory's "uncompressed size" of word/document.xml to 4 GB - 1.
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(b"word/document.xml"))
    struct.pack_into("<I", data, entry + 24, 0xFFFFFFFF)
    refused = r"would inflate to 4096.0 MiB \(more than the 128.0 MiB"
    with pytest.raises(NotTextError, match=refused):
        load(tmp_path, "liar.docx", bytes(data))


def test_a_member_that_inflates_past_its_declared_size_is_a_skip(tmp_path: Path) -> None:
    data = bytearray(word_package(para("y" * 50_000)))
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(b"word/document.xml"))
    struct.pack_into("<I", data, entry + 24, 1000)  # claims 1,000 bytes
    with pytest.raises(NotTextError, match="word/document.xml") as caught:
        load(tmp_path, "liar.docx", bytes(data))
    assert "damaged zip member" in str(caught.value)  # zipfile stops at 1,000 bytes: bad CRC


def test_safe_zip_limits() -> None:
    many = zip_bytes({f"m{n}": "x" for n in range(5)})
    crowded = SafeZip(many, limits=ZipLimits(max_members=4))  # opens: it may be no document
    with pytest.raises(NotTextError, match="zip archive with 5 members"):
        crowded.read("m0")
    archive = SafeZip(many, limits=ZipLimits(max_total_bytes=3))
    assert [archive.read(f"m{n}") for n in range(3)] == [b"x"] * 3
    with pytest.raises(NotTextError, match="'m3' inflates past"):
        archive.read("m3")  # the archive's budget is spent
    with pytest.raises(NotTextError, match="'nope' is missing"):
        archive.read("nope")
    with pytest.raises(ValueError, match=r"max_ratio \(0\) must be an integer >= 1"):
        ZipLimits(max_ratio=0)


def test_xml_of_millions_of_tags_is_refused_unparsed(tmp_path: Path, monkeypatch) -> None:
    # Within the zip limits, 129 MB of "<p/>" parsed into 30 million elements: 3.3 GB.
    from searchapp.ingest.formats import safe_zip

    monkeypatch.setattr(safe_zip, "MAX_XML_TAGS", 1000)
    assert "fits" in load(tmp_path, "fits.docx", word_package(para("fits") * 100))[0].text
    with pytest.raises(NotTextError, match=r"holds 1,4\d\d XML tags, past the 1,000"):
        load(tmp_path, "dense.docx", word_package(para("dense") * 100 + "<p/>" * 800))


def test_xml_with_entity_declarations_is_refused(tmp_path: Path) -> None:
    laughs = '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    data = word_package(para("&b;"), prolog=laughs)
    with pytest.raises(NotTextError, match="declares XML entities"):
        load(tmp_path, "laughs.docx", data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (word_package(para("text"))[:300], "damaged zip archive"),
        (word_package("<w:p>unclosed"), "damaged XML in 'word/document.xml'"),
        (word_package("", name="word/document.xml").replace(b"_rels/.rels", b"_rels/.relx"), ""),
    ],
)
def test_damaged_office_files_are_skips(tmp_path: Path, data: bytes, reason: str) -> None:
    if not reason:  # without package relationships the usual part name is still found
        assert load(tmp_path, "bare.docx", data)[0].text == ""
        return
    with pytest.raises(NotTextError, match=reason):
        load(tmp_path, "broken.docx", data)


def test_word_headings_alone_join_the_text_after_them(tmp_path: Path) -> None:
    # A reviewer's: a Word file's title, part and chapter headings (no "#" to tell them) were a
    # passage of headings alone, as a Markdown chapter's were, ahead of the scene they head.
    from tests.searchapp.conftest import FakeEncoder
    from tests.searchapp.ingest.test_pipeline import make_index

    document = docx.Document()
    document.add_heading("The Lighthouse Keeper: A Novel in Three Parts", level=1)
    document.add_heading("Part One: The Storm Over the Northern Sea", level=2)
    document.add_heading("Chapter 1: Arrival at the Lighthouse on the Cliff", level=3)
    document.add_paragraph(" ".join(f"scene{n}" for n in range(60)))
    docs = tmp_path / "docs"
    docs.mkdir()
    document.save(docs / "novel.docx")
    index = make_index(tmp_path / "idx", FakeEncoder(max_length=256))
    index.add([docs])
    [hit] = index.search("scene30", k=1, mode="lexical")
    assert hit.text.startswith("The Lighthouse Keeper") and "scene59" in hit.text


def test_pptx_footers_slide_numbers_and_dates_are_left_out(tmp_path: Path) -> None:
    # A student's trial: 10 of 11 hits of a deck named its footer as their line ("ME2310
    # Fluid Mechanics · Lecture 5 · 6"), written as a text box or as PowerPoint's own
    # footer, slide number and date placeholders.
    def placeholder(kind: str, text: str) -> str:
        return (
            f'<p:sp><p:nvSpPr><p:cNvPr id="9" name="{kind}"/><p:cNvSpPr/><p:nvPr>'
            f'<p:ph type="{kind}"/></p:nvPr></p:nvSpPr>'
            f"<p:txBody><a:p><a:r><a:t>{text}</a:t></a:r></a:p></p:txBody></p:sp>"
        )

    titles = ["Recap: continuity", "Derivation along a streamline", "Assumptions to learn"]
    slides = {}
    for n, title in enumerate(titles, start=1):
        footer = f"ME2310 Fluid Mechanics · Lecture 5: Bernoulli · {n}"
        furniture = placeholder("ftr", "Autumn 2026") + placeholder("sldNum", str(n))
        furniture += placeholder("dt", "02/10/2026")
        body = slide(title, f"Point {n} of the lecture", footer)
        slides[f"ppt/slides/slide{n}.xml"] = body.replace("</p:spTree>", furniture + "</p:spTree>")
    deck = zip_bytes(
        {
            "[Content_Types].xml": f'<Types xmlns="{CONTENT_TYPES_NS}"><Override '
            f'PartName="/ppt/presentation.xml" ContentType="{PPT_MAIN}"/></Types>',
            "_rels/.rels": f'<Relationships xmlns="{RELS_NS}">'
            f'<Relationship Id="r1" Type="{OFFICE_RELS}/officeDocument" '
            'Target="ppt/presentation.xml"/></Relationships>',
            "ppt/presentation.xml": f'<p:presentation xmlns:p="{P_NS}" xmlns:r="{OFFICE_RELS}">'
            "<p:sldIdLst>"
            + "".join(f'<p:sldId id="{255 + n}" r:id="rId{n}"/>' for n in range(1, 4))
            + "</p:sldIdLst></p:presentation>",
            "ppt/_rels/presentation.xml.rels": f'<Relationships xmlns="{RELS_NS}">'
            + "".join(
                f'<Relationship Id="rId{n}" Type="{OFFICE_RELS}/slide" '
                f'Target="slides/slide{n}.xml"/>'
                for n in range(1, 4)
            )
            + "</Relationships>",
            **slides,
        }
    )
    [document] = load(tmp_path, "lecture.pptx", deck)
    for gone in ("ME2310", "Autumn 2026", "02/10/2026"):
        assert gone not in document.text, gone
    assert all(title in document.text for title in titles)
    assert all(f"Point {n} of the lecture" in document.text for n in (1, 2, 3))


def test_pptx_titles_numbered_with_their_slides_stay() -> None:
    # A reviewer's: "Worked example 1/2/3" on slides 2-4 went as running heads, every copy.
    from searchapp.ingest.formats.pptx import _without_footers

    slides = ["Lecture 5"] + [
        f"Worked example {n}\nA pipe of case {n}\nME2310 · Lecture 5 · {n + 1}" for n in (1, 2, 3)
    ]
    assert _without_footers(slides) == ["Lecture 5"] + [
        f"Worked example {n}\nA pipe of case {n}" for n in (1, 2, 3)
    ]
