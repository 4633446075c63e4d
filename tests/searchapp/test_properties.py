"""Properties over arbitrary text: `search query --json` always prints valid JSON (or one error
line), and the tokenizer and the chunker never raise and keep offsets exact."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from searchapp.ingest.chunking import ChunkingConfig, chunk_text
from searchapp.ranking.query_words import quoted_phrases
from tests.searchapp.cli_runner import run_cli
from tests.searchapp.conftest import HIT_KEYS, use_encoder

RAW_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# FTS5 query syntax, SQL, markup, shell and JSON characters, as words and as noise.
SYNTAX = [
    '"',
    "'",
    "*",
    "^",
    ":",
    "(",
    ")",
    "-",
    "+",
    "NEAR",
    "AND",
    "OR",
    "NOT",
    "{",
    "}",
    "[",
    "]",
    "col:",
    "chunks_fts",
    ";",
    "--",
    "/*",
    "\\",
    "%",
    "_",
    "=",
    "\x00",
    "\x1b[31m",
    "[bold]",
    "\u202e",
    "\u009b",
    "\r\n",
    "\t",
]
WORDS = ["wing", "lift", "shock", "boundary layer", "heat transfer", "flutter", "Mach 3"]
EMOJI = ["😀", "✈️", "👩‍🔬", "🇫🇷", "🏳️‍🌈", "\u200d", "\ufe0f"]

query_texts = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(SYNTAX + WORDS + EMOJI + [" "]), max_size=30).map("".join),
    st.text(st.characters(max_codepoint=0x9F), max_size=40),  # ASCII, C0 and C1 controls
    st.text(min_size=2000, max_size=6000),  # far past the model's 256 tokens
    st.text(st.characters(categories=["Cs", "Ll"]), min_size=1, max_size=10),  # lone surrogates
)


@pytest.fixture(scope="module")
def tokenizer():
    from minilm import MiniLMTokenizer

    return MiniLMTokenizer("all-MiniLM-L6-v2", max_length=256)


@pytest.fixture()
def small_index(tmp_path, cranfield, monkeypatch) -> str:
    """Ten documents indexed once for the whole property test (a fixture is not set up again
    per example); its `search` commands share one loaded model."""
    from minilm import SentenceEncoder
    from searchapp.search_index import SearchIndex

    encoder = SentenceEncoder.from_pretrained("all-MiniLM-L6-v2", device="cpu")
    docs = cranfield.write_files(tmp_path / "docs", 0, 10)
    index_dir = tmp_path / "idx"
    SearchIndex(index_dir, encoder=encoder).add([docs])
    use_encoder(monkeypatch, encoder)
    return str(index_dir)


@pytest.mark.slow
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=query_texts)
def test_query_json_is_always_one_valid_json_array(small_index, capsys, text) -> None:
    # "--" ends the options: a query may start with "-".
    code, out, err = run_cli(
        capsys, "query", "--index-dir", small_index, "--json", "-k", "3", "--", text
    )
    if code == 0:
        assert out.endswith("\n") and out.count("\n") == 1
        hits = json.loads(out)
        assert isinstance(hits, list) and 1 <= len(hits) <= 3
        assert len(hits) == 3 or quoted_phrases(text)  # a phrase only few passages hold
        assert all(set(hit) == HIT_KEYS for hit in hits)
        assert not RAW_CONTROLS.search(out)
    elif code == 1:  # nothing found: only a "quoted phrase" can narrow dense and hybrid so
        assert out == "[]\n" and quoted_phrases(text), (out, err)
    else:  # an empty query, one of no letter or digit, or bytes that are not text: one
        assert out == ""  # line, nothing on stdout
        assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
        wordless = not any(c.isalnum() for c in text)
        assert not text.strip() or wordless or re.search("[\ud800-\udfff]", text), err


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.text(max_size=300), min_size=1, max_size=4))
def test_tokenizer_never_raises_and_counts_agree_with_ids(tokenizer, texts) -> None:
    counts = tokenizer.count_tokens(texts)
    ids = tokenizer.encode_ids(texts)
    assert counts == [tokenizer.count_tokens([t])[0] for t in texts]
    for count, row in zip(counts, ids):
        assert row[0] == 101 and row[-1] == 102  # [CLS] ... [SEP]
        assert len(row) == min(count + 2, 256)  # truncated at max_length, specials included


# Paragraphs, sentences, long words, CJK, combining marks, emoji, odd spaces and line ends.
chunk_alphabet = st.one_of(
    st.characters(codec="utf-8"),  # any Unicode scalar value (decoded text has no surrogates)
    st.sampled_from(
        ["\n", "\n\n", " ", ". ", "! ", "。", "\u3000", "\u00a0", "\u2028", "\t", "\r\n"]
    ),
    st.sampled_from(WORDS + EMOJI + ["Ã©", "e\u0301", "ﷺ", "supercalifragilistic" * 4]),
)


@settings(max_examples=120, deadline=None)
@given(
    parts=st.lists(chunk_alphabet, max_size=400),
    max_tokens=st.sampled_from([8, 16, 64]),
)
def test_chunk_offsets_map_back_exactly(tokenizer, parts, max_tokens) -> None:
    text = "".join(parts)
    config = ChunkingConfig(max_tokens=max_tokens, overlap_tokens=max_tokens // 4)
    chunks = chunk_text(text, count_tokens=tokenizer.count_tokens, config=config)
    covered = [False] * len(text)
    previous_start = -1
    for chunk in chunks:
        assert chunk.text == text[chunk.start_char : chunk.end_char]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.start_line == text.count("\n", 0, chunk.start_char) + 1
        assert chunk.end_line == text.count("\n", 0, chunk.end_char - 1) + 1
        assert chunk.start_char > previous_start  # in order, each one new
        previous_start = chunk.start_char
        count = tokenizer.count_tokens([chunk.text])[0]
        assert count <= max_tokens or len(chunk.text) == 1  # a lone character cannot be cut
        covered[chunk.start_char : chunk.end_char] = [True] * len(chunk.text)
    # Nothing but whitespace falls between chunks.
    assert all(done or char.isspace() for char, done in zip(text, covered))
