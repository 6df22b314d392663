"""One accuracy estimator: grade's metrics.json and the stats tables agree, also when problems have
different numbers of samples (every problem weighs the same: avg@n = unbiased pass@1)."""

from __future__ import annotations

import polars as pl
import pytest

from reasonlens.grade import compute_metrics
from reasonlens.stats.accuracy import accuracy_table, default_ks, pass_at_k_table
from reasonlens.stats.bootstrap import StatsConfig

FAST = StatsConfig(n_boot=50)


def _uneven() -> pl.DataFrame:
    # p0: 1 of 2 correct; p1: 8 of 8 correct; p2: 0 of 4 -> per problem 0.5, 1, 0
    per = {"p0": [True, False], "p1": [True] * 8, "p2": [False] * 4}
    rows = [{"id": f"{p}:{s}", "model": "m", "benchmark": "b", "problem_id": p, "sample": s,
             "correct": ok, "extracted": "1", "grade_reason": "ok", "response": "x"}
            for p, oks in per.items() for s, ok in enumerate(oks)]
    return pl.DataFrame(rows)


def test_accuracy_weighs_problems_equally_in_grade_and_stats():
    g = _uneven()
    grade = compute_metrics(g, n_boot=0)["models"]["m"]["benchmarks"]["b"]
    acc = accuracy_table(g, FAST).row(0, named=True)
    p1 = pass_at_k_table(g, ks=[1], config=FAST).row(0, named=True)
    assert grade["accuracy"] == pytest.approx(0.5)        # (0.5 + 1 + 0) / 3, not 9/14
    assert acc["accuracy"] == pytest.approx(grade["accuracy"])
    assert p1["pass_at_k"] == pytest.approx(grade["pass_at_k"]["1"]) == pytest.approx(0.5)


def test_default_ks_are_shared():
    assert default_ks(10) == [1, 2, 4, 8, 10]
    g = pl.concat([_uneven().filter(pl.col("problem_id") != "p0")])  # 8 and 4 samples
    ks = pass_at_k_table(g, config=FAST)["k"].to_list()
    grade = compute_metrics(g, n_boot=0)["models"]["m"]["benchmarks"]["b"]
    assert ks == default_ks(4) == [int(k) for k in grade["pass_at_k"]]


def test_no_gold_responses_are_left_out_alike():
    g = pl.concat([_uneven(), pl.DataFrame({
        "id": ["x:0", "x:1"], "model": ["m", "m"], "benchmark": ["b", "b"],
        "problem_id": ["x", "x"], "sample": [0, 1], "correct": [None, None],
        "extracted": ["3", "3"], "grade_reason": ["no_gold", "no_gold"],
        "response": ["x", "x"]}, schema_overrides={"correct": pl.Boolean})])
    grade = compute_metrics(g, n_boot=0)["models"]["m"]["benchmarks"]["b"]
    acc = accuracy_table(g, FAST).row(0, named=True)
    assert grade["n_problems"] == acc["n_problems"] == 3
    assert grade["accuracy"] == pytest.approx(acc["accuracy"]) == pytest.approx(0.5)
    assert pass_at_k_table(g, ks=[1], config=FAST)["pass_at_k"][0] == pytest.approx(0.5)


def test_pass_at_k_rows_come_in_model_and_benchmark_order_whatever_the_input_order():
    """The row order was the order in which an unstable sort by problem id met the models, so
    two runs over the same outputs could write their rows in different orders."""
    base = _uneven()
    g = pl.concat([base.with_columns(pl.lit(m).alias("model"), pl.lit(b).alias("benchmark"),
                                     (pl.lit(f"{m}{b}:") + pl.col("id")).alias("id"))
                   for m in ("zeta", "alpha") for b in ("y", "x")])
    want = [("alpha", "x"), ("alpha", "y"), ("zeta", "x"), ("zeta", "y")]
    for seed in range(4):
        out = pass_at_k_table(g.sample(fraction=1.0, shuffle=True, seed=seed), ks=[1, 2],
                              config=FAST)
        got = list(dict.fromkeys(out.select("model", "benchmark").iter_rows()))
        assert got == want
