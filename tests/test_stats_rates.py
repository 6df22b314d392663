"""Rates with cluster-bootstrap CIs: correctness of estimates, clustering, tidy frames."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from reasonlens.errors import ConfigError
from reasonlens.stats import StatsConfig, behaviour_rates, bootstrap_ratios, category_rates
from reasonlens.stats.rates import ALL, RATE_SCHEMA, length_bins, stratified_rates, term_rates
from reasonlens.devtools.synthetic import SyntheticConfig, synthetic_frames

FAST = StatsConfig(n_boot=300, seed=1)


def clustered(n_problems=40, n_samples=8, problem_sd=1.0, seed=0, models=("a", "b")):
    """Counts whose rate varies strongly between problems (shared by all samples)."""
    rng = np.random.default_rng(seed)
    rows = []
    for m in models:
        for p in range(n_problems):
            rows += [(m, p, s) for s in range(n_samples)]
    df = pl.DataFrame(rows, schema=["model", "p", "sample"], orient="row")
    peff = np.exp(np.random.default_rng(seed + 1).normal(0, problem_sd, n_problems))
    words = rng.integers(200, 2000, df.height)
    mu = 5.0 * words / 1000 * peff[df["p"].to_numpy()]
    counts = rng.poisson(mu)
    return df.with_columns(
        pl.format("{}:{}:{}", "model", "p", "sample").alias("id"),
        pl.lit("bench").alias("benchmark"), pl.col("p").cast(pl.String).alias("problem_id"),
        pl.Series("words", words), pl.Series("cat", counts),
        pl.Series("cat_per_1k", counts / words * 1000))


def test_bootstrap_ratios_point_estimate_and_seed():
    num = np.array([[1.0, 2.0], [3.0, 0.0], [2.0, 2.0]])
    den = np.array([2.0, 2.0, 4.0])
    est, lo, hi = bootstrap_ratios(num, den, n_boot=500, seed=3, level=0.9)
    assert est == pytest.approx([6 / 8, 4 / 8])
    assert np.all(lo <= est) and np.all(est <= hi)
    rng = np.random.default_rng(0)
    num, den = rng.poisson(5, (40, 2)).astype(float), rng.uniform(1, 3, 40)
    first = bootstrap_ratios(num, den, n_boot=500, seed=3, level=0.9)
    again = bootstrap_ratios(num, den, n_boot=500, seed=3, level=0.9)
    other = bootstrap_ratios(num, den, n_boot=500, seed=4, level=0.9)
    assert np.array_equal(first[1], again[1]) and np.array_equal(first[2], again[2])
    assert not np.array_equal(first[1], other[1])


def test_bootstrap_ratios_zero_replicates_gives_nan_interval():
    est, lo, hi = bootstrap_ratios(np.ones((3, 1)), np.ones(3), n_boot=0, seed=0, level=0.95)
    assert est[0] == 1.0 and np.isnan(lo[0]) and np.isnan(hi[0])


def test_category_rates_match_hand_computation():
    df = clustered()
    r = category_rates(df, ["cat"], config=FAST)
    for m in ("a", "b"):
        sub = df.filter(pl.col("model") == m)
        got = {row["metric"]: row for row in r.filter(pl.col("model") == m).iter_rows(named=True)}
        assert got["per_1k_words"]["estimate"] == pytest.approx(
            sub["cat"].sum() / sub["words"].sum() * 1000)
        assert got["mean_per_response"]["estimate"] == pytest.approx(sub["cat"].mean())
        assert got["share_with_any"]["estimate"] == pytest.approx((sub["cat"] > 0).mean())
        assert 0 <= got["share_with_any"]["ci_low"] <= got["share_with_any"]["ci_high"] <= 1
        assert got["per_1k_words"]["n_responses"] == sub.height
        assert got["per_1k_words"]["n_problems"] == 40


def test_cluster_bootstrap_wider_than_naive_under_clustering():
    df = clustered(problem_sd=1.0)
    cl = category_rates(df, ["cat"], config=StatsConfig(n_boot=600, seed=2, cluster="problem"))
    nv = category_rates(df, ["cat"], config=StatsConfig(n_boot=600, seed=2, cluster="response"))

    def width(t):
        r = t.filter((pl.col("model") == "a") & (pl.col("metric") == "per_1k_words")).row(
            0, named=True)
        return r["ci_high"] - r["ci_low"]

    assert width(cl) > 1.8 * width(nv)
    # without problem effects the two agree roughly
    flat = clustered(problem_sd=0.0, seed=5)
    cl0 = category_rates(flat, ["cat"], config=StatsConfig(n_boot=600, seed=2))
    nv0 = category_rates(flat, ["cat"], config=StatsConfig(n_boot=600, seed=2,
                                                           cluster="response"))
    assert 0.6 < width(cl0) / width(nv0) < 1.6


def test_rates_frame_is_tidy_with_pooled_rows():
    fr = synthetic_frames(SyntheticConfig(n_problems=6, n_samples=2))
    r = category_rates(fr["responses"], config=FAST)
    assert r.columns == list(RATE_SCHEMA)
    assert dict(zip(r.columns, r.dtypes)) == RATE_SCHEMA
    keys = ["model", "benchmark", "category", "metric"]
    assert r.select(keys).is_duplicated().sum() == 0
    assert r.select(keys).null_count().sum_horizontal()[0] == 0
    assert set(r["metric"].unique()) == {"per_1k_words", "mean_per_response", "share_with_any"}
    assert set(r["benchmark"].unique()) == {"aime24", "math500", "gpqa", ALL}
    pooled = r.filter((pl.col("benchmark") == ALL) & (pl.col("model") == "distilled"))
    assert pooled["n_responses"].unique().to_list() == [3 * 6 * 2]
    assert (r["ci_low"] <= r["estimate"] + 1e-12).all() and (
        r["estimate"] <= r["ci_high"] + 1e-12).all()


def test_behaviour_rates_treat_failed_judgements_as_missing():
    j = pl.DataFrame({"id": ["1", "2", "3", "4"], "model": ["m"] * 4, "benchmark": ["b"] * 4,
                      "problem_id": ["p1", "p1", "p2", "p2"],
                      "mp_count": [2, None, 0, 4], "mp_status": ["ok", "parse_error", "ok", "ok"]})
    r = behaviour_rates(j, config=FAST)
    mean = r.filter(pl.col("metric") == "mean_per_response").row(0, named=True)
    assert mean["estimate"] == pytest.approx(2.0)      # (2 + 0 + 4) / 3, not / 4
    assert mean["n_responses"] == 3 and mean["n_missing"] == 1
    share = r.filter(pl.col("metric") == "share_with_any").row(0, named=True)
    assert share["estimate"] == pytest.approx(2 / 3)


def test_term_rates_count_responses_without_terms_in_denominators():
    resp = pl.DataFrame({"id": ["r1", "r2", "r3"], "model": ["m"] * 3, "benchmark": ["b"] * 3,
                         "problem_id": ["p1", "p2", "p3"], "words": [100, 300, 600]})
    terms = pl.DataFrame({"id": ["r1", "r1", "r2"], "category": ["c"] * 3,
                          "term": ["wait", "wait", "but"], "part": ["reasoning", "answer",
                                                                    "reasoning"],
                          "count": [2, 1, 5]})
    tr = term_rates(terms, resp, config=FAST)
    wait = {r["metric"]: r for r in tr.filter(pl.col("term") == "wait").iter_rows(named=True)}
    assert wait["per_1k_words"]["estimate"] == pytest.approx(3 / 1000 * 1000)
    assert wait["mean_per_response"]["estimate"] == pytest.approx(1.0)
    assert wait["share_with_any"]["estimate"] == pytest.approx(1 / 3)
    assert wait["per_1k_words"]["n_responses"] == 3
    only_reasoning = term_rates(terms, resp, part="reasoning", config=FAST)
    w2 = only_reasoning.filter((pl.col("term") == "wait") & (pl.col("metric") ==
                                                              "mean_per_response"))
    assert w2["estimate"][0] == pytest.approx(2 / 3)


def test_length_bins_are_quantiles_and_stratified_rates_partition_responses():
    _, labels = length_bins(pl.Series(list(range(1, 101))), 4)
    counts = labels.value_counts().sort("stratum")["count"].to_list()
    assert len(counts) == 4 and all(24 <= c <= 26 for c in counts)
    fr = synthetic_frames(SyntheticConfig(n_problems=8, n_samples=2))
    st = stratified_rates(fr["responses"], graded=fr["graded"], config=FAST)
    assert set(st["stratum_kind"].unique()) == {"correct", "length_bin"}
    per = st.filter((pl.col("metric") == "per_1k_words") & (pl.col("category") == "connectors"))
    for kind in ("correct", "length_bin"):
        total = per.filter(pl.col("stratum_kind") == kind)["n_responses"].sum()
        assert total == fr["responses"].height


def test_stats_config_validates():
    with pytest.raises(ConfigError, match="cluster"):
        StatsConfig(cluster="sample")
    with pytest.raises(ConfigError, match="level"):
        StatsConfig(level=1.5)
    with pytest.raises(ConfigError, match="method"):
        StatsConfig(method="ols")


def test_term_clusters_from_term_columns_equal_the_join_path():
    fr = synthetic_frames(SyntheticConfig(n_problems=5, n_samples=3))
    direct = term_rates(fr["terms"], fr["responses"], config=FAST)
    joined = term_rates(fr["terms"].drop("benchmark", "problem_id"), fr["responses"], config=FAST)
    assert direct.sort("model", "category", "term", "metric").equals(
        joined.sort("model", "category", "term", "metric"))


def test_strata_with_one_model_are_flagged_and_n1_has_no_zero_width_ci():
    """Issue 11: length bins that split the models apart are a non-comparison; one cluster
    gives no interval (not a zero-width one)."""
    import polars as pl

    from reasonlens.stats.rates import single_model_strata, stratified_rates

    rows = []
    for m, words in (("short", 100), ("long", 1000)):
        for p in range(8):
            rows.append({"id": f"{m}{p}", "model": m, "benchmark": "b", "problem_id": f"p{p}",
                         "words": words + p, "anthropomorphic": p % 3,
                         "anthropomorphic_per_1k": 1.0})
    rows.append({"id": "solo", "model": "short", "benchmark": "b", "problem_id": "x",
                 "words": 500, "anthropomorphic": 1, "anthropomorphic_per_1k": 2.0})
    out = stratified_rates(pl.DataFrame(rows), ["anthropomorphic"],
                           config=StatsConfig(n_boot=50, length_bins=2))
    q1 = out.filter(pl.col("stratum").str.starts_with("Q1"))
    q2 = out.filter(pl.col("stratum").str.starts_with("Q2"))
    assert (q1["n_models"] == 1).all() and q1["note"].str.contains("one model only").all()
    assert (q2["n_models"] == 2).all() and q2["note"].is_null().all()
    assert single_model_strata(out) == ["length_bin Q1: 100-500 (short)"]
    solo = q2.filter(pl.col("model") == "short")
    assert (solo["n_problems"] == 1).all() and solo["ci_low"].is_null().all()
    est, lo, hi = bootstrap_ratios(np.array([[3.0]]), np.array([2.0]), n_boot=100, seed=0,
                                   level=0.95)
    assert est[0] == 1.5 and np.isnan(lo[0]) and np.isnan(hi[0])
