"""GLM rate ratios, term tests, multiple-testing corrections, correctness model, log-odds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reasonlens.stats import (StatsConfig, adjust_pvalues, compare_models, correctness_model,
                              term_log_odds, term_tests)


def simulate(rr=0.5, n_problems=60, n_samples=4, seed=0, problem_sd=0.7, nb_size=2.0):
    """Two models on the same problems; model b's rate is rr x model a's; long-tailed lengths."""
    rng = np.random.default_rng(seed)
    peff = rng.normal(0, problem_sd, n_problems)
    rows = []
    for m, ratio in (("a", 1.0), ("b", rr)):
        for p in range(n_problems):
            for s in range(n_samples):
                w = int(rng.lognormal(6.5, 0.5)) + 20
                mu = 6.0 * w / 1000 * ratio * np.exp(peff[p])
                c = rng.negative_binomial(nb_size, nb_size / (nb_size + mu))
                rows.append((f"{m}:{p}:{s}", m, "bench", f"p{p}", s, w, int(c)))
    return pl.DataFrame(rows, schema=["id", "model", "benchmark", "problem_id", "sample",
                                      "words", "cat"], orient="row").with_columns(
        (pl.col("cat") / pl.col("words") * 1000).alias("cat_per_1k"))


@pytest.mark.parametrize("method", ["negbin", "poisson"])
def test_glm_recovers_planted_rate_ratio(method):
    df = simulate(rr=0.5)
    out = compare_models(df, ["cat"], reference="a", config=StatsConfig(method=method))
    row = out.row(0, named=True)
    assert row["model"] == "b" and row["reference"] == "a" and row["status"] == "ok"
    assert row["ci_low"] < 0.5 < row["ci_high"]
    assert row["ci_high"] < 0.8 and row["p_value"] < 1e-4
    assert row["n_problems"] == 60 and row["n_responses"] == 480
    assert row["family"] == ("negbin" if method == "negbin" else "poisson")
    if method == "negbin":
        assert row["alpha"] > 0


def test_glm_without_effect_gives_ci_covering_one():
    out = compare_models(simulate(rr=1.0, seed=3), ["cat"], reference="a")
    row = out.row(0, named=True)
    assert row["ci_low"] < 1.0 < row["ci_high"] and row["p_value"] > 0.05


def test_clustered_standard_errors_are_wider_than_naive():
    import statsmodels.api as sm

    df = simulate(rr=0.5, problem_sd=1.0)
    row = compare_models(df, ["cat"], reference="a",
                         config=StatsConfig(method="poisson")).row(0, named=True)
    X = np.column_stack([np.ones(df.height), (df["model"] == "b").to_numpy().astype(float)])
    naive = sm.GLM(df["cat"].to_numpy(), X, family=sm.families.Poisson(),
                   offset=np.log(df["words"].to_numpy())).fit()
    width_naive = np.exp(naive.params[1] + 1.96 * naive.bse[1]) - np.exp(
        naive.params[1] - 1.96 * naive.bse[1])
    assert row["rate_ratio"] == pytest.approx(np.exp(naive.params[1]), rel=1e-6)
    assert row["ci_high"] - row["ci_low"] > 1.5 * width_naive


def test_mixed_model_option_estimates_a_ratio_near_the_planted_one():
    df = simulate(rr=0.5, nb_size=50.0)
    row = compare_models(df, ["cat"], reference="a",
                         config=StatsConfig(method="mixed")).row(0, named=True)
    assert row["family"] == "mixed-lm (log rate)" and row["status"] == "ok"
    assert 0.35 < row["rate_ratio"] < 0.75 and row["ci_high"] < 1.0


def test_by_benchmark_fits_and_zero_counts_status():
    a = simulate(seed=1).with_columns(pl.lit("x").alias("benchmark"))
    b = simulate(seed=2).with_columns(pl.lit("y").alias("benchmark"),
                                      (pl.col("problem_id") + "y").alias("problem_id"))
    df = pl.concat([a, b])
    out = compare_models(df, ["cat"], reference="a", by_benchmark=True)
    assert set(out["benchmark"]) == {"(all)", "x", "y"}
    zero = df.with_columns(pl.when(pl.col("model") == "b").then(0).otherwise(pl.col("cat"))
                           .alias("cat"))
    row = compare_models(zero, ["cat"], reference="a").row(0, named=True)
    assert row["status"] == "zero counts for this model" and row["p_value"] is None


def test_unknown_reference_is_a_config_error():
    from reasonlens.errors import ConfigError

    with pytest.raises(ConfigError, match="reference model 'zzz'"):
        compare_models(simulate(), ["cat"], reference="zzz")


def test_holm_and_bh_match_statsmodels_and_hand_values():
    from statsmodels.stats.multitest import multipletests

    df = adjust_pvalues(pl.DataFrame({"p_value": [0.01, 0.04, 0.03]}))
    assert df["p_holm"].to_list() == pytest.approx([0.03, 0.06, 0.06])
    assert df["p_bh"].to_list() == pytest.approx([0.03, 0.04, 0.04])
    p = np.random.default_rng(0).uniform(0, 0.2, 50)
    got = adjust_pvalues(pl.DataFrame({"p_value": list(p) + [None]}))
    assert got["p_holm"][:50].to_list() == pytest.approx(multipletests(p, method="holm")[1])
    assert got["p_bh"][:50].to_list() == pytest.approx(multipletests(p, method="fdr_bh")[1])
    assert got["p_holm"][50] is None and got["p_bh"][50] is None


def _terms_from(df: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Split each response's 'cat' count over two terms (wait: 70%, but: 30%)."""
    wait = rng.binomial(df["cat"].to_numpy(), 0.7)
    rows = []
    for rid, m, w, c in zip(df["id"], df["model"], wait, df["cat"]):
        if w:
            rows.append((rid, m, "c", "wait", "reasoning", int(w)))
        if c - w:
            rows.append((rid, m, "c", "but", "reasoning", int(c - w)))
    return pl.DataFrame(rows, schema=["id", "model", "category", "term", "part", "count"],
                        orient="row")


