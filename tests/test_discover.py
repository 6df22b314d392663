"""Discovery by weighted log-odds with an informative Dirichlet prior."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from reasonlens.errors import ConfigError
from reasonlens.stats.ngrams import ngram_counts, text_log_odds

VOCAB = ("the a of to and is we x y value so then compute find number answer it that this "
         "for with as on be are can by one two three").split()


def _corpus(seed: int, planted: dict[str, float], n_texts: int = 150, length: int = 60):
    rng = random.Random(seed)
    out = []
    for _ in range(n_texts):
        words = [rng.choice(VOCAB) for _ in range(length)]
        for word, p in planted.items():
            words = [word if rng.random() < p else w for w in words]
        out.append(" ".join(words))
    return pl.Series(out)


def test_recovers_a_planted_difference():
    a = _corpus(1, {"wait": 0.02, "hmm maybe": 0.01})
    b = _corpus(2, {"therefore": 0.02})
    res = text_log_odds(a, b)
    assert res.columns == ["term", "count_a", "count_b", "per_1k_a", "per_1k_b", "log_odds", "z",
                           "n"]
    top_a = res.filter(pl.col("n") == 1).row(0, named=True)
    top_b = res.filter(pl.col("n") == 1).sort("z").row(0, named=True)
    assert top_a["term"] == "wait" and top_a["z"] > 5 and top_a["log_odds"] > 0
    assert top_b["term"] == "therefore" and top_b["z"] < -5
    # the planted bigram is found among the bigrams that favour A
    bigrams_a = res.filter((pl.col("n") == 2) & (pl.col("z") > 3))["term"].to_list()
    assert "hmm maybe" in bigrams_a
    # ordinary vocabulary is not flagged strongly
    common = res.filter(pl.col("term").is_in(["the", "value", "compute"]))
    assert (common["z"].abs() < 3.5).all()


def test_z_matches_the_monroe_formula_by_hand():
    a = pl.Series(["wait wait wait x", "x y"])
    b = pl.Series(["x y", "y y x"])
    res = text_log_odds(a, b, ngrams=(1,), min_count=1, prior_scale=0.5)
    row = res.filter(pl.col("term") == "wait").row(0, named=True)
    ya, yb, na, nb = 3, 0, 6, 5
    a0 = 0.5 * (na + nb)
    aw = (ya + yb) / (na + nb) * a0
    delta = math.log((ya + aw) / (na + a0 - ya - aw)) - math.log((yb + aw) / (nb + a0 - yb - aw))
    z = delta / math.sqrt(1 / (ya + aw) + 1 / (yb + aw))
    assert row["log_odds"] == pytest.approx(delta)
    assert row["z"] == pytest.approx(z)
    assert row["per_1k_a"] == pytest.approx(3 * 1000 / 6)


def test_top_per_side_min_count_and_symmetry():
    a = _corpus(3, {"wait": 0.03})
    b = _corpus(4, {"step": 0.03})
    top = text_log_odds(a, b, top=3)
    assert (top["z"] > 0).sum() == 3 and (top["z"] < 0).sum() == 3
    assert top["z"].to_list() == sorted(top["z"].to_list(), reverse=True)
    swapped = text_log_odds(b, a)
    assert swapped.filter(pl.col("term") == "wait")["z"].item() == pytest.approx(
        -text_log_odds(a, b).filter(pl.col("term") == "wait")["z"].item())
    rare = text_log_odds(pl.Series(["zyx " + "a " * 50]), pl.Series(["a " * 50]), min_count=2)
    assert "zyx" not in rare["term"].to_list()


def test_tokens_are_lowercased_words_and_latex_commands():
    c = ngram_counts(pl.Series(["Wait, WAIT \\frac{1}{2} let's"]), ngrams=(1, 2))
    uni = dict(c.filter(pl.col("n") == 1).select("term", "count").iter_rows())
    assert uni == {"wait": 2, "\\frac": 1, "1": 1, "2": 1, "let's": 1}
    bi = set(c.filter(pl.col("n") == 2)["term"].to_list())
    assert "wait wait" in bi and "2 let's" in bi


def test_bad_arguments():
    with pytest.raises(ConfigError, match="ngrams"):
        ngram_counts(pl.Series(["a"]), ngrams=(4,))
    with pytest.raises(ConfigError, match="at least one word"):
        text_log_odds(pl.Series(["a b"]), pl.Series([""]))
