"""The fast path's work split (byte-balanced units on threads) and its byte scanner (blocks,
bit-packed run counting, the other-scripts check) give exactly what one pass gives."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reasonlens.lexicon import compile_lexicons, count_long, word_count
from reasonlens.lexicon import count as count_mod
from reasonlens.lexicon import words as words_mod
from reasonlens.lexicon.count import LATEX_PATTERN, WORD_PATTERN, fast_count

REPO = Path(__file__).resolve().parent.parent
ALL = ("anthropomorphic", "connectors", "math", "reflection")
# another script's letter or digit beside an ASCII word character or hyphen (the definition
# that words.touching_other_scripts implements on the bytes)
_NA = r"[\p{L}\p{N}&&[^\x00-\x7F]]"
_AW = r"[A-Za-z0-9_\-\u2010\u2011]"
TOUCH_PATTERN = f"(?:{_AW}{_NA})|(?:{_NA}{_AW})"
ODD = [None, "", "résumé wait", "所以wait我们 but", "\\frac12 wait-é so-called", "Wait—maybe",
       "x" * 8, "ab cd ef", "", None, "’wait’ l’hôpital ½ ²so", "\\" + "a" * 40 + "1 wait"]


def _regex_words(texts: pl.Series) -> list[int]:
    t = texts.fill_null("")
    return (t.str.count_matches(LATEX_PATTERN + "|" + WORD_PATTERN)
            - t.str.count_matches(LATEX_PATTERN)).to_list()


def _touching(texts: pl.Series) -> list[bool]:
    return texts.str.contains(TOUCH_PATTERN).fill_null(False).to_list()


def _random_texts(seed: int, n: int) -> pl.Series:
    rng = random.Random(seed)
    alphabet = list("ab1_ -'’\\‐‑é所\u0301\n.—x😀Z{}²ℕ") + ["\\frac", "wait", "so-", "\\" + "b" * 30]
    out = []
    for _ in range(n):
        r = rng.random()
        out.append(None if r < 0.1 else "" if r < 0.25 else
                   "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))))
    return pl.Series(out + ["", None, ""], dtype=pl.String)   # empty texts at the very end too


@pytest.mark.parametrize("block", [1, 7, 8, 16, 333, 1 << 21])
def test_byte_scan_with_any_block_cut_equals_the_regexes(monkeypatch, block):
    """Blocks cut anywhere (1 byte, a packed byte's 8, odd sizes), empty texts and nulls at the
    block ends: word totals equal the word regex, the other-scripts check equals its regex."""
    monkeypatch.setattr(words_mod, "BLOCK_BYTES", block)
    monkeypatch.setattr(words_mod, "_SCRATCH", words_mod._Scratch())
    texts = pl.concat([_random_texts(block, 1500), pl.Series(ODD * 3, dtype=pl.String)])
    totals, touching = words_mod.scan_texts(texts)[:2]
    assert totals.tolist() == _regex_words(texts) and totals.sum() > 3000
    assert touching.tolist() == _touching(texts) and 50 < touching.sum() < len(texts)
    assert words_mod.count_words(texts).tolist() == totals.tolist()
    assert words_mod.touching_other_scripts(texts).tolist() == touching.tolist()


def test_run_counts_at_packed_byte_edges():
    # texts ending on and just after a multiple of 8 bytes, followed by empty texts
    cases = [["abcdefgh ijklmno", ""], ["abcd efgh ij", "", ""], ["ab cd e", ""], ["a"],
             ["abcdefgh ijklmno x", None], ["", "a", ""], ["abcdefg", "h", "abcdefgh", "i"],
             ["a" * 64, "b" * 64, "", "c d"], []]
    for case in cases:
        s = pl.Series(case, dtype=pl.String)
        assert word_count(s).to_list() == _regex_words(s), case


def _real_texts(shared: Path) -> list[str | None]:
    texts: list[str | None] = []
    for f in sorted((shared / "schoenfeld-dev").glob("*.json"))[:8]:
        texts.append(" ".join(s["text"] for s in json.loads(f.read_text())["data"]))
    for i, line in enumerate(open(shared / "simplerl-eval" / "math500" / "test.jsonl",
                                  encoding="utf-8")):
        if i >= 300:
            break
        d = json.loads(line)
        texts += [d["problem"], d["solution"]]
    rng = random.Random(3)
    for s in ODD * 4:                       # nulls, empties, non-ASCII at random positions
        texts.insert(rng.randrange(len(texts) + 1), s)
    return texts


def test_units_cover_the_rows_in_order_with_balanced_bytes(shared_data, monkeypatch):
    texts = pl.Series(_real_texts(shared_data), dtype=pl.String)
    sizes = texts.str.len_bytes().fill_null(0).to_numpy()
    for unit_bytes, threads in ((1 << 40, 2), (50_000, 2), (7_777, 3), (1 << 40, 1)):
        monkeypatch.setattr(count_mod, "UNIT_BYTES", unit_bytes)
        units = count_mod._units(texts, threads)
        assert units[0][0] == 0 and units[-1][1] == len(texts)
        assert all(a < b for a, b in units) and all(b == c for (_, b), (c, _) in
                                                    zip(units, units[1:]))
        assert len(units) >= min(threads, -(-int(sizes.sum()) // unit_bytes))
        per = [int(sizes[a:b].sum()) for a, b in units]
        # each unit's bytes differ from the mean by less than one text
        assert max(per) - min(per) <= 2 * int(sizes.max())
    assert count_mod._units(pl.Series([], dtype=pl.String), 2) == []


def test_units_and_threads_give_the_counts_of_one_pass(shared_data, monkeypatch):
    """Real R1 traces and MATH-500 texts with nulls, empty and non-ASCII texts at random places:
    any cut into units, on any number of threads, gives the long counts and word totals of one
    unit on one thread, and those equal count_long and word_count."""
    texts = pl.Series(_real_texts(shared_data), dtype=pl.String)
    m = compile_lexicons(ALL)
    monkeypatch.setattr(count_mod, "UNIT_BYTES", 1 << 40)
    one, one_words = fast_count(texts, m, words=True, threads=1)
    assert one["count"].sum() > 4000 and one_words.sum() > 30_000
    assert one.equals(count_long(texts, m, "fast"))
    assert one_words.to_list() == _regex_words(texts)
    for unit_bytes, threads in ((50_000, 2), (7_777, 3), (1 << 40, 2), (3_001, 4)):
        monkeypatch.setattr(count_mod, "UNIT_BYTES", unit_bytes)
        long, words = fast_count(texts, m, words=True, threads=threads)
        assert long.equals(one), (unit_bytes, threads)
        assert words.to_list() == one_words.to_list(), (unit_bytes, threads)
    # a text per unit, and no words asked
    monkeypatch.setattr(count_mod, "UNIT_BYTES", 1)
    head = texts.head(120)
    long, none = fast_count(head, m, threads=2)
    assert none is None and long.equals(count_long(head, m, "fast"))
    assert long.equals(one.filter(pl.col("row") < 120))


def test_a_term_in_two_lexicons_through_the_units(monkeypatch):
    from reasonlens.lexicon import Lexicon

    a = Lexicon.from_terms("a", ["wait", "but", "\\frac"])
    b = Lexicon.from_terms("b", ["wait", "so"])
    m = compile_lexicons([a, b])
    texts = pl.Series(["wait but so \\frac{1}{2} wait", None, "", "so wait"] * 50)
    monkeypatch.setattr(count_mod, "UNIT_BYTES", 100)
    long, _ = fast_count(texts, m, threads=2)
    got = long.filter(pl.col("row") == 0).select("category", "term", "count").rows()
    assert sorted(got) == [("a", "\\frac", 1), ("a", "but", 1), ("a", "wait", 2),
                           ("b", "so", 1), ("b", "wait", 2)]
    assert len(long) == 50 * 5 + 50 * 3
    per_row = long.group_by("row").agg(pl.col("count").sum()).sort("row")
    assert np.array_equal(per_row["count"].to_numpy(), np.tile([7, 3], 50))


def test_latex_terms_from_the_byte_scan_equal_the_latex_regex_pass(monkeypatch, shared_data):
    """LaTeX terms counted from the commands the byte scan finds (a command counts when its
    whole name is a term's) equal the LaTeX regex pass: case, longer commands (\\cdots for
    \\cdot), 1 and 10 letters, doubled backslashes, commands at text and block ends; a term
    of more than 10 letters falls back to the regex pass."""
    from reasonlens.lexicon import Lexicon

    short = compile_lexicons([
        Lexicon.from_terms("a", ["\\frac", "\\Frac", "\\sum", "\\cdot", "\\a", "\\abcdefghij",
                                 "wait", "but"]),
        Lexicon.from_terms("b", ["\\cdots", "\\frac", "so"])])
    long_name = compile_lexicons([Lexicon.from_terms("c", ["\\abcdefghijk", "\\frac", "so"])])
    monkeypatch.setattr(count_mod, "USE_KERNEL", False)     # the regex and numpy path
    assert count_mod._latex_codes(short) is not None
    assert count_mod._latex_codes(long_name) is None
    rng = random.Random(5)
    parts = ["\\", "\\\\", "frac", "Frac", "sum", "cdot", "cdots", "a", "abcdefghij",
             "abcdefghijk", "x", "1", " ", "{", "}", "é", "wait", "_", "-"]
    texts = pl.Series(["".join(rng.choice(parts) for _ in range(rng.randint(0, 30)))
                       if rng.random() > 0.1 else None for _ in range(3000)]
                      + _real_texts(shared_data)[:200], dtype=pl.String)
    for m in (short, long_name, compile_lexicons(ALL)):
        for unit_bytes in (1 << 40, 997):
            monkeypatch.setattr(count_mod, "UNIT_BYTES", unit_bytes)
            monkeypatch.setattr(count_mod, "LATEX_FROM_SCAN", True)
            scanned, words = fast_count(texts, m, words=True, threads=2)
            no_words, _ = fast_count(texts, m, threads=2)
            monkeypatch.setattr(count_mod, "LATEX_FROM_SCAN", False)
            regex, regex_words = fast_count(texts, m, words=True, threads=2)
            assert scanned.equals(regex) and no_words.equals(regex)
            assert words.equals(regex_words)
            assert regex.filter(pl.col("term").str.starts_with("\\"))["count"].sum() > 300


def test_regex_before_the_byte_scan_counts_the_same(shared_data, monkeypatch):
    """A unit that runs its regex pass first (every other unit when only a few start at once)
    re-counts the mixed texts once the scan has found them: the same long counts, also for a
    lexicon with a non-ASCII term (the full Unicode pattern) and for the LaTeX regex pass."""
    from reasonlens.lexicon import Lexicon

    monkeypatch.setattr(count_mod, "USE_KERNEL", False)     # the regex and numpy path
    texts = pl.Series(_real_texts(shared_data) + ODD * 5, dtype=pl.String)
    lexicons = [compile_lexicons(ALL),
                compile_lexicons([Lexicon.from_terms("n", ["naïve", "wait", "so", "\\frac"])]),
                compile_lexicons([Lexicon.from_terms("c", ["\\abcdefghijk", "\\frac", "but"])])]
    for m in lexicons:
        plain, w1 = count_mod._unit_counts(texts, 7, m, True)
        first, w2 = count_mod._unit_counts(texts, 7, m, True, regex_first=True)
        assert first.equals(plain) and np.array_equal(w1, w2)
        assert plain["row"].min() >= 7 and plain["count"].sum() > 100
    assert sum(_touching(texts)) > 10        # mixed texts are there to be re-counted
