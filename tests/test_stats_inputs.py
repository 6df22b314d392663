"""Input detection, JSON tables, accuracy / pass@k / lengths, and the `reasonlens stats` CLI."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reasonlens.errors import InputError
from reasonlens.stats import StatsConfig, analyse, load_inputs
from reasonlens.stats.accuracy import (accuracy_table, length_histogram, length_summary,
                                       pass_at_k_table)
from reasonlens.stats.inputs import detect_kinds, discover
from reasonlens.devtools.synthetic import SyntheticConfig, synthetic_frames, write_synthetic
from reasonlens.stats.tables import ablation_frame, agreement_frame, metrics_frame

SMALL = SyntheticConfig(n_problems=6, n_samples=4)
FAST = StatsConfig(n_boot=200)


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    write_synthetic(d, SMALL)
    return d


def test_detect_kinds_and_discover_one_level_down(syn, tmp_path):
    assert detect_kinds(syn / "score") == ["score"]
    assert detect_kinds(syn / "grade") == ["grade"]
    assert detect_kinds(syn / "judge") == ["judge"]
    assert detect_kinds(syn / "judge-eval") == ["judge-eval"]
    assert detect_kinds(syn / "ablate") == ["ablate"]
    kinds = sorted(i.kind for i in discover([syn]))
    assert kinds == ["ablate", "grade", "judge", "judge-eval", "score"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a reasonlens stage output"):
        discover([tmp_path / "empty"])
    with pytest.raises(InputError, match="no such file"):
        discover([tmp_path / "missing"])


def test_load_inputs_reads_no_response_text_and_keeps_provenance(syn, tmp_path):
    g = pl.read_parquet(syn / "grade" / "graded.parquet").with_columns(
        pl.lit("long response text").alias("response"))
    (tmp_path / "grade").mkdir()
    g.write_parquet(tmp_path / "grade" / "graded.parquet")
    (tmp_path / "grade" / "metrics.json").write_bytes((syn / "grade" / "metrics.json")
                                                      .read_bytes())
    inp = load_inputs([tmp_path / "grade"])
    assert "response" not in inp.graded.columns and "correct" in inp.graded.columns
    inp = load_inputs([syn])
    assert inp.kinds == {"score", "grade", "judge", "judge-eval", "ablate"}
    assert all(i.provenance and i.provenance["command"] for i in inp.items)


def test_missing_column_names_file_and_field(tmp_path):
    d = tmp_path / "score"
    d.mkdir()
    pl.DataFrame({"id": ["x"], "model": ["m"]}).write_parquet(d / "responses.parquet")
    (d / "summary.json").write_text("{}")
    with pytest.raises(InputError) as e:
        load_inputs([d])
    assert "responses.parquet" in str(e.value) and "'words'" in str(e.value)


def test_accuracy_and_pass_at_k_agree_with_the_grade_module():
    metrics = pytest.importorskip("reasonlens.grade.metrics")
    fr = synthetic_frames(SMALL)
    g = fr["graded"].with_columns(pl.when(pl.col("grade_reason") == "ok")
                                  .then(pl.col("correct")).otherwise(None).alias("correct"))
    acc = accuracy_table(g, FAST)
    pk = pass_at_k_table(g, config=FAST)
    ref = metrics.compute_metrics(g, n_boot=50)
    for row in acc.iter_rows(named=True):
        b = ref["models"][row["model"]]["benchmarks"][row["benchmark"]]
        assert row["accuracy"] == pytest.approx(b["accuracy"])
        assert row["n_problems"] == b["n_problems"] and row["n_samples"] == b["n_samples"]
        assert row["ci_low"] <= row["accuracy"] <= row["ci_high"]
    for row in pk.iter_rows(named=True):
        b = ref["models"][row["model"]]["benchmarks"][row["benchmark"]]
        assert row["pass_at_k"] == pytest.approx(b["pass_at_k"][str(row["k"])])
    assert sorted(pk["k"].unique().to_list()) == [1, 2, 4]


def test_pass_at_k_hand_example():
    g = pl.DataFrame({"id": [str(i) for i in range(8)], "model": ["m"] * 8,
                      "benchmark": ["b"] * 8, "problem_id": ["p"] * 4 + ["q"] * 4,
                      "correct": [True, False, False, False] + [False] * 4})
    pk = pass_at_k_table(g, ks=[1, 2, 4], config=FAST)
    got = dict(zip(pk["k"], pk["pass_at_k"]))
    # problem p: 1 of 4 correct -> pass@1 .25, pass@2 = 1 - C(3,2)/C(4,2) = .5, pass@4 = 1; q: 0
    assert got[1] == pytest.approx(0.125) and got[2] == pytest.approx(0.25)
    assert got[4] == pytest.approx(0.5)


def test_lengths_and_histogram():
    fr = synthetic_frames(SMALL)
    ls = length_summary(fr["responses"], config=FAST)
    pooled = ls.filter(pl.col("benchmark") == "(all)")
    assert pooled.height == 3 and pooled["n_responses"].to_list() == [72, 72, 72]
    assert (ls["ci_low"] <= ls["mean"]).all() and (ls["mean"] <= ls["ci_high"]).all()
    h = length_histogram(fr["responses"], bins=12)
    assert h.height == 3 * 12
    for (_m,), sub in h.group_by("model"):
        assert sub["count"].sum() == 72 and sub["share"].sum() == pytest.approx(1.0)


def test_json_tables():
    m = metrics_frame([{"models": {"M": {"benchmarks": {"B": {
        "n_problems": 30, "n_samples": 120, "accuracy": 0.5, "accuracy_ci": [0.4, 0.6],
        "clip_ratio": 0.1}}}}}])
    assert m.row(0, named=True)["ci_low"] == 0.4 and m["n_samples"][0] == 120
    a = ablation_frame([{"conditions": {"ban": {"accuracy": 0.4, "accuracy_ci": [0.3, 0.5],
                                                "delta_vs_none": -0.1, "delta_ci": [-0.2, 0.0],
                                                "n_banned_ids": 12}}}], {"ban": 99})
    r = a.row(0, named=True)
    assert r["delta_ci_low"] == -0.2 and r["n_samples"] == 99
    ag = agreement_frame([{"multi_perspective": {"n": 40, "kappa": 0.6, "kappa_ci": [0.4, 0.8],
                                                 "by_model": {"m1": {"n": 20, "f1": 0.7}}},
                           "provenance": {"git_commit": "x"}}])
    rows = {(r["scope"], r["metric"]): r for r in ag.iter_rows(named=True)}
    assert rows[("all", "kappa")]["ci_high"] == 0.8 and rows[("all", "kappa")]["n"] == 40
    assert rows[("model/m1", "f1")]["n"] == 20 and rows[("model/m1", "f1")]["ci_low"] is None
    # judge-eval's own layout: behaviours.B.overall.M = {"value", "ci"}, by_style blocks
    je = {"judge": ["offline"], "n_responses": 50, "bootstrap": {"n_boot": 10},
          "behaviours": {"metacognitive": {
              "overall": {"n": 50, "n_missing": 1, "gold_mean_count": 1.2,
                          "instances": {"tp": 3}, "kappa": {"value": 0.7, "ci": [0.5, 0.85]},
                          "mae": {"value": 0.4, "ci": None}},
              "by_style": {"distilled": {"n": 25, "f1": {"value": 0.8, "ci": [0.6, 0.9]}}}}}}
    rows = {(r["behaviour"], r["scope"], r["metric"]): r
            for r in agreement_frame([je]).iter_rows(named=True)}
    assert set(rows) == {("metacognitive", "all", "kappa"), ("metacognitive", "all", "mae"),
                         ("metacognitive", "style/distilled", "f1")}
    k = rows[("metacognitive", "all", "kappa")]
    assert (k["estimate"], k["ci_low"], k["ci_high"], k["n"]) == (0.7, 0.5, 0.85, 50)
    assert rows[("metacognitive", "all", "mae")]["ci_low"] is None


def test_analyse_all_tables(syn):
    tables = analyse(load_inputs([syn]), FAST, reference="distilled")
    assert {"category_rates", "comparisons", "term_rates", "term_tests", "log_odds",
            "stratified_rates", "behaviour_rates", "behaviour_comparisons", "accuracy",
            "accuracy_metrics", "pass_at_k", "correctness", "lengths", "length_hist", "ablation",
            "agreement"} <= set(tables)
    assert set(tables["comparisons"]["reference"]) == {"distilled"}
    for name, df in tables.items():
        assert df.height > 0, name
        assert not any(c.startswith("_") for c in df.columns), name


def test_stats_cli_writes_tables_and_prints_comparison(syn, tmp_path, capsys):
    from reasonlens.cli import main
    from reasonlens.io import parquet_provenance, read_json

    out = tmp_path / "stats"
    main(["stats", str(syn / "score"), str(syn / "grade"), "--out", str(out), "--n-boot", "50",
          "--reference", "zero-rl"])
    printed = capsys.readouterr().out
    assert "Rate ratios" in printed and "zero-rl" in printed
    idx = read_json(out / "stats.json")
    assert idx["tables"]["comparisons"]["rows"] > 0 and idx["provenance"]["command"] == "stats"
    comp = pl.read_parquet(out / "comparisons.parquet")
    assert set(comp["reference"]) == {"zero-rl"}
    assert pl.read_csv(out / "accuracy.csv").height == 9
    assert parquet_provenance(out / "category_rates.parquet")["config"]["n_boot"] == 50
    assert np.isfinite(comp["rate_ratio"].to_numpy()).all()
