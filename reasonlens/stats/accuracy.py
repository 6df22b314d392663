"""Accuracy, pass@k and response lengths per model and benchmark, with problem-clustered CIs.

The home of the accuracy estimators (``reasonlens grade``'s metrics.json calls them too):

- accuracy is avg@n: the mean over problems of each problem's share of correct samples, so every
  problem weighs the same however many samples it has (= the unbiased pass@1); an ungradable
  sample (``correct`` null) counts as wrong; a response without a gold answer (``grade_reason``
  ``no_gold``) says nothing about accuracy and is left out (:func:`gradable`);
- :func:`pass_at_k`: the unbiased estimator of Chen et al. (2021), ``1 - C(n-c, k) / C(n, k)``,
  in the product form ``1 - prod_{j=n-c+1}^{n} (1 - k/j)`` (no huge binomials, exact for every
  k <= n);
- :func:`default_ks`: 1, 2, 4, ... up to n, plus n itself.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from reasonlens.stats.bootstrap import StatsConfig, bootstrap_ratios
from reasonlens.stats.rates import _f, _rng

ACC_SCHEMA = {"model": pl.String, "benchmark": pl.String, "accuracy": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "n_problems": pl.Int64,
              "n_samples": pl.Int64, "n_ungraded": pl.Int64, "level": pl.Float64,
              "source": pl.String}


#: grade_reason of a response graded without a gold answer.
NO_GOLD = "no_gold"


def gradable(graded: pl.DataFrame) -> pl.DataFrame:
    """The rows that enter accuracy, pass@k and maj@k: all but those without a gold answer."""
    if "grade_reason" not in graded.columns:
        return graded
    return graded.filter(pl.col("grade_reason").ne_missing(NO_GOLD))


def _keys(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("model").cast(pl.String).fill_null("(none)"),
                           pl.col("benchmark").cast(pl.String).fill_null("(none)"),
                           pl.col("problem_id").cast(pl.String).fill_null(pl.col("id").cast(
                               pl.String)))


def accuracy_table(graded: pl.DataFrame, config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Accuracy (avg@n: mean over problems of the share of correct samples, see the module
    docstring) per model x benchmark; the CI resamples problems.

    An ungradable sample (``correct`` null) counts as wrong; how many there were is in
    ``n_ungraded``. Responses without a gold answer are left out (:func:`gradable`). ``reasonlens grade`` (metrics.json) reports the same estimate.
    """
    df = _keys(gradable(graded))
    rows = []
    for (m, b), sub in df.group_by("model", "benchmark", maintain_order=True):
        ok = sub.with_columns(pl.col("correct").fill_null(False))
        per = ok.group_by("problem_id").agg(pl.col("correct").cast(pl.Float64).sum().alias("c"),
                                            pl.len().alias("n")).sort("problem_id")
        share = per["c"].to_numpy() / per["n"].to_numpy()  # each problem weighs the same
        est, lo, hi = bootstrap_ratios(share[:, None], np.ones(per.height),
                                       n_boot=config.n_boot, seed=_rng(config, ("acc", m, b)),
                                       level=config.level)
        rows.append({"model": m, "benchmark": b, "accuracy": _f(est[0]), "ci_low": _f(lo[0]),
                     "ci_high": _f(hi[0]), "n_problems": per.height, "n_samples": ok.height,
                     "n_ungraded": sub["correct"].null_count(), "level": config.level,
                     "source": "graded.parquet"})
    return pl.DataFrame(rows, schema=ACC_SCHEMA, orient="row") if rows else pl.DataFrame(
        schema=ACC_SCHEMA)


def _pass_at_k_one(n: int, c: int, k: int) -> float:
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    prod = 1.0
    for j in range(n - c + 1, n + 1):
        prod *= 1.0 - k / j
    return 1.0 - prod


def pass_at_k(n, c, k: int):
    """Unbiased pass@k of a problem with n samples of which c are correct (k <= n).

    ``n`` and ``c`` may be numbers (gives a float; k > n raises ValueError) or arrays (gives an
    array, one value per problem; NaN where a problem has fewer than k samples).
    """
    if np.ndim(n) == 0 and np.ndim(c) == 0:
        return _pass_at_k_one(int(n), int(c), k)
    n_arr, c_arr = np.broadcast_arrays(np.asarray(n), np.asarray(c))
    return np.array([_pass_at_k_one(int(a), int(b), k) if a >= k else np.nan
                     for a, b in zip(n_arr.ravel(), c_arr.ravel())],
                    dtype=float).reshape(n_arr.shape)


