"""Curves over training steps: the step field, the curve tables, stats output."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import reasonlens as rl
from reasonlens.cli import main
from reasonlens.stats import StatsConfig
from reasonlens.stats.accuracy import accuracy_table
from reasonlens.stats.curves import accuracy_curves, category_curves, has_steps, step_curves
from reasonlens.stats.rates import category_rates

REPO = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO / "examples" / "checkpoints.jsonl"
CFG = StatsConfig(n_boot=50)


def test_checkpoint_example_is_reproducible():
    import importlib.util

    spec = importlib.util.spec_from_file_location("mk", REPO / "examples" / "make_checkpoints.py")
    mk = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mk)

    traces = [json.loads(x) for x in (REPO / "examples" / "traces.jsonl").read_text().splitlines()]
    want = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in mk.checkpoint_records(traces))
    assert CHECKPOINTS.read_text(encoding="utf-8") == want


def test_step_from_a_column_and_from_a_mapped_checkpoint_name():
    top = rl.load_traces(CHECKPOINTS)
    assert sorted(top["step"].unique().to_list()) == [100, 200]
    mapped = rl.load_traces(CHECKPOINTS, fields={"step": "meta.checkpoint"})  # "checkpoint-100"
    assert mapped["step"].to_list() == top["step"].to_list()


def test_default_ids_differ_between_steps(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("".join(json.dumps({"model": "m", "problem_id": "p1", "response": "x",
                                     "global_step": s}) + "\n" for s in (10, 10, 20)))
    t = rl.load_traces(p)
    assert t["step"].to_list() == [10, 10, 20]
    assert t["id"].to_list() == ["m:unknown:p1:0@10", "m:unknown:p1:1@10", "m:unknown:p1:0@20"]


def test_a_bad_step_names_file_line_and_field(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"response": "x", "step": 3}) + "\n"
                 + json.dumps({"response": "y", "step": "final"}) + "\n")
    with pytest.raises(rl.InputError) as e:
        rl.load_traces(p)
    assert (e.value.line, e.value.field) == (2, "step") and str(p) in str(e.value)


@pytest.fixture(scope="module")
def staged():
    t = rl.load_traces(CHECKPOINTS)
    return t, rl.score(t), rl.grade(t, n_boot=20)


def test_curve_points_are_the_pooled_estimators_on_each_step(staged):
    _, scored, graded = staged
    r, g = scored.responses, graded.graded
    cc = category_curves(r, CFG)
    ca = accuracy_curves(g, CFG)
    assert cc["step"].dtype == pl.Int64 and sorted(cc["step"].unique()) == [100, 200]
    for step in (100, 200):
        sub = category_rates(r.filter(pl.col("step") == step), config=CFG)
        got = cc.filter(pl.col("step") == step).sort("model", "category", "metric")
        want = sub.sort("model", "category", "metric")
        assert got["estimate"].to_list() == pytest.approx(want["estimate"].to_list())
        assert got["n_responses"].to_list() == want["n_responses"].to_list()
        acc = accuracy_table(g.filter(pl.col("step") == step), config=CFG).sort("model")
        got_a = ca.filter(pl.col("step") == step).sort("model")
        assert got_a["estimate"].to_list() == pytest.approx(acc["accuracy"].to_list())
    zr = cc.filter((pl.col("model") == "zero-rl-32b-example") & (pl.col("metric") ==
                                                                 "per_1k_words")
                   & (pl.col("category") == "anthropomorphic")).sort("step")
    assert zr["estimate"][1] > zr["ci_high"][0]   # the illustrative data rises clearly
    assert (ca["ci_low"] <= ca["estimate"]).all() and (ca["estimate"] <= ca["ci_high"]).all()


def test_behaviour_curves_take_the_step_from_the_responses(staged):
    t, scored, graded = staged
    j = rl.judge(t).judgments
    assert "step" not in j.columns
    out = step_curves(scored.responses, graded.graded, j, CFG)
    assert set(out) == {"curves_categories", "curves_behaviours", "curves_accuracy"}
    cb = out["curves_behaviours"].filter(pl.col("metric") == "mean_per_response")
    z = cb.filter((pl.col("model") == "zero-rl-32b-example")
                  & (pl.col("behaviour") == "metacognitive")).sort("step")
    lo, hi = z["estimate"].to_list()
    assert lo < 0.5 and hi > 1.0 and z["ci_low"][1] > z["ci_high"][0]   # reflection learned


def test_one_step_gives_no_curves(staged):
    _, scored, graded = staged
    one = scored.responses.filter(pl.col("step") == 100)
    assert not has_steps(one) and not has_steps(scored.responses.drop("step"))
    assert step_curves(one, graded.graded.filter(pl.col("step") == 100), None, CFG) == {}


def test_stats_cli_writes_curve_tables(tmp_path):
    main(["stats", str(CHECKPOINTS), "--out", str(tmp_path / "st"), "--n-boot", "20",
          "--format", "csv"])
    cur = pl.read_csv(tmp_path / "st" / "curves_categories.csv")
    assert {"model", "benchmark", "step", "category", "metric", "estimate", "ci_low",
            "ci_high", "n_responses", "n_problems"} <= set(cur.columns)
    assert sorted(cur["step"].unique().to_list()) == [100, 200]