def test_term_tests_equal_statsmodels_cluster_robust_poisson():
    import statsmodels.api as sm

    df = simulate(rr=0.6)
    terms = _terms_from(df, np.random.default_rng(1))
    tt = term_tests(terms, df, reference="a")
    assert set(tt.columns) >= {"p_holm", "p_bh", "rate_ratio", "ci_low", "ci_high"}
    row = tt.filter(pl.col("term") == "wait").row(0, named=True)
    y = df.join(terms.filter(pl.col("term") == "wait").select("id", "count"), on="id",
                how="left")["count"].fill_null(0).to_numpy()
    X = np.column_stack([np.ones(df.height), (df["model"] == "b").to_numpy().astype(float)])
    g = np.unique(df["problem_id"].to_numpy(), return_inverse=True)[1]
    res = sm.GLM(y, X, family=sm.families.Poisson(), offset=np.log(df["words"].to_numpy())).fit(
        cov_type="cluster", cov_kwds={"groups": g, "use_correction": False})
    G = 60
    se = res.bse[1] * np.sqrt(G / (G - 1))
    assert row["rate_ratio"] == pytest.approx(np.exp(res.params[1]), rel=1e-6)
    assert row["ci_low"] == pytest.approx(np.exp(res.params[1] - 1.959964 * se), rel=1e-4)
    assert row["ci_high"] == pytest.approx(np.exp(res.params[1] + 1.959964 * se), rel=1e-4)


def test_correctness_model_finds_planted_association():
    rng = np.random.default_rng(0)
    df = simulate(rr=1.0, n_problems=120, seed=4)
    logit = -0.5 + 0.8 * np.log1p(df["cat"].to_numpy()) - 0.3 * np.log(df["words"].to_numpy())
    graded = df.select("id").with_columns(pl.Series("correct", rng.random(df.height) < 1 / (
        1 + np.exp(-(logit - logit.mean())))))
    out = correctness_model(df, graded)
    row = out.filter(pl.col("term") == "cat").row(0, named=True)
    assert row["status"] == "ok" and row["odds_ratio"] > 1.3 and row["ci_low"] > 1.0
    assert row["n_responses"] == df.height and {"p_holm", "p_bh"} <= set(out.columns)
    assert "log_words" in out["term"].to_list()
    const = correctness_model(df, graded.with_columns(pl.lit(True).alias("correct")))
    assert const["status"].unique().to_list() == ["correctness does not vary"]


def test_log_odds_sign_points_to_the_model_that_overuses():
    resp = pl.DataFrame({"id": ["a1", "a2", "b1", "b2"], "model": ["A", "A", "B", "B"],
                         "words": [1000, 1000, 1000, 1000]})
    terms = pl.DataFrame({"id": ["a1", "a2", "b1", "a1", "b1", "b2"],
                          "category": ["c"] * 6,
                          "term": ["wait", "wait", "wait", "so", "so", "so"],
                          "count": [30, 30, 5, 5, 25, 25]})
    lo = term_log_odds(terms, resp, "A", "B", min_count=1)
    z = dict(zip(lo["term"], lo["z"]))
    assert z["wait"] > 2 and z["so"] < -2
    assert lo.columns[:8] == ["category", "term", "count_a", "count_b", "per_1k_a", "per_1k_b",
                              "log_odds", "z"]


def test_wide_frames_give_the_same_ratios_as_narrow_ones():
    """The fits work on a narrow copy of the columns they need (at 10^6 responses every
    per-category filter copied all columns), so extra columns change nothing."""
    df = simulate(rr=0.5).with_columns(cat2=pl.col("cat") + 1,
                                       cat2_per_1k=pl.col("cat_per_1k"))
    wide = df.with_columns(pl.lit("x" * 50).alias(f"text{i}") for i in range(5))
    out = compare_models(wide, ["cat", "cat2"], reference="a")
    assert out.height == 2 and out["status"].to_list() == ["ok", "ok"]
    narrow = compare_models(df.select("id", "model", "benchmark", "problem_id", "words", "cat",
                                      "cat2"), ["cat", "cat2"], reference="a")
    assert out.select("rate_ratio", "ci_low", "p_value").equals(
        narrow.select("rate_ratio", "ci_low", "p_value"))
