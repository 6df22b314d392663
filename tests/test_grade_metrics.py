"""Metrics: unbiased pass@k against brute force, the lighteval#771 check, maj@k, bootstrap CIs,
clip ratio and lengths."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest

from reasonlens.grade import compute_metrics
from reasonlens.stats.accuracy import default_ks, pass_at_k
from reasonlens.stats.bootstrap import mean_ci


def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of k-subsets of n samples (c correct) with at least one correct."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 5, 8])
def test_pass_at_k_matches_brute_force(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12)
            assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k))


def test_pass_at_k_rejects_k_above_n_and_large_n_is_stable():
    with pytest.raises(ValueError):
        pass_at_k(4, 1, 5)
    v = pass_at_k(1024, 3, 64)   # the product form needs no huge binomials
    assert 0 < v < 1 and v == pytest.approx(1 - math.comb(1021, 64) / math.comb(1024, 64))


def _graded(per_problem: list[list[bool | None]], *, model="m", bench="b", **extra) -> pl.DataFrame:
    rows = []
    for p, samples in enumerate(per_problem):
        for s, ok in enumerate(samples):
            rows.append({"model": model, "benchmark": bench, "problem_id": f"p{p}", "sample": s,
                         "correct": ok, "extracted": None if ok is None else str(int(bool(ok))),
                         "grade_reason": "ok" if ok is not None else "no_answer",
                         "answer_type": "integer", "response": "a b c",
                         "finish_reason": "stop", "completion_tokens": 10 + s})
    return pl.DataFrame(rows).with_columns(pl.col("correct").cast(pl.Boolean))


def test_pass_at_1_does_not_fall_as_samples_grow():
    """lighteval#771: pass@1 fell 0.44 -> 0.22 -> 0.11 as samples went 8 -> 16 -> 32. With the
    same per-problem success rate, pass@1 (= avg@n) must stay put whatever n is."""
    rng = np.random.default_rng(7)
    rates = rng.uniform(0, 1, size=30)
    values = []
    for n in (8, 16, 32, 64):
        per = [[i < round(r * n) for i in range(n)] for r in rates]
        m = compute_metrics(_graded(per), n_boot=0)["models"]["m"]["benchmarks"]["b"]
        values.append(m["pass_at_k"]["1"])
        assert m["pass_at_k"]["1"] == pytest.approx(m["accuracy"])
        assert list(m["pass_at_k"]) == [str(k) for k in default_ks(n)]
        ps = [m["pass_at_k"][k] for k in m["pass_at_k"]]
        assert ps == sorted(ps)   # pass@k grows with k
    assert max(values) - min(values) < 0.02


def test_metrics_shape_counts_and_ungradable_as_wrong():
    per = [[True, True, False, None], [False, False, False, False], [True, True, True, True]]
    out = compute_metrics(_graded(per), n_boot=200, seed=3)
    b = out["models"]["m"]["benchmarks"]["b"]
    assert b["n_problems"] == 3 and b["n_samples"] == 12 and b["n_correct"] == 6
    assert b["accuracy"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert b["pass_at_k"]["4"] == pytest.approx(2 / 3)
    assert b["grade_reasons"] == {"ok": 11, "no_answer": 1} and b["ungradable"] == 1
    lo, hi = b["accuracy_ci"]
    assert 0 <= lo <= b["accuracy"] <= hi <= 1
    assert b["clip_ratio"] == 0.0
    assert b["length_unit"] == "tokens" and b["mean_length"] == pytest.approx(11.5)


def test_maj_at_k_uses_first_k_samples_and_vote_keys():
    rows = []
    answers = {"p0": ["25", "025", "7", "25.0"], "p1": ["1", "2", "2", "3"]}
    golds = {"p0": "25", "p1": "3"}
    for pid, ans in answers.items():
        for s, a in enumerate(ans):
            rows.append({"model": "m", "benchmark": "b", "problem_id": pid, "sample": s,
                         "extracted": a, "correct": int(float(a)) == int(golds[pid]),
                         "answer_type": "integer", "response": "x", "grade_reason": "ok"})
    b = compute_metrics(pl.DataFrame(rows), n_boot=0)["models"]["m"]["benchmarks"]["b"]
    # p0: "25", "025", "25.0" are one vote -> right; p1: "2" wins -> wrong
    assert b["maj_at_k"]["4"] == pytest.approx(0.5)
    # maj@1 is the first sample's correctness
    assert b["maj_at_k"]["1"] == pytest.approx(0.5)


def test_bootstrap_is_seeded_and_resamples_problems():
    x = np.array([0.0, 0.25, 1.0, 0.5, 0.75, 1.0, 0.0])
    est, lo, hi = mean_ci(x, n_boot=500, seed=11)
    assert (est, lo, hi) == mean_ci(x, n_boot=500, seed=11)
    assert (lo, hi) != mean_ci(x, n_boot=500, seed=12)[1:]
    assert lo < est < hi and est == pytest.approx(x.mean())
    assert mean_ci(np.array([]), n_boot=10) == (None, None, None)
    assert mean_ci(np.array([0.5]), n_boot=10) == (0.5, None, None)  # no zero-width CI


def test_pass_at_k_over_arrays_matches_the_scalar_form():
    n, c = np.array([4, 8, 2]), np.array([1, 0, 2])
    got = pass_at_k(n, c, 4)
    assert got[:2].tolist() == [pass_at_k(4, 1, 4), pass_at_k(8, 0, 4)]
    assert np.isnan(got[2])  # fewer than k samples


def test_clip_ratio_lengths_in_words_and_groups():
    df = pl.DataFrame({
        "model": ["a", "a", "a", "b"], "benchmark": ["x", "x", "y", "x"],
        "problem_id": ["1", "2", "1", "1"], "sample": [0, 0, 0, 0],
        "correct": [True, None, False, True], "extracted": ["1", None, "2", "1"],
        "finish_reason": ["stop", "length", None, "stop"],
        "response": ["one two three", "one two three four five", "a", "b c"],
        "completion_tokens": [None, 12, 3, None],
    }, schema_overrides={"completion_tokens": pl.Int64})
    out = compute_metrics(df, n_boot=0)
    ax = out["models"]["a"]["benchmarks"]["x"]
    assert ax["clip_ratio"] == 0.5
    assert ax["length_unit"] == "words" and ax["mean_length"] == 4.0   # a token count missing
    ay = out["models"]["a"]["benchmarks"]["y"]
    assert ay["clip_ratio"] is None and ay["length_unit"] == "tokens"
    assert set(out["models"]) == {"a", "b"}


def test_maj_at_k_has_a_bootstrap_ci_like_accuracy():
    ok = np.random.default_rng(5).random((20, 3)) < 0.5
    rows = [{"model": "m", "benchmark": "b", "problem_id": f"p{p}", "sample": s,
             "extracted": "1" if ok[p, s] else str(2 + s), "correct": bool(ok[p, s]),
             "grade_reason": "ok"} for p in range(20) for s in range(3)]
    b = compute_metrics(pl.DataFrame(rows), n_boot=200)["models"]["m"]["benchmarks"]["b"]
    for k, v in b["maj_at_k"].items():
        lo, hi = b["maj_at_k_ci"][k]
        assert lo <= v <= hi and lo < hi
