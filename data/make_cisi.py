"""Turn the CISI collection into BEIR files: corpus.jsonl, queries.jsonl, qrels/test.tsv.

    python data/make_cisi.py [--source DIR] [--out DIR]

Documents keep their ``.I`` id; ``title`` is the ``.T`` lines joined with single spaces and
``text`` the ``.W`` text with its line breaks as written, stripped. Authors (``.A``), sources
(``.B``), keywords (``.K``), categories (``.C``) and citation triples (``.X``) are left out.
Only the queries that CISI.REL judges are written (76 of the 112), each as its ``.W`` lines
joined with single spaces, so that ``search eval`` skips none. Every judged pair has gain 1.
Standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "cisi"
DEFAULT_OUT = REPO / "data" / "cisi"
SOURCE_FILES = ("CISI.ALL", "CISI.QRY", "CISI.REL")
# A field marker on a line of its own: ".I 12", ".T", ".W" (some carry a trailing space).
MARKER = re.compile(r"^\.([A-Z])(?:\s+(.*?))?\s*$")


def parse_records(path: Path) -> list[dict[str, str]]:
    """Records that start at ``.I <id>``; each ``.X`` field holds its lines as written, stripped.

    Every field runs to the next marker (in CISI no text line starts with a dot); a repeated
    field (``.A``, once per author) continues the first.
    """
    records: list[dict[str, str]] = []
    field: str | None = None
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        marker = MARKER.match(line)
        if marker and marker.group(1) == "I":
            records.append({"I": (marker.group(2) or "").strip()})
            field = None
        elif marker:
            if not records:
                raise SystemExit(f"{path}, line {number}: field {line!r} comes before any .I line")
            field = marker.group(1)
            # A repeated field (.A, one per author) continues the first on a new line.
            text, more = records[-1].get(field, ""), marker.group(2) or ""
            records[-1][field] = f"{text}\n{more}" if text and more else text or more
        elif field is not None:
            text = records[-1][field]
            records[-1][field] = f"{text}\n{line}" if text else line
    return [{name: value.strip() for name, value in record.items()} for record in records]


def read_judgments(path: Path) -> list[tuple[str, str]]:
    """``(query id, doc id)`` for every line ``query doc 0 0.000000``, in file order."""
    judged = []
    for number, line in enumerate(path.read_text(encoding="ascii").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4 or not (parts[0].isdigit() and parts[1].isdigit()):
            raise SystemExit(f"{path}, line {number}: expected 'query doc 0 0.0', got {line!r}")
        judged.append((parts[0], parts[1]))
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
            f"{source} lacks {', '.join(missing)}; pass --source DIR with the CISI files"
        )
    documents = parse_records(source / "CISI.ALL")
    queries = parse_records(source / "CISI.QRY")
    judgments = read_judgments(source / "CISI.REL")
    if len(set(judgments)) != len(judgments):
        raise SystemExit("CISI.REL judges a (query, document) pair twice")
    judged = {qid for qid, _ in judgments}
    strays = sorted(judged - {q["I"] for q in queries}, key=int)
    unknown = sorted({doc for _, doc in judgments} - {d["I"] for d in documents}, key=int)
    if strays or unknown:
        raise SystemExit(f"CISI.REL judges unknown queries {strays} or documents {unknown}")

    (out / "qrels").mkdir(parents=True, exist_ok=True)
    write_jsonl(
        out / "corpus.jsonl",
        [
            {"_id": doc["I"], "title": " ".join(doc.get("T", "").split()), "text": doc["W"]}
            for doc in documents
        ],
    )
    write_jsonl(
        out / "queries.jsonl",
        [
            {"_id": query["I"], "text": " ".join(query["W"].split())}
            for query in queries
            if query["I"] in judged
        ],
    )
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8", newline="\n") as tsv:
        tsv.write("query-id\tcorpus-id\tscore\n")
        for qid, doc_id in judgments:
            tsv.write(f"{qid}\t{doc_id}\t1\n")
    return len(documents), len(judged), len(judgments)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="CISI folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for BEIR files")
    args = parser.parse_args(argv)
    documents, queries, judgments = convert(args.source, args.out)
    print(
        f"{documents} documents, {queries} queries, {judgments} judgments -> {args.out}",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
