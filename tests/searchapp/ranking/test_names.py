"""File names in hybrid ranking (``ranking/names.py``): a query's words in a file's name lift
its passages."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from searchapp.ranking.names import NAME_WEIGHT, near_names
from searchapp.ranking.searcher import FULL_NAMES_HELD
from searchapp.search_index import SearchIndex
from searchapp.storage.schema import file_name
from tests.searchapp.conftest import FakeEncoder

FILES = {
    "apt/sources.list": "deb http://deb.debian.org/debian bookworm main contrib\n",
    "notes/mirrors.md": "Mirror entries: each of the entries names a mirror.\n",
    "notes/garden.md": "Tomatoes want sun, water and patience in the garden.\n",
}


def index_of(tmp_path: Path, files: dict[str, str]) -> tuple[Path, SearchIndex]:
    docs = tmp_path / "docs"
    for name, text in files.items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, "utf-8")
    search_index = SearchIndex(tmp_path / "idx", encoder=FakeEncoder(dim=64, max_length=64))
    search_index.add([docs])
    return docs, search_index


@pytest.mark.parametrize(
    ("path", "name", "folder"),
    [
        ("/etc/apt/sources.list", "sources", "apt"),
        ("/usr/share/doc/grep/NEWS.Debian.gz", "NEWS.Debian", "grep"),
        ("/d/notes.md.gz", "notes", "d"),
        ("/d/dc.sed", "dc", "d"),
        ("/d/Generators.PM", "Generators", "d"),
        ("/home/me/.bashrc", ".bashrc", "me"),
        ("/home/me/.env", ".env", "me"),
        ("/d/Makefile", "Makefile", "d"),
        ("/d/retry_policy-v2.md", "retry_policy-v2", "d"),
        ("/top.txt", "top", ""),
    ],
)
def test_a_files_name_leaves_out_its_type_and_keeps_its_folder(path, name, folder) -> None:
    assert file_name(path, path) == (name, folder)
    assert file_name(f"{path}#7", path) is None  # a JSONL record: not named by its file


def test_a_file_named_for_the_query_is_found_by_hybrid_ranking_only(tmp_path) -> None:
    docs, search_index = index_of(tmp_path, FILES)
    # No passage says "sources": by words nothing matches, but the file named so comes first.
    assert search_index.search("sources", mode="lexical") == []
    hybrid = search_index.search("sources", k=3)
    assert hybrid[0].path == str(docs / "apt/sources.list")
    assert hybrid[0].score > hybrid[0].cosine
    assert all(hit.score == hit.cosine for hit in hybrid[1:])
    search_index.close()


def idfs(search_index: SearchIndex, term: str) -> tuple[float, float]:
    """``term``'s idf among the passages and among the file names, counted here with FTS5."""
    store = search_index.store

    def idf(df: int, rows: int) -> float:
        return max(math.log((rows - df + 0.5) / (df + 0.5)), 1e-6)

    in_passages = store.rows("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?", (term,))
    in_names = store.rows(
        "SELECT count(*) FROM documents_names WHERE documents_names MATCH ?", (term,)
    )
    files = store.rows("SELECT count(*) FROM documents")[0][0]
    return idf(in_passages[0][0], store.count_chunks()), idf(in_names[0][0], files)


def test_a_name_adds_the_share_of_the_query_it_carries(tmp_path) -> None:
    docs, search_index = index_of(tmp_path, FILES)
    # sources.list's name holds "sources", its text "bookworm": its passage scores its cosine,
    # its BM25 share and NAME_WEIGHT times the share of the query's idf "sources" carries, as
    # the lesser of its idfs in passages and in names.
    query = "bookworm sources"
    [named] = [h for h in search_index.search(query, k=3) if "sources" in h.path]
    lexical = {h.path: h.score for h in search_index.search(query, mode="lexical")}
    bookworm, sources = idfs(search_index, "bookworm")[0], idfs(search_index, "sources")
    carried = min(sources) / (bookworm + sources[0])
    assert 0 < carried < 1
    # A name carrying part of the query adds in proportion to the passage's cosine over the
    # best one (``near_names``).
    best = max(h.cosine for h in search_index.search(query, k=50, mode="dense"))
    near = min(1.0, named.cosine / best)
    added = NAME_WEIGHT * carried * near
    assert named.score == pytest.approx(named.cosine + lexical[named.path] + added)
    # "md" is the type of two of the three files, not a word of their names: it lifts none.
    assert_no_name_lifts(search_index, "tomatoes md")
    # Its passage half as near as garden.md's: half of what its name carries.
    query = "sources tomatoes sun water patience garden"
    [named] = [h for h in search_index.search(query, k=3) if "sources" in h.path]
    best = max(h.cosine for h in search_index.search(query, k=50, mode="dense"))
    assert 0.3 < named.cosine / best < 0.7
    lexical = {h.path: h.score for h in search_index.search(query, mode="lexical")}
    idf_of = {w: idfs(search_index, w)[0] for w in query.split()}
    carried = min(idfs(search_index, "sources")) / sum(idf_of.values())
    added = NAME_WEIGHT * carried * named.cosine / best
    assert named.score == pytest.approx(named.cosine + lexical.get(named.path, 0.0) + added)
    search_index.close()


