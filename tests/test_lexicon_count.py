"""Lexicon loading and counting: edge cases, fast vs exact agreement, lemma mode."""

from __future__ import annotations

import json
import re
from pathlib import Path

import polars as pl
import pytest

from reasonlens.errors import ConfigError, UnknownNameError
from reasonlens.lexicon import (Lexicon, compile_lexicons, count_frame, count_long,
                                list_lexicons, load_lexicon, word_count)

REPO = Path(__file__).resolve().parent.parent
ALL = ("anthropomorphic", "connectors", "math", "reflection")


def counts(text: str, terms, mode="fast", **kw) -> dict[str, int]:
    lex = terms if isinstance(terms, (Lexicon, str)) else Lexicon.from_terms("t", terms)
    df = count_long(pl.Series([text]), [lex], mode, **kw)
    return {r["term"]: r["count"] for r in df.iter_rows(named=True)}


# --- lexicon files ---------------------------------------------------------------------------

def test_shipped_lexicons_load_with_versions_and_hashes():
    names = list_lexicons()
    for name in ALL:
        assert name in names
        lx = load_lexicon(name)
        assert lx.name == name and re.fullmatch(r"\d+\.\d+\.\d+", lx.version)
        assert len(lx.sha256) == 64 and lx.terms and lx.description
        rec = lx.record()
        assert rec["name"] == name and rec["sha256"] == lx.sha256 and rec["n_terms"] == len(lx.terms)
    assert {"wait", "maybe", "let me"} <= set(load_lexicon("anthropomorphic").terms)
    assert {"but", "alternatively", "on the other hand"} <= set(load_lexicon("connectors").terms)
    assert "double-check" in load_lexicon("reflection").terms


def test_unknown_lexicon_lists_valid_names():
    with pytest.raises(UnknownNameError, match="anthropomorphic"):
        load_lexicon("no-such-lexicon")


