"""Word order as evidence (``proximity.py``, ``query_words.query_trigrams``): which trigrams a
query has, which a text holds, and what the candidates holding them get."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from searchapp.ranking import proximity
from searchapp.ranking.query_words import (
    _phrase_words,
    fold,
    held_trigrams,
    query_trigrams,
)
from searchapp.storage.schema import cjk_spaced


def test_trigrams_do_not_cross_punctuation_that_parts_words() -> None:
    assert query_trigrams("Error: No such option: --foo") == {("no", "such", "option")}
    # A word's own punctuation joins: "doesn't", "os.path", "high-speed".
    assert query_trigrams("it doesn't match os.path") == {
        ("it", "doesn", "t"),
        ("doesn", "t", "match"),
        ("t", "match", "os"),
        ("match", "os", "path"),
    }
    assert query_trigrams("a (b c) d") == set()
    assert query_trigrams("end. Next one here") == {("next", "one", "here")}


def test_trigrams_are_folded_and_three_function_words_are_none() -> None:
    assert query_trigrams("Crème BRÛLÉE Recipe") == {("creme", "brulee", "recipe")}
    assert query_trigrams("out of the") == set()
    assert query_trigrams("out of the box") == {("of", "the", "box")}
    assert query_trigrams("two words") == set()


def test_a_text_holds_a_trigram_with_anything_but_letters_or_digits_between() -> None:
    trigrams = query_trigrams("no such option here")
    text = 'raise Error(_("No such option: name"))\n'
    assert held_trigrams(trigrams, text) == {("no", "such", "option")}
    assert held_trigrams(trigrams, "such no option") == set()  # out of order
    assert held_trigrams(trigrams, "No-such\nOPTION Here") == trigrams
    assert held_trigrams(frozenset(), text) == set()


def test_ascii_words_are_split_as_the_pattern_splits_them() -> None:
    # The fast path for ASCII text against the pattern the query's words are read with.
    pattern = re.compile(r"[^\W_]+(?:_+[^\W_]+)*")
    alphabet = "aB9_ -.:'\n\t\"(){}[]é東"
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert _phrase_words(text) == pattern.findall(cjk_spaced(fold(text)))


def test_a_snake_case_name_is_one_word_of_word_order() -> None:
    # "loop is closed", pasted from "Event loop is closed", was held by every
    # `self._loop.is_closed()`: the line raising it was no longer one of few holders.
    trigrams = query_trigrams("RuntimeError: Event loop is closed")
    assert trigrams == {("event", "loop", "is"), ("loop", "is", "closed")}
    assert held_trigrams(trigrams, "if self._loop.is_closed():") == set()
    assert held_trigrams(trigrams, "raise RuntimeError('Event loop is closed')") == trigrams
    # A name typed as code is one word on both sides; its underscores around it are not.
    named = query_trigrams("KeyError user_id not found")
    assert ("keyerror", "user_id", "not") in named
    assert held_trigrams(named, "raise KeyError(__user_id__) # not found") == named


def test_only_trigrams_few_candidates_hold_earn_the_bonus(monkeypatch) -> None:
    monkeypatch.setattr(proximity, "MAX_HOLDERS", 2)
    trigrams = query_trigrams("no such option and some more words")
    common = "and some more words"  # held by three texts: too many to tell them apart
    texts = {
        1: f"{common}. No such option",
        2: f"{common}: no such option!",
        3: f"{common} here",
        4: "nothing in a row",
    }
    bonus = proximity.in_order_bonus(trigrams, texts)
    share = 1 / len(trigrams)  # "no such option" alone, of the query's trigrams
    assert bonus == pytest.approx(
        {1: proximity.PROXIMITY_WEIGHT * share, 2: proximity.PROXIMITY_WEIGHT * share}
    )
    assert proximity.in_order_bonus(frozenset(), texts) == {}


def test_format_strings_holding_a_trigram_do_not_hide_the_few_that_write_it() -> None:
    # "loop is closed" was held by 7 candidates, 4 of them only with a placeholder for "loop"
    # (f"{name} is closed"), so the line raising "Event loop is closed" got nothing.
    trigrams = query_trigrams("Event loop is closed")
    texts = {
        1: "raise RuntimeError('Event loop is closed')",
        2: 'warnings.warn("loop is closed")',
        **{n: f"raise OSError(f'{{name{n}}} is closed')" for n in range(3, 8)},
        8: "nothing in a row",
    }
    bonus = proximity.in_order_bonus(trigrams, texts)
    share = proximity.PROXIMITY_WEIGHT / len(trigrams)
    # ("event", "loop", "is") is written by one; ("loop", "is", "closed") by two, held by 7.
    assert bonus == pytest.approx({1: 2 * share, 2: share})
    # Held with a placeholder, a trigram tells as before: where few hold it either way.
    few = {1: "raise OSError(f'{name} is closed')", 2: "nothing here"}
    assert proximity.in_order_bonus(trigrams, few) == pytest.approx({1: share})


def test_a_querys_trigrams_are_found_in_its_own_text() -> None:
    # Folded part by part, "aΣ:" ended in σ or ς by what followed it within the part, and the
    # text, folded whole, spelled it the other way.
    rng = random.Random(2)
    alphabet = "aΣσς京 :.,-éÉx"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(3, 16)))
        trigrams = query_trigrams(text)
        assert held_trigrams(trigrams, text) == trigrams, text


def test_a_format_strings_placeholder_stands_for_any_one_word() -> None:
    # "Config 'PORT' has value 'eighty'" was pasted; the source says f"Config '{key}' has
    # value '{value}'": every trigram held a value, and none was found.
    pasted = query_trigrams("ValueError: Config 'PORT' has value 'eighty'. Not a valid int.")
    source = "raise ValueError(f\"Config '{key}' has value '{value}'. Not a valid {cast}.\")"
    assert held_trigrams(pasted, source) == pasted
    printf = 'log.info("HTTP Request: %s %s %d", method, url, status)'
    assert held_trigrams(query_trigrams("HTTP request GET https 200"), printf) == {
        ("http", "request", "get")
    }
    # One placeholder a trigram, and two words left that are not both function words: a man
    # page's "%s: Directory has been renamed from %s" held "tar exclude directory", and any
    # "%s of the" would hold "tar of the".
    renamed = '_("%s: %s: Directory has been renamed from %s")'
    assert held_trigrams(query_trigrams("tar exclude directory"), renamed) == set()
    assert held_trigrams(query_trigrams("request GET https 200"), printf) == set()
    assert held_trigrams(query_trigrams("sizes of the"), "a %s of the b") == set()
    assert held_trigrams(query_trigrams("sizes of the"), "sizes of %s") == {("sizes", "of", "the")}
    # Not placeholders: a dict, a percentage, and the words themselves must still match.
    assert held_trigrams(query_trigrams("has value eighty"), 'x = {"has": 1} value 2') == set()
    assert held_trigrams(query_trigrams("5 speed up"), "a 5% speed up") == {("5", "speed", "up")}
    assert held_trigrams(query_trigrams("has value eighty"), "has {v} ninety") == set()


def test_a_quoted_flag_is_found_as_written_and_a_traceback_quotes_no_phrase() -> None:
    # `"--verbose"` found every `log.verbose(` and `verbose = []` first; a pasted traceback's
    # source lines (`requests.get("http://example.com")`) were read as phrases no passage held.
    from searchapp.ranking.query_words import quoted_phrases

    [flag] = quoted_phrases('"--verbose" option')
    assert flag.found_in("like ``-v, --verbose`` or")
    assert not flag.found_in("log.verbose(x)") and not flag.found_in("--verbose-x")
    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/app/x.py", line 3, in main\n'
        '    requests.get("http://example.com")\n'
        "requests.exceptions.ConnectTimeout: timed out"
    )
    assert quoted_phrases(traceback) == []
    assert len(quoted_phrases('"No such option" in "click"')) == 2
    # A writer's pasted paragraph: its dialogue is no phrase to filter by (the best hit went).
    prose = (
        '"Nobody on Inishcarrow locked their doors," Soren said. Later Mara found the letter '
        "her mother had hidden behind the brick in the lamp room."
    )
    assert quoted_phrases(prose) == []
    assert len(quoted_phrases('"connection refused" after the worker restarts on a node')) == 1


def test_a_pasted_traceback_names_the_line_its_last_frame_quotes() -> None:
    # The hit in adapters.py named `if isinstance(e.reason, ConnectTimeoutError):`, three
    # lines above the `raise` the traceback quotes (its rarer words won the line).
    from searchapp.ranking.query_words import BestLine, traceback_sources

    traceback = (
        "Traceback (most recent call last):\n"
        '  File "/app/x.py", line 3, in main\n'
        "    resp = self.send(prep)\n"
        '  File "/venv/requests/adapters.py", line 700, in send\n'
        "    raise ConnectTimeout(e, request=request)\n"
        "requests.exceptions.ConnectTimeout: Caused by ConnectTimeoutError(...)"
    )
    text = (
        "except ConnectError as e:\n"
        "    if isinstance(e.reason, ConnectTimeoutError):\n"
        "        # a comment\n"
        "        raise ConnectTimeout(e, request=request)\n"
    )
    weights = {"connecttimeouterror": 5.0, "connecttimeout": 2.0, "raise": 0.5}
    assert BestLine(weights).line(text, 714) == 715
    assert BestLine(weights, traceback_sources(traceback)).line(text, 714) == 717
    assert traceback_sources("no traceback here: raise X(e)") == []


def test_an_address_a_time_or_a_version_in_a_short_query_is_held_as_written(tmp_path) -> None:
    # An SRE's: `10.20.30.51` ranked lines of 10.20.30.205 first, `16:41:07` a changelog's
    # "07:28:41". A pasted log line asks for its cause, not for its own address.
    from searchapp.ranking.query_words import held_phrases
    from tests.searchapp.ingest.test_pipeline import make_index

    assert [p.text for p in held_phrases("May 03 16:41:07")] == ["16:41:07"]
    assert [p.text for p in held_phrases("upgrade to 2.13.0")] == ["2.13.0"]
    assert held_phrases("python 3.11") == []
    # A date written day.month.year is no version (a historian's trial): ranked as a date
    # (``query_date_patterns``), not held; a version of 4 digits is one (a reviewer's).
    assert held_phrases("Bebel Reichstag 25.05.1871") == held_phrases("18.03.1871") == []
    assert [p.text for p in held_phrases("vim 8.2.3456 crash")] == ["8.2.3456"]
    line = "May 03 16:41:07 web1 sshd[12]: Failed password for root from 10.20.30.51 port 22"
    assert held_phrases(line) == []
    logs = tmp_path / "logs"
    logs.mkdir()
    lines = [f"May 03 07:28:{n:02d} web1 sshd: accepted from 10.20.30.{200 + n}" for n in range(9)]
    lines.insert(5, "May 03 16:41:07 web1 sshd: accepted from 10.20.30.51")
    for n in range(0, len(lines), 2):  # a passage a file
        (logs / f"syslog.{n}").write_text("\n".join(lines[n : n + 2]) + "\n")
    index = make_index(tmp_path / "idx")
    index.add([logs])
    for mode in ("hybrid", "lexical", "dense"):
        for query in ("10.20.30.51", "16:41:07", "sshd 10.20.30.51"):
            hits = index.search(query, k=3, mode=mode)
            assert [h.text.count("10.20.30.51") for h in hits] == [1], (mode, query)
    assert index.search("10.20.30.99", k=2, mode="lexical")  # none holds it: its words
    # A reviewer's: letters may stand next to it, a longer number may not.
    [version] = held_phrases("2.13.0")
    assert version.found_in("## v2.13.0 notes") and version.found_in("2.13.0-rc1")
    assert not version.found_in("12.13.0") and not version.found_in("2.13.0.1")
    [time] = held_phrases("16:41:07")
    assert time.found_in('{"ts": "2024-05-03T16:41:07Z"}') and not time.found_in("116:41:07")
    [beta] = held_phrases("v1.2.3-beta.4")  # a third reviewer's: its suffix is not 1.2.3.4
    assert beta.found_in("released v1.2.3-beta.4") and not beta.found_in("11.2.3")
    [pinned] = held_phrases("1.25.3")
    assert pinned.found_in("image: nginx:1.25.3") and pinned.found_in("python:1.25.3-slim")
    [address] = held_phrases("10.20.30.51")
    assert address.found_in("10.20.30.51:8080") and not address.found_in("10.20.30.512")
    (logs / "app.json").write_text('{"ts": "2024-05-03T16:41:07Z", "msg": "disk full"}\n')
    index.add([logs])
    found = {Path(h.path).name for h in index.search("16:41:07", k=5, mode="lexical")}
    assert found == {"syslog.4", "app.json"}


def test_an_amount_or_a_section_in_a_short_query_is_held_as_written(tmp_path) -> None:
    # A paralegal's: `$4,400` ranked `$187,400` first and the lease's `$4,400.00` fourth,
    # `§11.2` a heading `11. Term and Termination` (its numbers as words in any order).
    from searchapp.ranking.query_words import held_phrases
    from tests.searchapp.ingest.test_pipeline import make_index

    [rent] = held_phrases("$4,400")
    assert rent.found_in("rent of $4,400.00 a month") and rent.found_in("EUR 4.400")
    assert not rent.found_in("a claim of $187,400") and not rent.found_in("$4,4001")
    # French thousands: "2 500 €" is `€2,500` (a paralegal's found it one way only).
    [fee] = held_phrases("€2,500")
    assert fee.found_in("un dépôt de 2 500 €") and fee.found_in("2\u202f500,00 €")
    assert not fee.found_in("12 500 €") and not fee.found_in("2 5000")
    # ...and as a Greek or German invoice writes it, its currency after (a bookkeeper's
    # "1.250,00 €" ranked an invoice's "250,00 €" first); a bank's "2500,00" is `€2,500`.
    [european] = held_phrases("ποσό 1.250,00 €")
    assert european.found_in("€1,250") and european.found_in("σύνολο 1.250,00 €")
    assert not european.found_in("ΦΠΑ | 250,00 €") and not european.found_in("1.250,50 €")
    assert fee.found_in("2024-05-31\tAcme Ltd\t2500,00")
    [vat] = held_phrases("250,00 €")
    assert vat.found_in("ΦΠΑ 250,00 €") and not vat.found_in("1 250,00 €")
    [section] = held_phrases("§11.2")
    assert section.found_in("under Section 11.2,") and not section.found_in("11.24%")
    assert [p.text for p in held_phrases("§ 9 notice")] == ["§ 9"]
    assert held_phrases("what is the rent of the unit $4,400") == []  # a sentence: its words
    # A reviewer's: the currency after a number without thousands, or a code; one digit of
    # cents; many groups of thousands, as an amount, not a version besides.
    for query, written, other in [
        ("2500 €", ["Miete 2.500,00 €", "2 500 €", "$2,500"], "12.500,00 €"),
        ("12000 EUR", ["12.000 EUR", "€12,000.00"], "112,000 EUR"),
        ("1500$", ["$1,500"], "$11,500"),
        ("1,5 €", ["1,50 €"], "11,50 €"),
        ("1.250.000 €", ["€1,250,000", "1 250 000,00 €"], "€11,250,000"),
    ]:
        [amount] = held_phrases(query)
        assert all(amount.found_in(text) for text in written), query
        assert not amount.found_in(other), query  # a longer number
    assert not held_phrases("1,5 €")[0].found_in("1,55 €")
    # ...and with its scale in words (a journalist's "$2.4 million" found a contract's section
    # "2.4", not its "USD 2,400,000"); a scale's letter is money's with a currency alone.
    [scaled] = held_phrases("$2.4 million")
    for text in ("USD 2,400,000", "a $2.4m side letter", "2,4 Mio. €", "2400000"):
        assert scaled.found_in(text), text
    for text in ("2.4 The Operator shall comply", "12,400,000", "$2.45 million"):
        assert not scaled.found_in(text), text
    assert (
        held_phrases("€1,5 Mio.")[0].found_in("1,5 Millionen") and held_phrases("2 m of pipe") == []
    )
    assert len(held_phrases("111 " * 2500)) == 0  # a pasted page (quadratic once: 0.5 s)
    files = tmp_path / "files"
    files.mkdir()
    texts = {
        "lease.txt": "3.1 Base Rent. Tenant shall pay monthly base rent of $4,400.00.",
        "notes.txt": "Case notes: the demand is $187,400 and the rent 4 months late; 400 pages.",
        "msa.txt": "11. Term and Termination. 11.4% interest. Either party may end it.",
        "issues.txt": "Open issue: the notice period in §11.2 is too short.",
        "bank.csv": "2024-05-31;Acme Ltd;1250,00\n2024-06-01;Other;250,00",
        "amendment.txt": "The amendment adds USD 2,400,000 over five years.",
        "terms.txt": "2.4 The Operator shall comply with the service standards.",
    }
    for name, text in texts.items():
        (files / name).write_text(text + "\n")
    index = make_index(tmp_path / "idx")
    index.add([files])
    for mode in ("hybrid", "lexical", "dense"):
        assert [Path(h.path).name for h in index.search("$4,400", k=3, mode=mode)] == [
            "lease.txt"
        ], mode
        assert [Path(h.path).name for h in index.search("§11.2", k=3, mode=mode)] == [
            "issues.txt"
        ], mode
        # An amount written without its thousands' separator, or with it where the passage
        # has none (an architect's "$4400" and "1250 €": FTS5 holds "4" and "400" or "1250")
        for query, name in (
            ("$4400", "lease.txt"),
            ("€1,250", "bank.csv"),
            ("1250 €", "bank.csv"),
            ("$2.4 million", "amendment.txt"),
        ):
            assert [Path(h.path).name for h in index.search(query, k=3, mode=mode)] == [name], (
                query,
                mode,
            )


def test_a_clause_section_or_article_in_a_short_query_is_held_where_documents_write_it(
    tmp_path,
) -> None:
    # A paralegal's: "clause 12.3" ranked a memo without 12.3 above the lease and named the
    # lease's "12. Default" line; "Article 7" ranked "Article 9", which holds "7 500 €"; and
    # `§ 573c` was held as "§ 573", which no passage holds ("573c" is one word): a warning.
    from searchapp.ranking.query_words import held_phrases
    from tests.searchapp.ingest.test_pipeline import make_index

    [clause] = held_phrases("clause 12.3")
    assert clause.found_in("12.3 Termination") and clause.found_in("see Section 12.3 above")
    assert not clause.found_in("EUR 12.30") and not clause.found_in("clause 12.3.1")
    [article] = held_phrases("Art. 7")
    assert article.found_in("Article 7 – Résiliation") and article.found_in("7. Term")
    assert not article.found_in("Article 9: 7 500 €") and not article.found_in("Article 7.1")
    [lettered] = held_phrases("§ 573c BGB")
    assert lettered.found_in("nach § 573c BGB") and not lettered.found_in("nach § 573 BGB")
    # Latin's bis, ter (with a blank or without), a letter of any script; "5th" is none.
    [bis] = held_phrases("article 12bis")
    assert bis.found_in("Article 12 bis – Cession") and not bis.found_in("Article 12 – Objet")
    assert held_phrases("статья 5а")[0].found_in("Статья 5а. Права")
    assert not held_phrases("статья 5а")[0].found_in("Статья 5. Права")
    assert held_phrases("section 5th") == []
    assert held_phrases("Άρθρο 4")[0].found_in("ΑΡΘΡΟ 4 Διάρκεια")
    assert held_phrases("όρος 3.2")[0].found_in("3.2. Η αμοιβή")  # a bookkeeper's
    # Everyday words are no reference words without their abbreviation's dot (a reviewer's
    # "art 2024" and "para 2" held a number).
    for query in ("art 2024", "para 2", "abs 2 sets"):
        assert held_phrases(query) == [], query
    assert [p.text for p in held_phrases("Art. 7")] == ["Art. 7"]
    files = tmp_path / "files"
    files.mkdir()
    texts = {
        "lease.txt": "12. Default\n\nTenant defaults if rent is late.\n\n12.3 Termination. "
        "Either party may terminate on ninety days' notice.",
        "memo.txt": "Renewals memo: clause 12 default rules and the termination notices.",
        "bail.txt": "Article 7 – Résiliation. Le bail peut être résilié.\n\nArticle 9 – "
        "Dépôt de garantie de 7 500 €.",
        "mietvertrag.txt": "§ 4 Kündigung\n\nDie Frist richtet sich nach § 573c BGB.",
    }
    for name, text in texts.items():
        (files / name).write_text(text + "\n")
    index = make_index(tmp_path / "idx")
    index.add([files])
    for mode in ("hybrid", "lexical", "dense"):
        hits = index.search("clause 12.3", k=3, mode=mode)
        assert [(Path(h.path).name, h.line) for h in hits] == [("lease.txt", 5)], mode
        hits = index.search("Article 7", k=3, mode=mode)
        assert [(Path(h.path).name, h.line) for h in hits] == [("bail.txt", 1)], mode
        hits = index.search("§573c", k=3, mode=mode)
        assert [(Path(h.path).name, h.line) for h in hits] == [("mietvertrag.txt", 3)], mode
    # The clause's own heading before the passages citing it, however often they do (a
    # journalist's "clause 12.3": the contract's "12.3 Penalties" was 4th).
    (files / "letter.txt").write_text(
        "We write about clause 12.3 of the lease: clause 12.3, the termination clause, and "
        "the notice clause 12.3 sets.\n"
    )
    index.add([files])
    for mode in ("hybrid", "lexical"):
        hits = index.search("clause 12.3", k=3, mode=mode)
        assert [(Path(h.path).name, h.line) for h in hits][0] == ("lease.txt", 5), mode
        assert "letter.txt" in {Path(h.path).name for h in hits}, mode
    # In a passage, the clause's line before a reference to it (a bookkeeper's hit named
    # "5.2. Clause 4.2 survives termination", the clause itself two lines above).
    from searchapp.ranking.query_words import BestLine

    text = (
        "4. Payment\n4.1. Fees are due monthly.\n4.2. Invoices are payable in 30 days.\n"
        "5. Term\n5.1. One year.\n5.2. Clause 4.2 survives termination."
    )
    lines = BestLine({"clause": 2.0, "4": 0.5, "2": 0.5}, held_phrases("clause 4.2"))
    assert lines.line(text, 20) == 22
    cited = BestLine({"clause": 2.0, "4": 0.5, "2": 0.5}, held_phrases('"clause 4.2"'))
    assert cited.line(text, 20) == 25  # quoted: the words as written


def test_a_hyphenated_name_in_a_short_query_is_held_as_written(tmp_path) -> None:
    # A Go developer's `Retry-After` ranked the retry code's "backoff" and its tests first
    # (retry and after are common words there), and the two places sending the header
    # nowhere; a hyphenated word in lower case, or with a number, is no name.
    from searchapp.ranking.query_words import held_phrases
    from tests.searchapp.ingest.test_pipeline import make_index

    assert [p.text for p in held_phrases("set X-Request-ID")] == ["X-Request-ID"]
    assert held_phrases("leading-edge vortex") == [] and held_phrases("COVID-19 cases") == []
    [wifi] = held_phrases("Wi-Fi password")  # written joined too (a reviewer's)
    assert wifi.found_in("the WiFi network") and not wifi.found_in("wi fi")
    files = tmp_path / "svc"
    files.mkdir()
    texts = {
        "retry.go": "// retry after a failure: retry again after the backoff, retry after\n"
        "func retry(after time.Duration) { time.Sleep(after) } // retry after",
        "ratelimit.go": 'w.Header().Set("Retry-After", strconv.Itoa(wait))',
        "retry_test.go": "func TestRetryAfterBackoff(t *testing.T) { retry(after) }",
    }
    for name, text in texts.items():
        (files / name).write_text(text + "\n")
    index = make_index(tmp_path / "idx")
    index.add([files])
    for mode in ("hybrid", "lexical", "dense"):
        hits = index.search("Retry-After", k=3, mode=mode)
        assert [Path(h.path).name for h in hits] == ["ratelimit.go"], mode


def test_a_date_ranks_the_passages_holding_it_however_they_write_it(tmp_path) -> None:
    # A paralegal's: "April 28, 2025" ranked "February 28, 2025" first, and `2025-04-28` the
    # timesheet's "2025-04-14" line. A historian's German source says "am 25. Mai 1871".
    from searchapp.ranking.query_words import query_date_patterns
    from tests.searchapp.ingest.test_pipeline import make_index

    written = [
        "due April 28, 2025.",
        "on 28 April 2025",
        "Apr. 28th, 2025",
        "2025-04-28 entry",
        "28.04.2025",
        "04/28/2025",
        "le 28 avril 2025",
        "am 28. April 2025",
    ]
    for query in ("April 28, 2025", "2025-04-28", "hearing on 28.04.2025", "04/28/2025"):
        [date] = query_date_patterns(query)
        assert all(date.search(text) for text in written), query
        others = ("February 28, 2025", "2025-04-14", "2025-04-280", "1.28.04.2025")
        assert not any(date.search(text) for text in others), query
    # No year: that day in any year (an ecologist's "what did I do on March 11" ranked a CSV
    # row of 2020-04-11 above the notebook's "## 2024-03-11"); not April 14th, nor the 280th.
    [any_year] = query_date_patterns("what did I do on April 28")
    assert all(any_year.search(text) for text in written)
    assert any_year.search("## 2019-04-28 notes") and any_year.search("April 28th")
    others = ("February 28, 2025", "2025-04-14", "2025-04-280", "April 280", "28 Aprilis")
    assert not any(any_year.search(text) for text in others)
    assert query_date_patterns("I may 3 times") == []
    assert query_date_patterns("2/30/2025") == []  # no such day
    [mai] = query_date_patterns("Bebel Reichstag 25.05.1871")
    assert mai.search("am 25. Mai 1871 im Reichstag") and mai.search("25 de mayo de 1871")
    files = tmp_path / "files"
    files.mkdir()
    texts = {
        "notes.md": "Case notes: deposition of the manager, 2025-04-28.",
        "sow.md": "The statement of work was signed February 28, 2025.",
        "timesheet.csv": "2025-04-14,3.5,review\nother,1.0,calls\n2025-04-28,2.0,deposition prep",
        "2025-04-28.md": "- call the client\n",  # a daily note: its name holds the date
    }
    for name, text in texts.items():
        (files / name).write_text(text + "\n")
    index = make_index(tmp_path / "idx")
    index.add([files])
    for mode in ("hybrid", "lexical"):
        hits = index.search("April 28, 2025", k=4, mode=mode)
        assert Path(hits[-1].path).name == "sow.md" or "sow.md" not in {
            Path(h.path).name for h in hits[:3]
        }, (mode, [h.path for h in hits])
        timesheet = next(h for h in hits if h.path.endswith("timesheet.csv"))
        assert timesheet.line == 3, mode  # the line holding the date
    assert Path(index.search("2025-04-28", k=1)[0].path).name == "2025-04-28.md"


def test_slashed_dates_are_read_as_the_passage_writes_its_others(tmp_path) -> None:
    # A product manager's trial: "what happened on December 3 2023" ranked a WhatsApp chat's
    # "12/03/2023" line (March 12th: the chat also holds 24/11/2023) second.
    from searchapp.ranking.query_words import DatePatterns, slash_order
    from tests.searchapp.ingest.test_pipeline import make_index

    european = "12/03/2023, 14:22 - Alex: the offsite plan\n24/11/2023, 19:06 - Sam: thanks"
    american = "12/03/2023 offsite plan\n11/24/2023 thanks"
    assert (slash_order(european), slash_order(american)) == ("dmy", "mdy")
    assert slash_order("12/03/2023 alone") is None and slash_order("13/01/2023 1/13/2023") is None
    december = DatePatterns("what happened on December 3 2023")
    assert december.found_in(european) == set() and december.found_in(american) == {0}
    assert december.found_in("12/03/2023 alone") == {0}  # either way round, as before
    assert december.found_in("03/12/2023, 10:00 - a\n24/11/2023") == {0}
    assert DatePatterns("on 3.12.2023").found_in("03.12.2023 and 11/24/2023") == {0}
    files = tmp_path / "files"
    files.mkdir()
    (files / "WhatsApp Chat with Alex.txt").write_text(european + "\n")
    (files / "calendar.txt").write_text("03/12/2023, 09:00 - dentist\n25/12/2023 - holiday\n")
    index = make_index(tmp_path / "idx")
    index.add([files])
    hits = index.search("December 3 2023", k=2, mode="lexical")
    assert [Path(h.path).name for h in hits] == ["calendar.txt"]


def test_a_date_alone_ranks_the_row_holding_it_above_rows_of_its_numbers(tmp_path) -> None:
    # A bookkeeper's "4 October 2024": a bank export's every row holds "2024", and a few
    # amounts "4" ("4,00"), which BM25 weighed as the query's rare word; the row of
    # 04/10/2024 was no candidate, and another came first.
    from tests.searchapp.ingest.test_pipeline import make_index

    files = tmp_path / "bank"
    files.mkdir()
    rows = [
        f"{d:02d}/{m:02d}/2024;Shop {d}{m};{d}{m}1,15;-2{d}.{m}53,23"
        for m in range(1, 13)
        for d in (12, 19, 16, 23)
    ]
    rows[5] = "19/02/2024;Water;4,00;-4.553,23"  # "4" as an amount
    rows[20] = "16/06/2024;Phone;4,50;-4.120,00"
    rows.insert(37, "04/10/2024;Supermarket Thessaloniki;390,15;-26.004,57")
    (files / "eurobank.csv").write_text("date;payee;amount;balance\n" + "\n".join(rows) + "\n")
    (files / "notes.md").write_text("Paid 4 invoices in 2024, all on time.\n")
    index = make_index(tmp_path / "idx")
    index.add([files])
    for mode in ("hybrid", "lexical"):
        [hit] = index.search("4 October 2024", k=1, mode=mode)
        assert (Path(hit.path).name, hit.line) == ("eurobank.csv", 39), mode
    # A date alone however written, or with punctuation left over, in lexical mode too: the
    # passages holding that day, and no row holding its numbers apart (a reviewer's).
    (files / "meeting.md").write_text("Met the accountant on October 4th, 2024.\n")
    index.add([files])
    for query in ("4 October 2024", "2024-10-04", "4.10.2024", "4 October 2024?", "(Oct 4, 2024)"):
        for mode in ("hybrid", "lexical"):
            hits = index.search(query, k=5, mode=mode)
            found = sorted((Path(h.path).name, h.line) for h in hits if h.score > 0.01)
            assert found[:2] == [("eurobank.csv", 39), ("meeting.md", 1)], (query, mode)
        hits = index.search(query, k=5, mode="lexical")
        assert len(hits) == 2, (query, [(h.path, h.line) for h in hits])
    hits = index.search("October 4", k=5, mode="lexical")  # any year's
    assert sorted((Path(h.path).name, h.line) for h in hits) == [
        ("eurobank.csv", 39),
        ("meeting.md", 1),
    ]


def test_a_numbered_question_or_figure_in_a_short_query_is_held(tmp_path) -> None:
    # A student's: "Question 3" ranked the passage of Questions 1 and 2 first (its "[3
    # marks]"), and "Question 2" named Question 1's line.
    from searchapp.ranking.query_words import held_phrases
    from tests.searchapp.ingest.test_pipeline import make_index

    assert [p.text for p in held_phrases("Question 3 (a)")] == ["Question 3"]
    assert [p.text for p in held_phrases("Figure 8.3")] == ["Figure 8.3"]
    assert held_phrases("chapter 5") == []  # a file's name may say it alone
    # A researcher's "Figure 6" ranked a book's "Figure 6.1" above the paper's "Figure 6.".
    [figure] = held_phrases("Figure 6")
    assert figure.found_in("as Figure 6. shows") and figure.found_in("(Figure 6, left)")
    assert not figure.found_in("Figure 6.1 shows") and not figure.found_in("Figure 61")
    paper = tmp_path / "exam"
    paper.mkdir()
    (paper / "final.txt").write_text(
        "Question 1 Define viscosity. [3 marks]\nQuestion 2 State Bernoulli's equation. "
        "[4 marks]\n\n\n" + "Filler line of the paper.\n" * 40 + "\nQuestion 3 (a) Derive the "
        "momentum equation. [5 marks]\n"
    )
    index = make_index(tmp_path / "idx")
    index.add([paper])
    lines = (paper / "final.txt").read_text().split("\n")
    for mode in ("hybrid", "lexical"):
        for query in ("Question 2", "Question 3"):
            [hit] = index.search(query, k=1, mode=mode)
            assert lines[hit.line - 1].startswith(query), (mode, query, hit.line)


@pytest.mark.parametrize(
    ("query", "held"),
    [
        ("7f3a9c2e1b4d4e6f8a0b9c8d7e6f5a4b", "7f3a9c2e1b4d4e6f8a0b9c8d7e6f5a4b"),
        ("rid=7f3a9c2e1b4d timeout", "7f3a9c2e1b4d"),
        ("550E8400-e29b-41d4-a716-446655440000", "550E8400-e29b-41d4-a716-446655440000"),
        ("deadbeefcafe", None),  # no digit: a word, perhaps
        ("1234567890123", None),  # no letter: a number
        ("3cacffb", None),  # short: a word may be so spelled
    ],
)
def test_a_hex_id_in_a_short_query_is_held(query, held) -> None:
    # An SRE's pasted request id, in no passage, printed unrelated access-log lines, exit 0.
    from searchapp.ranking.query_words import held_phrases

    assert [p.text for p in held_phrases(query)] == ([held] if held else [])
    if held:
        [phrase] = held_phrases(query)
        assert phrase.found_in(f"GET /api rid={held.lower()} 200")
        assert not phrase.found_in(f"rid={held}0 200") and not phrase.found_in("rid=7f3a 200")


def test_a_timestamp_with_its_date_in_a_short_query_is_held(tmp_path) -> None:
    # A data scientist's: `2024-01-01T11:06:38`, unique in a TSV, found the row of 11:38:02
    # first (the time after a "T" was no token of its own).
    from searchapp.ranking.query_words import held_phrases
    from tests.searchapp.ingest.test_pipeline import make_index

    [stamp] = held_phrases("2024-01-01T11:06:38")
    assert stamp.found_in("2024-01-01T11:06:38\tS049\t21.13")
    assert stamp.found_in("at 2024-01-01 11:06:38.123Z") and not stamp.found_in("11:06:381")
    assert not stamp.found_in("2024-01-01T11:38:02")
    data = tmp_path / "data"
    data.mkdir()
    rows = [f"2024-01-01T11:{m:02d}:{s:02d}\tS0{m}\t{m}.{s}" for m in range(0, 40) for s in (2, 38)]
    for n in range(0, len(rows), 20):  # files of 20 rows
        (data / f"part{n // 20}.tsv").write_text("\n".join(rows[n : n + 20]) + "\n")
    (data / "notes.md").write_text("Reading of 2024-01-01 11:06:38 looked off.\n")
    index = make_index(tmp_path / "idx")
    index.add([data])
    for mode in ("hybrid", "lexical"):
        hits = index.search("2024-01-01T11:06:38", k=5, mode=mode)
        assert sorted(h.path.rsplit("/", 1)[1] for h in hits) == ["notes.md", "part0.tsv"], mode
        row = next(h for h in hits if h.path.endswith("part0.tsv"))
        assert rows[row.line - 1].startswith("2024-01-01T11:06:38"), (mode, row.line)


def test_each_occurrence_of_a_fixed_string_is_one_hit_on_its_line(tmp_path) -> None:
    # A data scientist's `-F "S049 21.13" --per-doc 5`: 5 hits for 3 rows holding it, two
    # of them a second time from an overlapping passage, one naming a row without it.
    from tests.searchapp.ingest.test_pipeline import make_index

    rows = [f"2024-01-01T10:{n % 60:02d}:00\tS{n % 97:03d}\t{n % 50}.{n % 7}" for n in range(400)]
    for at in (50, 151, 333):  # line 334 ends one passage and begins the next (3 lines each)
        rows[at] = f"2024-01-01T11:00:00\tS049\t21.13\trow {at}"
    rows[331] = rows[335] = "2024-01-01T11:00:02\tS049\t20.00"  # a word of it, in both
    data = tmp_path / "data"
    data.mkdir()
    (data / "sensor.tsv").write_text("\n".join(rows) + "\n")
    index = make_index(tmp_path / "idx")
    index.add([data])
    hits = index.search("S049 21.13", k=10, per_doc=10, fixed=True)
    assert sorted(hit.line for hit in hits) == [51, 152, 334]
    assert all("S049\t21.13" in rows[hit.line - 1] for hit in hits)