def test_a_name_carrying_part_of_the_query_adds_as_near_as_its_passage_is() -> None:
    # make(1) for "make a shortcut that points to another file": cosine 0.18 against ln(1)'s
    # 0.38, lifted over it by its name (man pages: paraphrases 0.626 -> 0.645 nDCG@10).
    named = {1: 0.3 * NAME_WEIGHT, 2: 0.3 * NAME_WEIGHT, 3: NAME_WEIGHT}
    cosine = {1: 0.4, 2: 0.1, 3: 0.05, 4: 0.4}
    assert near_names(named, cosine, 0.4) == {
        1: pytest.approx(0.3 * NAME_WEIGHT),  # as near as the best: all of its share
        2: pytest.approx(0.3 * NAME_WEIGHT * 0.25),
        3: NAME_WEIGHT,  # named exactly what was typed: the whole weight, however far
    }
    assert near_names({1: 0.3}, {1: -0.2}, 0.4) == {1: 0.0}  # never below nothing
    assert near_names({1: 0.3}, {1: 0.2}, 0.0) == {1: 0.3}  # no cosine to compare with


def assert_no_name_lifts(search_index: SearchIndex, query: str) -> None:
    """Every hybrid hit for ``query`` scores its cosine and BM25 share alone."""
    lexical = {h.chunk_id: h.score for h in search_index.search(query, k=50, mode="lexical")}
    hits = search_index.search(query, k=3)
    assert hits
    for hit in hits:
        assert hit.score == pytest.approx(hit.cosine + lexical.get(hit.chunk_id, 0.0), abs=1e-5)


def test_names_follow_files_that_come_go_and_are_renamed(tmp_path) -> None:
    docs, search_index = index_of(tmp_path, FILES)
    (docs / "apt/sources.list").rename(docs / "apt/mirrors.conf")
    search_index.add([docs])

    def names() -> list[str]:
        return sorted(r[0] for r in search_index.store.rows("SELECT name FROM documents_names"))

    assert names() == ["garden", "mirrors", "mirrors"]
    assert all(hit.score == hit.cosine for hit in search_index.search("sources", k=3))
    search_index.remove([str(docs / "notes")])
    assert names() == ["mirrors"]
    search_index.close()


def test_a_jsonl_corpus_name_lifts_none_of_its_records(tmp_path) -> None:
    records = [
        {"_id": "1", "text": "Tomatoes want sun and water."},
        {"_id": "2", "text": "Wing lift grows with the angle of attack."},
    ]
    files = {"aircraft.jsonl": "\n".join(json.dumps(r) for r in records) + "\n"}
    _, search_index = index_of(tmp_path, files)
    for hit in search_index.search("aircraft tomatoes", k=2):
        lexical = {
            h.doc_id: h.score for h in search_index.search("aircraft tomatoes", mode="lexical")
        }
        assert hit.score == pytest.approx(hit.cosine + lexical.get(hit.doc_id, 0.0))
    rows = sqlite3.connect(tmp_path / "idx" / "index.db").execute(
        "SELECT count(*) FROM documents_names"
    )
    assert rows.fetchone()[0] == 0
    search_index.close()


