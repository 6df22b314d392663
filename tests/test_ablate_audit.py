"""Ablation audit: leakage by any spelling, loops, paired deltas, substitutions (pure)."""

from __future__ import annotations

import polars as pl
import pytest

from reasonlens.ablate import audit


@pytest.mark.parametrize("text", ["Wait, that is wrong.", "W ait, no.", "wa-it a second",
                                  "W-A-I-T!", "w.a.i.t", "wa\u200bit, hmm", "WAIT",
                                  "so\n\nWait"])
def test_leakage_finds_every_spelling(text):
    per, lex = audit.leakage(pl.DataFrame({"response": [text]}), ["wait"],
                             single_token_lexemes=["wait"])
    assert per["leak_count"][0] == 1 and per["leak_single"][0] == 1
    assert lex.filter(pl.col("lexeme") == "wait")["responses"][0] == 1


@pytest.mark.parametrize("text", ["I was waiting for it.", "Kuwait is a country.", "await x",
                                  "the waitress", "w a i t e r"])
def test_leakage_ignores_other_words(text):
    per, _ = audit.leakage(pl.DataFrame({"response": [text]}), ["wait"])
    assert per["leak_count"][0] == 0


@pytest.mark.parametrize("text", ["It may be 3.", "May be so.", "this may\nbe it"])
def test_leakage_does_not_count_may_be_as_maybe(text):
    """Issue 13 finding 5: two ordinary words are not a spelling of the banned "maybe"."""
    per, lex = audit.leakage(pl.DataFrame({"response": [text]}), ["maybe"],
                             single_token_lexemes=["maybe"])
    assert per["leak_count"][0] == 0 and per["leak_single"][0] == 0
    assert lex["responses"][0] == 0


@pytest.mark.parametrize("text", ["mayb e", "M aybe", "may-be", "m a y b e"])
def test_leakage_still_finds_spaced_maybe(text):
    per, _ = audit.leakage(pl.DataFrame({"response": [text]}), ["maybe"])
    assert per["leak_obfuscated"][0] == 1


def test_leakage_exact_vs_obfuscated_and_phrases():
    df = pl.DataFrame({"id": ["a", "b", "c"],
                       "response": ["Let me think. W ait.", "let\n me see", "so it is"],
                       "reasoning": [None, "", "Hmm, but why"]})
    per, lex = audit.leakage(df, ["wait", "let me", "but", "so"])
    assert per["id"].to_list() == ["a", "b", "c"]
    assert per["leak_exact"].to_list() == [1, 1, 2]
    assert per["leak_obfuscated"].to_list() == [1, 0, 0]
    rows = {r["lexeme"]: r for r in lex.to_dicts()}
    assert rows["let me"]["responses"] == 2 and rows["wait"]["obfuscated"] == 1
    # short lexemes are exact-only: "s o" is not "so"
    per2, _ = audit.leakage(pl.DataFrame({"response": ["s o", "i f x"]}), ["so", "if"])
    assert per2["leak_count"].to_list() == [0, 0]


def test_looping():
    loop = "Let me compute the sum again. " * 12
    assert audit.is_looping("Some intro. " + loop)
    assert not audit.is_looping("A normal answer with varied words, each one different. " * 1)
    shape = audit.shape_stats(pl.DataFrame({
        "response": [loop, "short", "ok"], "finish_reason": ["length", "stop", None],
        "completion_tokens": [100, 3, 1]}))
    assert shape["repetition_rate"] == pytest.approx(1 / 3)
    assert shape["clip_ratio"] == pytest.approx(0.5)
    assert shape["mean_length"] == pytest.approx(104 / 3) and shape["length_unit"] == "tokens"


def _graded(correct: dict[str, list]) -> pl.DataFrame:
    rows = [{"benchmark": "b", "problem_id": p, "sample": s, "correct": c}
            for p, cs in correct.items() for s, c in enumerate(cs)]
    return pl.DataFrame(rows, schema={"benchmark": pl.String, "problem_id": pl.String,
                                      "sample": pl.Int64, "correct": pl.Boolean})


def test_paired_delta():
    base = _graded({"1": [True, True], "2": [True, False], "3": [False, False],
                    "4": [True, True]})
    abl = _graded({"1": [False, True], "2": [None, False], "3": [False, False],
                   "4": [True, True], "5": [True, True]})
    d = audit.paired_delta(abl, base, n_boot=2000, seed=0)
    assert d["n_paired_problems"] == 4                    # problem 5 has no pair
    assert d["delta"] == pytest.approx((-0.5 - 0.5 + 0 + 0) / 4)
    lo, hi = d["delta_ci"]
    assert -0.5 <= lo <= d["delta"] <= hi <= 0.0
    same = audit.paired_delta(base, base)
    assert same["delta"] == 0.0 and same["delta_ci"] == [0.0, 0.0]


def test_substitutions_rank_the_workaround():
    none = pl.DataFrame({"response": ["Wait, let me check the sum again."] * 6
                         + ["The answer is four."] * 6})
    banned = pl.DataFrame({"response": ["Hold on, recheck the sum again."] * 6
                           + ["The answer is four."] * 6})
    sub = audit.substitutions(banned, none, ["wait"], condition="all", top=10, min_count=2)
    assert sub["condition"].unique().to_list() == ["all"]
    assert sub["rank"].to_list() == list(range(1, sub.height + 1))
    assert {"recheck", "hold"} & set(sub["term"].head(4).to_list())
    assert "wait" not in sub["term"].to_list()          # it went down, not up
    assert (sub["z"] > 0).all()
