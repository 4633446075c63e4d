"""CSV and TSV files: their text as it is, each row under its header's column names."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchapp.ingest.decoding import load_documents
from searchapp.ingest.formats.delimited import MAX_SECTION_CHARS, extract_delimited, is_delimited
from searchapp.ingest.formats.spans import Span
from tests.searchapp.ingest.test_pipeline import make_index


@pytest.mark.parametrize(
    ("suffix", "text", "section"),
    [
        (
            ".csv",
            "donor_id,name,amount,date\nD1047,Ada Byrne,520.00,2024-03-04\n",
            "donor_id, name, amount, date",
        ),
        (
            ".tsv",
            "response_id\tsite\tcomment\nR5000\tNorth Depot\tLine moved slowly\n",
            "response_id, site, comment",
        ),
        # a European export: ";" between, "," in its amounts; a byte order mark before it
        (
            ".csv",
            "\ufeffName;Straße;Betrag\nJürgen Müller;Hauptstraße 5;1.250,00\n",
            "Name, Straße, Betrag",
        ),
        (
            ".csv",
            '"Case id","Summary, short"\nC-817,"Tenant\n\nthreatened"\n',
            "Case id, Summary, short",
        ),
        (".psv", "a|b\n1|2\n", "a, b"),
        # all text below it, yet its names are a column's (`id`, `_`) or codes of one length
        (".csv", "Vorname,Land\nAda,GB\nGrace,FR\nAlan,GB\n", "Vorname, Land"),
        (".csv", "full_name,city\nAda Byrne,London\nGrace Hopper,Paris\n", "full_name, city"),
    ],
)
def test_a_header_names_the_section_of_every_row(suffix, text, section) -> None:
    read = extract_delimited(text, suffix)
    assert read.text == text  # as it is: a hit's line is the file's
    assert read.spans == (Span(0, section=section),)


@pytest.mark.parametrize(
    "text",
    [
        "SKU-3000,baby formula,North Depot,22,2025-02-28,expired\n",  # data: numbers, a date
        "id,name,id\n1,a,2\n",  # two columns alike
        "name,,amount\nx,y,1\n",  # an empty name
        "just one column\nvalue\n",
        '"an open quote,name\nx,y\n',
        "2024-01-01,2024-01-02\n",
        # A list of names and places: its first row names no columns (a reviewer's: it was
        # the section of every other row).
        "Ada Byrne,London,teacher\nGrace Hopper,New York,admiral\nAlan Turing,Wilmslow,don\n",
        '"id","long\nname","x"\n1,2,3\n',  # a name running past its line
    ],
)
def test_a_first_line_that_is_data_names_no_section(text) -> None:
    assert extract_delimited(text, ".csv").spans == ()


def test_many_columns_are_cut_after_a_whole_name() -> None:
    names = [f"column_number_{n}" for n in range(40)]
    [span] = extract_delimited(",".join(names) + "\n" + ",".join("1" * 40) + "\n", ".csv").spans
    assert span.section is not None and len(span.section) <= MAX_SECTION_CHARS + 3
    assert span.section.startswith("column_number_0, column_number_1,")
    assert span.section.endswith(", …") and "column_number_39" not in span.section


def test_csv_files_are_read_so_and_their_names_told(tmp_path: Path) -> None:
    path = tmp_path / "donations.csv"
    path.write_text("donor_id,amount\nD1,5\n")
    [document] = load_documents(path)
    assert document.spans == (Span(0, section="donor_id, amount"),)
    assert is_delimited("/d/x.CSV") and is_delimited("/d/x.tsv.gz") and not is_delimited("/d/x.md")


def test_a_row_holding_the_query_words_is_the_hit_line_with_its_columns(tmp_path: Path) -> None:
    # A data analyst's hits named the header (line 1) for a column's name, and showed rows
    # without the names of their columns.
    docs = tmp_path / "data"
    docs.mkdir()
    rows = [f"H{n},Arabic,N,none" for n in range(6)] + ["H6,Somali,Y,interpreter booked"]
    (docs / "households.csv").write_text(
        "household_id,language,interpreter,notes\n" + "\n".join(rows) + "\n"
    )
    index = make_index(tmp_path / "idx")
    index.add([docs])
    [hit] = index.search("interpreter booked", k=1, mode="lexical")
    assert (hit.line, hit.section) == (8, "household_id, language, interpreter, notes")
    [hit] = index.search("household_id", k=1, mode="lexical")
    assert hit.line == 1  # a name only the header holds: the header


def test_a_csv_hit_prints_its_row_alone_as_grep_would(tmp_path: Path) -> None:
    # A data analyst's: a hit was its row and the next ones run together on one line, which
    # awk -F, counted 19 fields of; a TSV's tabs were spaces.
    from searchapp.interfaces.render import hit_line
    from searchapp.ranking.selection import Hit

    text = "R1\tNorth\tkind staff\nR2\tOld Town\twas rude to my mother\nR3\tRiverside\tok"
    hit = Hit(1, 0.8, 0.8, "/d/s.tsv", "/d/s.tsv", 1, 10, 12, text, line=11)
    assert hit_line(hit, "rude").endswith("0.800  R2\tOld Town\twas rude to my mother")
    plain = Hit(1, 0.8, 0.8, "/d/s.txt", "/d/s.txt", 1, 10, 12, text, line=11)
    assert hit_line(plain, "rude").endswith("was rude to my mother R3 Riverside ok")