def test_a_file_found_by_its_name_alone_and_the_first_hits_do_not_depend_on_k(
    tmp_path, monkeypatch
) -> None:
    import searchapp.ranking.searcher as searcher

    monkeypatch.setattr(searcher, "FUSION_DEPTH", 2)  # 2 candidates a ranker, not 100
    files = {f"notes/boat{n}.md": f"sails sails boat {n}\n" for n in range(6)}
    # Its first passages say nothing of the query; a later one says "sails" once, far down
    # the lexical list: whether the rankers' lists reach it depends on how many hits are asked.
    filler = "".join(f"Hydrogen cell {n} holds gas at low pressure.\n" for n in range(120))
    files["zeppelin.md"] = filler + "Her sails were never used.\n"
    docs, search_index = index_of(tmp_path, files)
    assert len(search_index.store.rows("SELECT id FROM chunks")) > 6 + 9  # past the 8th
    query = "zeppelin sails"
    assert all("zeppelin" not in h.path for h in search_index.search(query, k=2, mode="dense"))
    assert all("zeppelin" not in h.path for h in search_index.search(query, k=2, mode="lexical"))
    everything = search_index.search(query, k=7)
    named = [h for h in everything if h.path.endswith("zeppelin.md")]
    assert named and named[0].score > named[0].cosine + 0.1  # brought and lifted by its name
    # Filtered to the file, the search widens until it finds a hit there: the same hit.
    alone = search_index.search(query, k=1, path_glob="*/zeppelin.md")
    assert [(h.chunk_id, h.score) for h in alone] == [(named[0].chunk_id, named[0].score)]
    for k in range(1, 7):
        got = search_index.search(query, k=k)
        assert [(h.path, h.chunk_id, h.score) for h in got] == [
            (h.path, h.chunk_id, h.score) for h in everything[:k]
        ], k
    search_index.close()


def test_a_word_every_file_is_named_with_lifts_none_beside_a_jsonl_corpus(tmp_path) -> None:
    records = [{"_id": str(n), "text": f"Record {n} about lift and drag."} for n in range(300)]
    files = {
        "corpus.jsonl": "\n".join(json.dumps(r) for r in records) + "\n",
        "want/a.md": "Tomatoes want sun.\n",
        "want/b.md": "Peppers want water.\n",
    }
    _, search_index = index_of(tmp_path, files)
    query = "tomatoes want"
    # "want" names both files (their folder): among the 2 named files it is as common as a
    # word can be, however many records (never named) the index holds.
    assert_no_name_lifts(search_index, query)
    search_index.close()


def test_a_file_named_exactly_what_was_typed_scores_the_whole_name_weight(tmp_path) -> None:
    files = {
        **{f"pkg{n}/README.Debian": f"Package {n} notes for Debian users.\n" for n in range(4)},
        "pkg0/changelog.Debian": "Debian release notes.\n",
        "apt/preferences": "Pin-Priority: 990\n",
        "apt/preferences-guide.md": "How pinning preferences pick a package version.\n",
        "persistent/main.go": "package main // let us go\n",
    }
    docs, search_index = index_of(tmp_path, files)
    for query in ("README.Debian", "readme debian", "preferences"):
        hits = search_index.search(query, k=10)
        lexical = {h.path: h.score for h in search_index.search(query, k=10, mode="lexical")}
        exact = [
            h
            for h in hits
            if h.path.rsplit("/", 1)[1].lower().replace(".", " ") == query.lower().replace(".", " ")
        ]
        assert exact, query
        for hit in exact:  # its name's words are the query's: the whole NAME_WEIGHT, and
            # where few files are so named, its passages hold them all, as its name does (the
            # whole BM25 share): "preferences", not the four README.Debian
            held = lexical.get(hit.path, 0.0)
            if len(exact) <= FULL_NAMES_HELD:
                held = max(held, 1.0)
            assert hit.score == pytest.approx(hit.cosine + held + 1.0)
        # First, but where a file says the words and is named with them too ("preferences").
        assert hits[0] in exact or query == "preferences", query
    # A file's type is not a word of its name: "go" lifts no .go file.
    [go] = [h for h in search_index.search("go", k=10) if h.path.endswith(".go")]
    assert go.score == pytest.approx(go.cosine + search_index.search("go", mode="lexical")[0].score)
    search_index.close()