def default_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to n, plus n itself."""
    ks = []
    k = 1
    while k <= n:
        ks.append(k)
        k *= 2
    if n >= 1 and ks[-1] != n:
        ks.append(n)
    return ks


def pass_at_k_table(graded: pl.DataFrame, ks: list[int] | None = None,
                    config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """pass@k curves per model x benchmark with cluster-bootstrap CIs (problems resampled).

    k runs over ``ks`` (default 1, 2, 4, ... up to the smallest samples-per-problem); a problem
    enters pass@k only if it has at least k samples. Ungradable samples count as wrong.
    """
    df = _keys(gradable(graded)).with_columns(pl.col("correct").fill_null(False))
    per = df.group_by("model", "benchmark", "problem_id").agg(
        pl.col("correct").cast(pl.Int64).sum().alias("c"), pl.len().alias("n"))
    rows = []
    for (m, b), sub in per.sort("model", "benchmark", "problem_id").group_by(
            "model", "benchmark", maintain_order=True):  # rows in model, benchmark order
        n, c = sub["n"].to_numpy(), sub["c"].to_numpy()
        kk = ks if ks is not None else default_ks(int(n.min()))
        kk = [k for k in kk if (n >= k).any()]
        if not kk:
            continue
        # all k in one bootstrap: problem i enters pass@k only if it has >= k samples
        use = np.column_stack([(n >= k).astype(float) for k in kk])
        vals = np.nan_to_num(np.column_stack([pass_at_k(n, c, k) for k in kk])) * use
        est, lo, hi = bootstrap_ratios(vals, use, n_boot=config.n_boot,
                                       seed=_rng(config, ("pass", m, b)), level=config.level)
        for j, k in enumerate(kk):
            u = use[:, j] > 0
            rows.append({"model": m, "benchmark": b, "k": int(k), "pass_at_k": _f(est[j]),
                         "ci_low": _f(lo[j]), "ci_high": _f(hi[j]), "n_problems": int(u.sum()),
                         "n_samples": int(n[u].sum()), "level": config.level})
    schema = {"model": pl.String, "benchmark": pl.String, "k": pl.Int64, "pass_at_k": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "n_problems": pl.Int64,
              "n_samples": pl.Int64, "level": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)


def length_summary(frame: pl.DataFrame, column: str = "words", *,
                   config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Length per model x benchmark (and pooled, benchmark "(all)"): n, mean (cluster-bootstrap
    CI), median, p10, p90, clip share."""
    df = _keys(frame).filter(pl.col(column).is_not_null()).with_columns(
        pl.col(column).cast(pl.Float64).alias("_v"))
    if df["benchmark"].n_unique() > 1:
        df = pl.concat([df, df.with_columns(pl.lit("(all)").alias("benchmark"),
                                            (pl.col("benchmark") + pl.lit("\x1f") +
                                             pl.col("problem_id")).alias("problem_id"))])
    has_fin = "finish_reason" in df.columns
    stats = df.group_by("model", "benchmark", maintain_order=True).agg(
        pl.len().alias("n_responses"), pl.col("problem_id").n_unique().alias("n_problems"),
        pl.col("_v").median().alias("median"),
        pl.col("_v").quantile(0.1, interpolation="linear").alias("p10"),
        pl.col("_v").quantile(0.9, interpolation="linear").alias("p90"),
        ((pl.col("finish_reason") == "length").sum() / pl.col("finish_reason").count()
         if has_fin else pl.lit(None, dtype=pl.Float64)).fill_nan(None).alias("clip_ratio"))
    per = df.group_by("model", "benchmark", "problem_id").agg(
        pl.col("_v").sum().alias("s"), pl.len().alias("n")).sort("problem_id")
    parts = per.partition_by("model", "benchmark", as_dict=True)
    rows = []
    for r in stats.iter_rows(named=True):
        sub = parts[(r["model"], r["benchmark"])]
        est, lo, hi = bootstrap_ratios(sub["s"].to_numpy()[:, None], sub["n"].to_numpy(),
                                       n_boot=config.n_boot,
                                       seed=_rng(config, ("len", r["model"], r["benchmark"])),
                                       level=config.level)
        rows.append({**r, "unit": column, "mean": _f(est[0]), "ci_low": _f(lo[0]),
                     "ci_high": _f(hi[0]), "level": config.level})
    schema = {"model": pl.String, "benchmark": pl.String, "unit": pl.String,
              "n_responses": pl.Int64, "n_problems": pl.Int64, "mean": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "median": pl.Float64,
              "p10": pl.Float64, "p90": pl.Float64, "clip_ratio": pl.Float64,
              "level": pl.Float64}
    if not rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(rows, orient="row").select(
        [pl.col(c).cast(t) for c, t in schema.items()])


def length_histogram(frame: pl.DataFrame, column: str = "words", *, bins: int = 30,
                     log: bool = True) -> pl.DataFrame:
    """Pre-binned length distribution per model (shared edges; log-spaced by default).

    Returns: model, bin_start, bin_end, count, share (of the model's responses), n_responses.
    """
    df = frame.filter(pl.col(column).is_not_null()).select(
        pl.col("model").cast(pl.String).fill_null("(none)"),
        pl.col(column).cast(pl.Float64).alias("v"))
    schema = {"model": pl.String, "bin_start": pl.Float64, "bin_end": pl.Float64,
              "count": pl.Int64, "share": pl.Float64, "n_responses": pl.Int64}
    if df.height == 0:
        return pl.DataFrame(schema=schema)
    v = df["v"].to_numpy()
    lo, hi = max(float(v.min()), 1.0), max(float(v.max()), 2.0)
    edges = (np.geomspace(lo, hi * 1.0001, bins + 1) if log and hi / lo > 10
             else np.linspace(float(v.min()), hi * 1.0001, bins + 1))
    rows = []
    for (m,), sub in df.group_by("model", maintain_order=True):
        x = np.clip(sub["v"].to_numpy(), edges[0], edges[-1] * 0.99999)
        cnt, _ = np.histogram(x, edges)
        for i in range(bins):
            rows.append({"model": m, "bin_start": float(edges[i]), "bin_end": float(edges[i + 1]),
                         "count": int(cnt[i]), "share": float(cnt[i] / max(sub.height, 1)),
                         "n_responses": sub.height})
    return pl.DataFrame(rows, schema=schema, orient="row")
