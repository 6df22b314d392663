"""One log-odds estimator with one prior: `reasonlens diff` and the report's distinctive-words
table (stats `log_odds`, drawn by report.charts.distinctive_words_chart) give the same z-scores on
the shipped example traces, and the estimator follows Monroe, Colaresi & Quinn (2008) by hand."""

from __future__ import annotations

import math
from importlib.resources import files
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.cli import cli
from reasonlens.errors import ConfigError
from reasonlens.stats import StatsConfig, analyse, load_inputs
from reasonlens.stats.logodds import PRIOR_SCALE, log_odds

EXAMPLE = Path(str(files("reasonlens"))) / "resources" / "examples" / "traces.jsonl"


def test_diff_and_report_give_the_same_z_on_the_example(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["score", str(EXAMPLE), "--out", str(tmp_path / "score")])
    assert res.exit_code == 0, res.output
    diff_out = tmp_path / "diff.parquet"
    res = runner.invoke(cli, ["diff", str(EXAMPLE), "--ngrams", "1,2,3", "--min-count", "1",
                              "--out", str(diff_out)])
    assert res.exit_code == 0, res.output
    diff = pl.read_parquet(diff_out)
    report = analyse(load_inputs([tmp_path / "score"]), StatsConfig(n_boot=0))["log_odds"]
    models = sorted({*report["model_a"], *report["model_b"]})
    assert len(models) == 2 and report.height >= 20
    # diff's group A is the first model by name; the report's A is the non-reference model
    sign = report.select(pl.when(pl.col("model_a") == models[0]).then(1.0).otherwise(-1.0)
                         .alias("s"))["s"]
    report = report.with_columns((pl.col("z") * sign).alias("z_a"))
    both = report.join(diff.select("term", pl.col("z").alias("z_diff"),
                                   pl.col("count_a").alias("diff_count_a")), on="term",
                       how="inner")
    assert both.height == report.height  # every lexicon term of the report is an n-gram of diff
    assert both["z_a"].to_list() == pytest.approx(both["z_diff"].to_list(), rel=1e-9)
    assert (both["z_diff"].abs() > 2).sum() >= 5  # the comparison is not between near-zeros


def test_estimator_matches_the_formula_by_hand():
    counts = pl.DataFrame({"term": ["wait", "x"], "count_a": [3, 2], "count_b": [0, 4]})
    got = log_odds(counts, 10, 20, min_count=1).row(0, named=True)
    ya, yb, na, nb = 3, 0, 10, 20
    a0 = PRIOR_SCALE * (na + nb)
    aw = a0 * (ya + yb) / (na + nb)
    delta = math.log((ya + aw) / (na + a0 - ya - aw)) - math.log((yb + aw) / (nb + a0 - yb - aw))
    assert got["term"] == "wait"
    assert got["log_odds"] == pytest.approx(delta)
    assert got["z"] == pytest.approx(delta / math.sqrt(1 / (ya + aw) + 1 / (yb + aw)))
    assert got["per_1k_a"] == pytest.approx(300.0)
    # the prior of a term depends only on its own counts: dropping other rows changes nothing
    alone = log_odds(counts.head(1), 10, 20, min_count=1)
    assert alone["z"][0] == pytest.approx(got["z"])
    assert log_odds(counts, 10, 20, min_count=6).height == 1


def test_estimator_refuses_empty_groups_and_bad_priors():
    counts = pl.DataFrame({"term": ["a"], "count_a": [1], "count_b": [0]})
    with pytest.raises(ConfigError, match="at least one word"):
        log_odds(counts, 5, 0)
    with pytest.raises(ConfigError, match="prior_scale"):
        log_odds(counts, 5, 5, prior_scale=0)