def test_a_daily_note_named_what_was_typed_comes_first(tmp_path) -> None:
    # `2024-01-17` ranked the note of that name (bullets alone) below `2024-02-17`, whose
    # heading held two of the date's three words and whose text was nearer the query; a note
    # saying the date, named with two of its words, ranks below the one named with it.
    files = {
        "Journal/2024-01-17.md": "- Prod incident: node drain blocked by PDB\n",
        "Journal/2024-02-17.md": "# Review of 2024-01-17\n\n- Follow-ups of 2024-01-17\n",
        "Journal/2024-01-16.md": "# 2024-01-16\n\n- Gym\n",
        "Journal/2024-01-05.md": "- Dentist at 9:30\n",
    }
    docs, search_index = index_of(tmp_path, files)
    for day in ("2024-01-17", "2024-01-05"):
        assert search_index.search(day, k=3)[0].path == str(docs / f"Journal/{day}.md"), day
    search_index.close()


def test_a_day_named_file_does_not_hold_the_querys_other_words(tmp_path) -> None:
    # A second trial: "root cause of the checkout outage on November 15" in a Slack day of
    # 2,000 messages (`2023-11-15.json`): every passage was taken to hold all the query's
    # words, as the file's name holds its date, and the one saying the root cause fell past
    # fifty; without the date it ranked first.
    filler = "\n\n".join(
        f"{8 + n // 4:02d}:{n % 60:02d} Tomas: the checkout outage of the checkout is on, "
        f"the outage of the checkout goes on ({n})"
        for n in range(40)
    )
    answer = "15:50 Marcus: found it: root cause, redis noeviction"
    files = {
        "incidents/2023-11-15.md": f"{filler}\n\n{answer}\n\n{filler}\n",
        "incidents/2023-11-14.md": "09:00 Sam: the checkout deploy is done\n",
    }
    docs, search_index = index_of(tmp_path, files)
    for query in (
        "root cause of the checkout outage",
        "root cause of the checkout outage on November 15",
    ):
        hits = search_index.search(query, k=3, per_doc=3)
        assert hits[0].path == str(docs / "incidents/2023-11-15.md"), query
        assert "root cause" in hits[0].text, (query, [h.text[:40] for h in hits])
    # a date alone still names its day's file as holding the whole query
    assert search_index.search("November 15", k=1)[0].path.endswith("2023-11-15.md")
    search_index.close()


def test_many_files_named_a_common_word_do_not_hold_it(tmp_path) -> None:
    # Every `index.md` of a site ranked above the note about the index, as if each said it.
    files = {f"{site}/index.md": f"Welcome to the {site} site.\n" for site in ("web", "blog")}
    files |= {f"{site}/index.md": f"Welcome to the {site} site.\n" for site in ("shop", "app")}
    files["search-notes.md"] = "How the search index works. The index is rebuilt nightly.\n"
    docs, search_index = index_of(tmp_path, files)
    assert search_index.search("index", k=5)[0].path == str(docs / "search-notes.md")
    search_index.close()


def test_the_folder_a_file_is_in_counts_as_its_name(tmp_path) -> None:
    files = {
        "grep/changelog": "Fixed a crash on long lines.\n",
        "curl/changelog": "Fixed a crash on long headers.\n",
    }
    docs, search_index = index_of(tmp_path, files)
    hits = search_index.search("changelog of grep", k=2)
    assert hits[0].path == str(docs / "grep/changelog") and hits[0].score > hits[1].score
    search_index.close()


@pytest.mark.parametrize("name", ["straße", "ﬁnance", "İstanbul", "ſtatus", "東京タワー", "x²"])
def test_a_file_named_what_was_typed_carries_the_whole_query(tmp_path: Path, name: str) -> None:
    # The name's words were folded by casefold and NFKD ("strasse", "finance"), or by a table
    # of Latin accents ("iistanbul", "ſtatus"), where FTS5 folds otherwise: such a file was
    # not taken for the one asked for.
    from searchapp.ranking.lexical import Lexicon
    from searchapp.ranking.names import name_shares

    _, index = index_of(tmp_path, {**FILES, f"notes/{name}.md": "nothing of the kind\n"})
    store, lexicon = index.store, Lexicon(index.store)
    terms = lexicon.query_tokens(name)
    shares = name_shares(store, terms, lexicon.document_frequency, 4, lexicon.query_tokens)
    rows = store.rows("SELECT id FROM documents WHERE path LIKE ?", (f"%/{name}.md",))
    assert shares[rows[0][0]] == 1.0