def test_user_lexicon_from_path(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "hedges"\nversion = "0.2"\nterms = ["Perhaps", "it seems", "kind-of"]\n')
    lx = load_lexicon(str(p))
    assert lx.name == "hedges" and lx.version == "0.2"
    assert lx.terms == ("perhaps", "it seems", "kind-of")
    assert counts("Perhaps it  seems kind-of odd; perhaps.", lx) == {
        "perhaps": 2, "it seems": 1, "kind-of": 1}


@pytest.mark.parametrize("body, message", [
    ('name = "x"\nversion = "1"\nterms = ["wait", "Wait"]', "duplicates"),
    ('name = "x"\nversion = "1"\nterms = ["wait!"]', "not a valid term"),
    ('name = "x"\nversion = "1"\nterms = [" -wait"]', "not a valid term"),
    ('name = "x"\nversion = "1"\nterms = []', "non-empty list"),
    ('name = "x"\nversion = "1"\nterms = [3]', "must be a string"),
    ('name = "Bad-Name"\nversion = "1"\nterms = ["a"]', "lower-case identifier"),
    ('name = "words"\nversion = "1"\nterms = ["a"]', "reserved"),
    ('name = "step"\nversion = "1"\nterms = ["a"]', "reserved"),  # a responses column too
    ('version = "1"\nterms = ["a"]', "'name' is required"),
])
def test_bad_lexicon_files_are_rejected_naming_the_file(tmp_path, body, message):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(ConfigError, match=message) as info:
        load_lexicon(str(p))
    assert "bad.toml" in str(info.value)


# --- matching edge cases ---------------------------------------------------------------------

def test_glued_punctuation_and_case():
    assert counts("Wait, wait. WAIT! (wait) 'wait' \"wait\" wait... wait?", ["wait"]) == {"wait": 8}
    assert counts("Wait—then wait–no wait-", ["wait"]) == {"wait": 3}


def test_await_and_other_substrings_are_not_words():
    assert counts("await awaiting waits waiting _wait wait_ wait2 2wait", ["wait"]) == {}
    assert counts("But butter rebut but", ["but"]) == {"but": 2}
    assert counts("Also also-ran alsO", ["also"]) == {"also": 2}


def test_apostrophes_straight_and_curly():
    c = counts("Let's go. let’s see. LET'S. lets not. I'm sure, I’m sure.", ["let's", "i'm"])
    assert c == {"let's": 3, "i'm": 2}
    # a term written with the curly quote matches both too
    assert counts("let's let’s", ["let’s"]) == {"let's": 2}


def test_hyphenated_terms_and_compounds():
    terms = ["double-check", "double check", "well", "so", "check"]
    text = ("Let me double-check. Double‑check (non-breaking hyphen) and double check; "
            "well-known results are well known, so-called checks; re-check it.")
    c = counts(text, terms)
    assert c == {"double-check": 2, "double check": 1, "well": 1}
    # a compound never yields its parts: "re-check" is not "check", "so-called" not "so"
    assert "check" not in c and "so" not in c


def test_phrases_span_newlines_and_runs_of_whitespace():
    text = "On the other\nhand, let\n\n me see.  Let   me think.\tLet me."
    c = counts(text, ["on the other hand", "let me", "me"])
    assert c == {"on the other hand": 1, "let me": 3}


def test_longest_phrase_first_no_double_counting():
    c = counts("I'm not sure. Not sure. I'm fine.", ["i'm not sure", "not sure", "i'm"])
    assert c == {"i'm not sure": 1, "not sure": 1, "i'm": 1}


def test_latex_commands_are_not_words_and_not_matched_inside():
    terms = ["sum", "frac", "\\frac", "\\sum", "\\pi", "text", "wait", "mod"]
    text = ("$\\frac{1}{2} + \\sum_{i=1}^n i$ and \\dfrac{a}{b}, the sum is $\\Pi$ or \\pi; "
            "\\text{wait} \\pmod{7} \\mod 5, frac")
    c = counts(text, terms)
    assert c == {"\\frac": 1, "\\sum": 1, "\\pi": 1, "sum": 1, "wait": 1, "frac": 1}


def test_terms_never_match_inside_words_of_other_scripts():
    terms = ["sum", "wait", "so", "but", "x", "naïve", "k"]
    text = ("résumé 所以wait我们 éwait waitè é-wait wait-é xéso naïveté x² ŝo sum wait, so but naïve."
            " \u212a K")   # the Kelvin sign is a letter of another script; its lower case is k
    expected = {"sum": 1, "wait": 1, "so": 1, "but": 1, "naïve": 1, "k": 1}
    assert counts(text, terms) == expected
    assert counts(text, terms, "exact") == expected


def test_word_count_rules():
    texts = pl.Series(["Let's double-check: \\frac{12}{5} is 2.4, not x².",
                       "", None, "naïve café — ok", "<think>", "a_b c-d-e don't"])
    assert word_count(texts).to_list() == [9, 0, 0, 3, 1, 3]


def test_count_frame_shape_and_zero_rows():
    texts = pl.Series(["Wait, so we compute it.", "", "Alternatively, maybe."])
    df = count_frame(texts, ["anthropomorphic", "connectors", "math"])
    assert df.columns == ["anthropomorphic", "connectors", "math", "terms"]
    assert df["anthropomorphic"].to_list() == [1, 0, 1]
    assert df["connectors"].to_list() == [1, 0, 1]
    assert df["math"].to_list() == [1, 0, 0]
    assert df["terms"][1] is None or len(df["terms"][1]) == 0
    assert {t["term"] for t in df["terms"][2]} == {"alternatively", "maybe"}


def test_a_term_in_two_lexicons_counts_for_both():
    a = Lexicon.from_terms("hedge", ["maybe", "so"])
    b = Lexicon.from_terms("conn", ["so", "but"])
    df = count_frame(pl.Series(["So maybe, but so."]), [a, b])
    assert df.row(0)[:2] == (3, 3)


def test_lemma_mode_counts_inflections_only_in_exact_mode():
    text = "Waiting for it, I computed the roots, then verifying. Well, first."
    exact = counts(text, ["wait", "compute", "verify", "root", "well", "first"], "exact")
    lemma = counts(text, ["wait", "compute", "verify", "root", "well", "first"], "exact",
                   lemma=True)
    assert exact == {"well": 1, "first": 1}
    assert lemma == {"wait": 1, "compute": 1, "verify": 1, "root": 1, "well": 1, "first": 1}
    # a surface term wins over its lemma; the lookup table's "first" -> "1" is never used
    assert counts("1 and 2, first", ["first"], "exact", lemma=True) == {"first": 1}
    with pytest.raises(ConfigError, match="exact"):
        counts(text, ["wait"], "fast", lemma=True)


# --- fast vs exact ---------------------------------------------------------------------------

EDGE_SENTENCES = [
    "Wait, wait—maybe. Hmm... let's see, let’s double-check; re-check it. I cannot see it.",
    "Alternatively, on the other\nhand, we could compute $\\frac{a}{b}$ and \\sum_i x_i.",
    "So-called well-known results: I think so, but I'm not sure. No wait, OK, okay.",
    "await awaiting _wait wait_ wait2 (wait) [but] {so} x=so; and/or either-or.",
    "Let me verify again: 2+2=4. Therefore, it follows that x=4. Thus hence.",
    "Hmm, hold on. I'll try again; I've got it, I'd say. Myself, my, me. Right?",
    "Step 1: Substitute $x = 5$ into \\text{the equation}; simplify: \\boxed{12}.",
    # letters and digits of other scripts are word characters: no term inside these words
    "My résumé sums it up; naïve café, so ŝo. 所以wait我们 wait 所以 but 但是but.",
    "éwait waitè é-wait wait-é x-wait wait-xéy waitéx ℕwait wait² x² so² ²so; wait.",
    "Ça, c'est bon: wait… Ждать wait, Wait—no. ｗａｉｔ (fullwidth) wait’s l’hôpital.",
]


def _corpus(shared: Path | None) -> list[str]:
    texts = list(EDGE_SENTENCES)
    for line in open(REPO / "examples" / "traces.jsonl", encoding="utf-8"):
        texts.append(json.loads(line)["response"])
    if shared is not None:
        for line in open(shared / "simplerl-eval" / "math500" / "test.jsonl", encoding="utf-8"):
            d = json.loads(line)
            texts += [d["problem"], d["solution"]]
    return texts


def _agree(texts: list[str]) -> int:
    m = compile_lexicons(ALL)
    s = pl.Series(texts)
    fast = count_long(s, m, "fast")
    exact = count_long(s, m, "exact")
    diff = fast.join(exact, on=["row", "category", "term"], how="full", coalesce=True,
                     suffix="_exact").filter(
        pl.col("count").fill_null(0) != pl.col("count_exact").fill_null(0))
    assert diff.is_empty(), diff.head(20).with_columns(
        pl.col("row").map_elements(lambda r: texts[r][:120], return_dtype=pl.String)
        .alias("text")).to_dicts()
    return int(fast["count"].sum())


def test_fast_and_exact_agree_on_edge_cases_and_example_traces():
    assert _agree(_corpus(None)) > 500


def test_fast_and_exact_agree_on_real_problem_text(shared_data):
    assert _agree(_corpus(shared_data)) > 5000


# --- word totals from the bytes vs the word regex --------------------------------------------

def _regex_words(texts: pl.Series) -> list[int]:
    from reasonlens.lexicon.count import LATEX_PATTERN, WORD_PATTERN

    t = texts.fill_null("")
    return (t.str.count_matches(LATEX_PATTERN + "|" + WORD_PATTERN)
            - t.str.count_matches(LATEX_PATTERN)).to_list()


WORD_EDGES = [
    "Let's double-check: \\frac{12}{5} is 2.4, not x².", "", None, "naïve café — ok", "<think>",
    "a_b c-d-e don't", "\\frac12 \\frac-x a-\\b I’m a'’b 所以wait我们 résumé x‑y --a-- 'a' \\",
    "ab\\", "cd", "\\ab", "c-", "-d", "e’", "’f", "\\fracé \\frac_1 é-", "-x",
    "\u0301a e\u0301 e\u0301-x", "\\\\alpha2-b 3.5-4 ‐ ‑ ’", "\\" + "a" * 200 + "1 b", "😀a 😀-b",
]


def test_byte_word_count_equals_the_word_regex_on_edges_and_random_texts():
    import random

    edges = pl.Series(WORD_EDGES * 3)
    assert word_count(edges).to_list() == _regex_words(edges)
    rng = random.Random(7)
    alphabet = list("ab1_ -'’\\‐‑é所\u0301\n.—x😀")
    rand = pl.Series(["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
                      for _ in range(20000)])
    assert word_count(rand).to_list() == _regex_words(rand)


def test_byte_word_count_equals_the_word_regex_on_real_text(shared_data):
    texts = pl.Series(_corpus(shared_data) * 40)  # > one 2 MB block, so blocks are cut
    got = word_count(texts).to_list()
    assert got == _regex_words(texts) and sum(got) > 1_000_000


def test_ascii_pattern_with_replaced_letters_equals_the_unicode_pattern(shared_data,
                                                                        monkeypatch):
    """The regex path's small ASCII automaton (other scripts' letters touching a word replaced
    by '_') counts exactly what the Unicode-class alternation counts."""
    import dataclasses

    from reasonlens.lexicon import count as count_mod

    monkeypatch.setattr(count_mod, "USE_KERNEL", False)

    texts = pl.Series(_corpus(shared_data) + EDGE_SENTENCES * 5 + WORD_EDGES[:2]
                      + [s for s in WORD_EDGES[3:] if s])
    m = compile_lexicons(ALL)
    assert m.ascii_pattern is not None
    unicode_only = dataclasses.replace(m, ascii_pattern=None)
    a, b = count_long(texts, m, "fast"), count_long(texts, unicode_only, "fast")
    assert a.equals(b) and a["count"].sum() > 5000
