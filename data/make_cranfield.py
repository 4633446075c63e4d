"""Turn the Cranfield collection into BEIR files: corpus.jsonl, queries.jsonl, qrels/test.tsv.

    python data/make_cranfield.py [--source DIR] [--out DIR]

Documents keep their ``.I`` id and their ``.W`` text as written (stripped; it repeats the title,
so ``title`` is left empty). Queries are numbered by their position in cran.qry (1..225), as
cranqrel numbers them, not by the ``.I`` numbers in that file; their lines are joined with single
spaces. Judgments 1..4 become gains 5 - r; -1 and 5 (not relevant) are left out.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "cranfield"
DEFAULT_OUT = REPO / "data" / "cranfield"
SOURCE_FILES = ("cran.all.1400", "cran.qry", "cranqrel")
# A field marker on a line of its own: ".I 12", ".T", ".W". Text lines are lower case.
MARKER = re.compile(r"^\.([A-Z])(?:\s+(.*))?$")


def parse_records(path: Path) -> list[dict[str, str]]:
    """Records that start at ``.I <id>``; each ``.X`` field holds its lines as written, stripped.

    ``.W`` is the last field of every record, so its text runs to the next ``.I``. Three documents
    (240, 576, 578) hold stray ``.A``/``.B``/``.W`` lines inside that text; they are dropped and
    the words after them kept.
    """
    records: list[dict[str, str]] = []
    field: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        marker = MARKER.match(line)
        if marker and marker.group(1) == "I":
            records.append({"I": (marker.group(2) or "").strip()})
            field = None
        elif marker and field == "W":
            continue  # a stray marker inside the text
        elif marker:
            if not records:
                raise SystemExit(f"{path}, line {number}: field {line!r} comes before any .I line")
            field = marker.group(1)
            records[-1][field] = marker.group(2) or ""
        elif field is not None:
            text = records[-1][field]
            records[-1][field] = f"{text}\n{line}" if text else line
    return [{name: value.strip() for name, value in record.items()} for record in records]


def read_judgments(path: Path) -> list[tuple[str, str, int]]:
    """``(query position, doc id, gain)`` for every judgment with relevance 1..4, in file order."""
    judged = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
            raise SystemExit(f"{path}, line {number}: expected 'query doc relevance', got {line!r}")
        relevance = int(parts[2])
        if 1 <= relevance <= 4:
            judged.append((parts[0], parts[1], 5 - relevance))
    return judged


def write_jsonl(path: Path, records: list[dict[str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for record in records:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def convert(source: Path, out: Path) -> tuple[int, int, int]:
    """Write the three BEIR files under ``out``; returns (documents, queries, judgments)."""
    missing = [name for name in SOURCE_FILES if not (source / name).is_file()]
    if missing:
        raise SystemExit(
            f"{source} lacks {', '.join(missing)}; pass --source DIR with the Cranfield files"
        )
    documents = parse_records(source / "cran.all.1400")
    queries = parse_records(source / "cran.qry")
    judgments = read_judgments(source / "cranqrel")
    positions = {str(n) for n in range(1, len(queries) + 1)}
    strays = sorted({qid for qid, _, _ in judgments} - positions, key=int)
    if strays:
        raise SystemExit(f"cranqrel judges queries {strays} beyond the {len(queries)} in cran.qry")

    (out / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(
        out / "corpus.jsonl",
        [{"_id": doc["I"], "title": "", "text": doc.get("W", "")} for doc in documents],
    )
    write_jsonl(
        out / "queries.jsonl",
        [
            {"_id": str(position), "text": " ".join(query.get("W", "").split())}
            for position, query in enumerate(queries, start=1)
        ],
    )
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8", newline="\n") as tsv:
        tsv.write("query-id\tcorpus-id\tscore\n")
        for qid, doc_id, gain in judgments:
            tsv.write(f"{qid}\t{doc_id}\t{gain}\n")
    return len(documents), len(queries), len(judgments)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="Cranfield folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for BEIR files")
    args = parser.parse_args(argv)
    documents, queries, judgments = convert(args.source, args.out)
    print(
        f"{documents} documents, {queries} queries, {judgments} judgments -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
