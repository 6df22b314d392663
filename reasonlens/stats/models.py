"""Regression models as tidy frames: model comparisons, correctness, many-term tests.

* :func:`compare_models` -- counts ~ model (+ benchmark) with ``log(words)`` as offset (exposure),
  negative-binomial GLM (dispersion by the Cameron-Trivedi moment estimator from a Poisson fit;
  Poisson when there is no over-dispersion or the NB fit fails) with problem-clustered standard
  errors (``cov_type="cluster"``). ``exp(coef)`` is the rate ratio of a model against the reference.
  ``method="mixed"``: statsmodels ``MixedLM`` on ``log((count + 0.5) / words * 1000)`` with a random
  intercept per problem; ``exp(coef)`` is then a ratio of geometric-mean rates (a different
  estimand, kept as a robustness check).
* :func:`correctness_model` -- correct ~ behaviour/category counts + log(words) + model +
  benchmark, logistic GLM, problem-clustered SEs; odds ratios.
* :func:`term_tests` -- one rate-ratio test per lexicon term (many tests): the closed form of a
  Poisson GLM with a model indicator and problem-clustered sandwich variance, vectorised over terms,
  then Holm and Benjamini-Hochberg adjustment.
* :func:`term_log_odds` -- weighted log-odds with an informative Dirichlet prior (Monroe et al.
  2008; :mod:`reasonlens.stats.logodds`, the estimator ``reasonlens diff`` uses too) from term
  counts: which terms each of two models over-uses.

statsmodels and scipy are imported inside the functions.
"""

from __future__ import annotations

import gc
import math
import warnings
from typing import NamedTuple

import numpy as np
import polars as pl

from reasonlens.stats.bootstrap import StatsConfig, cluster_key
from reasonlens.stats.logodds import log_odds
from reasonlens.stats.rates import ALL, categories_in

COMPARE_SCHEMA = {
    "category": pl.String, "benchmark": pl.String, "model": pl.String, "reference": pl.String,
    "rate_ratio": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64, "p_value": pl.Float64,
    "n_responses": pl.Int64, "n_problems": pl.Int64, "family": pl.String, "alpha": pl.Float64,
    "status": pl.String, "level": pl.Float64,
}


def adjust_pvalues(df: pl.DataFrame, column: str = "p_value") -> pl.DataFrame:
    """Add ``p_holm`` and ``p_bh`` (Holm; Benjamini-Hochberg FDR) over all finite p-values."""
    from statsmodels.stats.multitest import multipletests

    p = df[column].cast(pl.Float64).to_numpy() if df.height else np.array([])
    holm, bh = np.full(p.shape, np.nan), np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        holm[ok] = multipletests(p[ok], method="holm")[1]
        bh[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return df.with_columns(pl.Series("p_holm", holm).fill_nan(None),
                           pl.Series("p_bh", bh).fill_nan(None))


def _z(level: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + level / 2))


def _stable(coef: float, se: float, limit: float = 30.0) -> bool:
    """A coefficient whose interval can be reported (finite, |coef| and se not absurd)."""
    return bool(np.isfinite(coef) and np.isfinite(se) and abs(coef) < limit and se < limit)


def _design(df: pl.DataFrame, models: list[str], reference: str, with_bench: bool
            ) -> tuple[np.ndarray, list[str]]:
    """Intercept, model indicators (reference left out) and, with ``with_bench``, benchmark
    indicators (first benchmark left out), built by polars (no per-row Python strings)."""
    exprs, names = [pl.lit(1.0).alias("const")], ["const"]
    for x in models:
        if x != reference:
            names.append(f"model[{x}]")
            exprs.append((pl.col("model") == x).cast(pl.Float64).alias(names[-1]))
    if with_bench:
        for x in sorted(df["benchmark"].unique().to_list())[1:]:
            names.append(f"benchmark[{x}]")
            exprs.append((pl.col("benchmark") == x).cast(pl.Float64).alias(names[-1]))
    return df.select(exprs).to_numpy(), names


def _groups(df: pl.DataFrame) -> np.ndarray:
    """Integer cluster codes (0..G-1) of ``df["_cluster"]`` (polars ranks: no object sort)."""
    return (df["_cluster"].rank("dense") - 1).cast(pl.Int64).to_numpy()


def _sm():
    """The two statsmodels pieces we use (narrow imports: statsmodels.api takes seconds)."""
    from types import SimpleNamespace

    from statsmodels.genmod import families
    from statsmodels.genmod.generalized_linear_model import GLM

    return SimpleNamespace(GLM=GLM, families=families)


def _cov(groups: np.ndarray) -> dict:
    return ({"cov_type": "cluster", "cov_kwds": {"groups": groups}}
            if np.unique(groups).size > 1 else {"cov_type": "nonrobust"})


def _fit_counts(sub: pl.DataFrame, col: str, present: list[str], ref: str, with_bench: bool,
                method: str) -> tuple[object, str, float | None, list[str]]:
    """Poisson, then (unless method="poisson") negative binomial with MoM dispersion.

    The Poisson fit runs on (problem, model, benchmark) cells -- counts and words summed -- which
    gives exactly the response-level estimates and problem-clustered sandwich (the likelihood,
    score and Hessian involve only cell sums) at a fraction of the cost.
    """
    sm = _sm()
    cells = sub.group_by("_cluster", "model", "benchmark").agg(
        pl.col(col).cast(pl.Float64).sum().alias("_y"),
        pl.col("words").cast(pl.Float64).sum().alias("_w")).sort("_cluster", "model",
                                                                  "benchmark")
    Xc, names = _design(cells, present, ref, with_bench)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pois = sm.GLM(cells["_y"].to_numpy(), Xc, family=sm.families.Poisson(),
                      offset=np.log(cells["_w"].to_numpy())).fit(**_cov(_groups(cells)))
        if method == "poisson":
            return pois, "poisson", None, names
        X, _ = _design(sub, present, ref, with_bench)
        y = sub[col].cast(pl.Float64).to_numpy()
        off = np.log(sub["words"].cast(pl.Float64).to_numpy())
        mu = np.exp(X @ np.asarray(pois.params) + off)
        alpha = float(((y - mu) ** 2 - y).sum() / (mu ** 2).sum())
        if not np.isfinite(alpha) or alpha <= 1e-6:
            return pois, "poisson (no over-dispersion)", None, names
        try:
            nb = sm.GLM(y, X, family=sm.families.NegativeBinomial(alpha=alpha),
                        offset=off).fit(start_params=np.asarray(pois.params),
                                        **_cov(_groups(sub)))
            if not np.all(np.isfinite(nb.bse)):
                raise ValueError("non-finite standard errors")
        except Exception:  # noqa: BLE001 - any NB failure falls back to the robust Poisson fit
            return pois, "poisson (negbin failed)", None, names
        return nb, "negbin", alpha, names


class _Estimates(NamedTuple):
    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray


def _estimates(res) -> _Estimates:
    """The three arrays a comparison reports (copies), so the statsmodels result can go."""
    return _Estimates(*(np.asarray(a, dtype=float).copy() for a in (res.params, res.bse,
                                                                    res.pvalues)))


def _fit_mixed(y: np.ndarray, X: np.ndarray, words: np.ndarray, groups: np.ndarray):
    from statsmodels.regression.mixed_linear_model import MixedLM

    lograte = np.log((y + 0.5) / words * 1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = MixedLM(lograte, X, groups=groups).fit(reml=True)
    return res


def _count_frame(responses: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """The columns a comparison needs, rows with words, the problem cluster as an integer code:
    a narrow frame, so the per-category fits on 10^6 responses copy a few columns, not all."""
    keys = [c for c in ("id", "benchmark", "problem_id") if c in responses.columns]
    df = responses.select("model", *keys, "words", *dict.fromkeys(columns)).filter(
        pl.col("words").is_not_null() & (pl.col("words") > 0))
    if "benchmark" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("benchmark"))
    df = df.with_columns(cluster_key(df, "problem"), pl.col("model").cast(pl.String),
                         pl.col("benchmark").cast(pl.String).fill_null("(none)"))
    return df.with_columns(pl.col("_cluster").rank("dense").cast(pl.Int64)).drop(
        c for c in ("id", "problem_id") if c in df.columns)


def compare_models(responses: pl.DataFrame, categories: list[str] | None = None, *,
                   reference: str | None = None, by_benchmark: bool = False,
                   count_columns: dict[str, str] | None = None,
                   config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Rate ratios of each model against ``reference`` per category, length as exposure.

    Args:
        responses: one row per response with model, benchmark, problem_id, words and the counts.
        categories: categories to compare (default: all in the score frame).
        reference: reference model (default: the first model in sorted order).
        by_benchmark: also fit one model per benchmark (rows with that benchmark name); the pooled
            fit (benchmark ``"(all)"``) has benchmark fixed effects.
        count_columns: {label: column} to compare instead of categories (e.g. behaviour counts).
        config: ``method`` (negbin | poisson | mixed), ``level``.

    Returns:
        tidy frame (COMPARE_SCHEMA) plus ``p_holm`` and ``p_bh`` over all its rows.
    """
    cols = count_columns or {c: c for c in (categories or categories_in(responses))}
    df = _count_frame(responses, list(cols.values()))
    models = sorted(df["model"].unique().to_list())
    rows: list[dict] = []
    if len(models) < 2:
        return adjust_pvalues(pl.DataFrame(schema=COMPARE_SCHEMA))
    ref = reference if reference is not None else models[0]
    if ref not in models:
        from reasonlens.errors import ConfigError

        raise ConfigError(f"reference model {ref!r} not in the data; models: {', '.join(models)}")
    scopes = [(ALL, df)]
    if by_benchmark and df["benchmark"].n_unique() > 1:
        scopes += [(b, df.filter(pl.col("benchmark") == b))
                   for b in sorted(df["benchmark"].unique().to_list())]
    z = _z(config.level)
    for label, col in cols.items():
        for scope, sub in scopes:
            sub = sub.select("model", "benchmark", "_cluster", "words", col).filter(
                pl.col(col).is_not_null())
            present = sorted(sub["model"].unique().to_list())
            if ref not in present or len(present) < 2:
                continue
            with_bench = scope == ALL and sub["benchmark"].n_unique() > 1
            groups = _groups(sub)
            totals = dict(sub.group_by("model").agg(pl.col(col).sum()).iter_rows())
            status, family, alpha, res = "ok", config.method, None, None
            if totals.get(ref, 0) == 0:
                status = "zero counts for the reference model"
            else:
                try:
                    if config.method == "mixed":
                        X, names = _design(sub, present, ref, with_bench)
                        res = _fit_mixed(sub[col].cast(pl.Float64).to_numpy(), X,
                                         sub["words"].cast(pl.Float64).to_numpy(), groups)
                        family = "mixed-lm (log rate)"
                    else:
                        res, family, alpha, names = _fit_counts(sub, col, present, ref,
                                                                with_bench, config.method)
                    res = _estimates(res)
                except Exception as exc:  # noqa: BLE001 - a failed fit is a recorded status
                    status = f"fit failed: {type(exc).__name__}: {exc}"[:200]
                # statsmodels results and models reference each other: without a collection
                # each per-response fit (hundreds of MB at 10^6 responses) stayed in memory
                # until the end of the comparisons
                gc.collect()
            base = {"category": label, "benchmark": scope, "reference": ref,
                    "n_problems": int(np.unique(groups).size), "family": family,
                    "alpha": alpha, "level": config.level}
            n_by = dict(sub.group_by("model").agg(pl.len()).iter_rows())
            for m in present:
                if m == ref:
                    continue
                row = {**base, "model": m, "n_responses": int(n_by.get(m, 0) + n_by.get(ref, 0)),
                       "rate_ratio": None, "ci_low": None, "ci_high": None, "p_value": None,
                       "status": status}
                if res is not None:
                    j = names.index(f"model[{m}]")
                    b, se = float(np.asarray(res.params)[j]), float(np.asarray(res.bse)[j])
                    if totals.get(m, 0) == 0:
                        row.update(rate_ratio=0.0, status="zero counts for this model")
                    elif not _stable(b, se):
                        row["status"] = "unstable estimate (separation or collinearity)"
                    else:
                        row.update(rate_ratio=math.exp(b), ci_low=math.exp(b - z * se),
                                   ci_high=math.exp(b + z * se),
                                   p_value=float(np.asarray(res.pvalues)[j]))
                rows.append(row)
    out = pl.DataFrame(rows, schema=COMPARE_SCHEMA, orient="row") if rows else pl.DataFrame(
        schema=COMPARE_SCHEMA)
    return adjust_pvalues(out)


def correctness_model(responses: pl.DataFrame, graded: pl.DataFrame,
                      judgments: pl.DataFrame | None = None, *,
                      predictors: list[str] | None = None, transform: str = "log1p",
                      config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Logistic regression of correctness on behaviour counts and log length, problem-clustered.

    ``correct ~ f(count_1) + ... + log(words) + model + benchmark`` with ``f = log1p`` (default;
    an odds ratio per e-fold increase of 1 + count) or ``identity`` (per extra occurrence).
    Rows with a missing predictor or ungraded answer are dropped (complete cases; see n_responses).

    Returns:
        tidy frame: term, odds_ratio, ci_low, ci_high, p_value, p_holm, p_bh, n_responses,
        n_problems, transform, status, level.
    """
    from reasonlens.schema import behaviours_in

    sm = _sm()

    schema = {"term": pl.String, "odds_ratio": pl.Float64, "ci_low": pl.Float64,
              "ci_high": pl.Float64, "p_value": pl.Float64, "n_responses": pl.Int64,
              "n_problems": pl.Int64, "transform": pl.String, "status": pl.String,
              "level": pl.Float64}
    beh = behaviours_in(judgments) if judgments is not None else []
    preds = list(predictors) if predictors is not None else (
        categories_in(responses) + [f"{b}_count" for b in beh])
    keys = [c for c in ("id", "model", "benchmark", "problem_id", "words")
            if c in responses.columns]
    df = responses.select(*keys, *[p for p in dict.fromkeys(preds) if p in responses.columns
                                   and p not in keys]).join(  # narrow: 10^6 rows are joined
        graded.select("id", pl.col("correct").cast(pl.Boolean)).unique("id"), on="id",
        how="inner")
    new = [f"{b}_count" for b in beh if f"{b}_count" not in df.columns]
    if new:  # score --behaviours may already carry them
        df = df.join(judgments.select("id", *new), on="id", how="left")
    preds = [p for p in preds if p in df.columns]
    df = df.filter(pl.col("correct").is_not_null() & (pl.col("words") > 0)).drop_nulls(preds)
    if df.height < 10 or df["correct"].n_unique() < 2 or not preds:
        reason = "too few graded responses" if df.height < 10 else (
            "correctness does not vary" if df["correct"].n_unique() < 2 else "no predictors")
        return adjust_pvalues(pl.DataFrame([{"term": p, "odds_ratio": None, "ci_low": None,
                                             "ci_high": None, "p_value": None,
                                             "n_responses": df.height, "n_problems": 0,
                                             "transform": transform, "status": reason,
                                             "level": config.level} for p in preds],
                                           schema=schema, orient="row"))
    df = df.with_columns(cluster_key(df, "problem"), pl.col("model").cast(pl.String),
                         pl.col("benchmark").cast(pl.String).fill_null("(none)"))
    f = np.log1p if transform == "log1p" else (lambda v: v)
    cols = [np.ones(df.height)] + [f(df[p].cast(pl.Float64).to_numpy()) for p in preds]
    names = ["const"] + preds + ["log_words"]
    cols.append(np.log(df["words"].cast(pl.Float64).to_numpy()))
    for fe in ("model", "benchmark"):
        levels = sorted(df[fe].unique().to_list())
        for x in levels[1:]:
            cols.append((df[fe].to_numpy() == x).astype(float))
            names.append(f"{fe}[{x}]")
    X = np.column_stack(cols)
    keep = np.ones(X.shape[1], dtype=bool)
    keep[1:] = X[:, 1:].std(axis=0) > 0
    X, names = X[:, keep], [n for n, k in zip(names, keep) if k]
    y = df["correct"].cast(pl.Float64).to_numpy()
    groups = _groups(df)
    z = _z(config.level)
    status = "ok"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = sm.GLM(y, X, family=sm.families.Binomial()).fit(
                cov_type="cluster", cov_kwds={"groups": groups})
        params, bse, pv = (np.asarray(res.params), np.asarray(res.bse), np.asarray(res.pvalues))
    except Exception as exc:  # noqa: BLE001 - e.g. perfect separation: recorded, not raised
        status = f"fit failed: {type(exc).__name__}"
        params = bse = pv = np.full(len(names), np.nan)
    rows = []
    for p in preds + ["log_words"]:
        row = {"term": p, "n_responses": df.height, "n_problems": int(np.unique(groups).size),
               "transform": "log" if p == "log_words" else transform, "status": status,
               "level": config.level, "odds_ratio": None, "ci_low": None, "ci_high": None,
               "p_value": None}
        if p not in names:
            row["status"] = "constant predictor (dropped)"
        else:
            j = names.index(p)
            if _stable(params[j], bse[j]):
                row.update(odds_ratio=math.exp(params[j]), ci_low=math.exp(params[j] - z * bse[j]),
                           ci_high=math.exp(params[j] + z * bse[j]), p_value=float(pv[j]))
            elif status == "ok":
                row["status"] = "unstable estimate (separation or collinearity)"
        rows.append(row)
    return adjust_pvalues(pl.DataFrame(rows, schema=schema, orient="row"))


def _term_matrix(tc: pl.DataFrame, cw: pl.DataFrame, model: str, g: int, k: int
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Dense (clusters x terms) counts and per-cluster words of one model (pre-aggregated)."""
    counts, words = np.zeros((g, k)), np.zeros(g)
    w = cw.filter(pl.col("model") == model)
    words[w["_ci"].to_numpy()] = w["_w"].to_numpy()
    t = tc.filter(pl.col("model") == model)
    counts[t["_ci"].to_numpy(), t["_ti"].to_numpy()] = t["count"].to_numpy()
    return counts, words


def term_tests(terms: pl.DataFrame, responses: pl.DataFrame, *, reference: str | None = None,
               config: StatsConfig = StatsConfig(), clustered: pl.DataFrame | None = None
               ) -> pl.DataFrame:
    """Rate ratio of every term, each model vs ``reference``, with Holm and BH adjustment.

    For a Poisson GLM ``count ~ model`` with offset log(words), the estimate is the ratio of pooled
    rates R_m = C_m / W_m and the problem-clustered sandwich variance of log R_m is
    sum_g (c_gm - w_gm R_m)^2 / C_m^2 (covariances likewise); this computes exactly that for all
    terms at once, times the small-sample factor G / (G - 1).

    Returns:
        tidy frame: category, term, model, reference, per_1k_model, per_1k_reference, rate_ratio,
        ci_low, ci_high, p_value, p_holm, p_bh, n_problems, status, level.
    """
    from scipy.stats import norm

    resp = responses.with_columns(cluster_key(responses, "problem")).select(
        "id", pl.col("model").cast(pl.String), "_cluster",
        pl.col("words").fill_null(0).cast(pl.Float64).alias("_w"))
    from reasonlens.stats.rates import cluster_term_counts

    t = clustered if clustered is not None else cluster_term_counts(terms, resp, ["model"])
    models = sorted(resp["model"].unique().to_list())
    schema = {"category": pl.String, "term": pl.String, "model": pl.String,
              "reference": pl.String, "per_1k_model": pl.Float64,
              "per_1k_reference": pl.Float64, "rate_ratio": pl.Float64, "ci_low": pl.Float64,
              "ci_high": pl.Float64, "p_value": pl.Float64, "n_problems": pl.Int64,
              "status": pl.String, "level": pl.Float64}
    if len(models) < 2 or t.height == 0:
        return adjust_pvalues(pl.DataFrame(schema=schema))
    ref = reference if reference is not None else models[0]
    clusters = resp.select("_cluster").unique().sort("_cluster").with_row_index("_ci")
    pairs = t.select("category", "term").unique().sort("category", "term").with_row_index("_ti")
    cols = {(c, x): j for j, c, x in pairs.iter_rows()}
    g, k = clusters.height, pairs.height
    cw = resp.group_by("model", "_cluster").agg(pl.col("_w").sum()).join(clusters, on="_cluster")
    tc = t.join(clusters, on="_cluster").join(pairs, on=["category", "term"])
    corr = g / (g - 1) if g > 1 else float("nan")
    c_r, w_r = _term_matrix(tc, cw, ref, g, k)
    C_r, W_r = c_r.sum(0), w_r.sum()
    z = _z(config.level)
    rows = []
    for m in models:
        if m == ref:
            continue
        c_m, w_m = _term_matrix(tc, cw, m, g, k)
        C_m, W_m = c_m.sum(0), w_m.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            R_m, R_r = C_m / W_m, C_r / W_r
            u_m = c_m - w_m[:, None] * R_m
            u_r = c_r - w_r[:, None] * R_r
            var = corr * ((u_m ** 2).sum(0) / C_m ** 2 + (u_r ** 2).sum(0) / C_r ** 2
                          - 2 * (u_m * u_r).sum(0) / (C_m * C_r))
            lrr = np.log(R_m / R_r)
            se = np.sqrt(var)
            p = 2 * norm.sf(np.abs(lrr / se))
        for (cat, term), j in cols.items():
            ok = C_m[j] > 0 and C_r[j] > 0 and np.isfinite(se[j]) and se[j] > 0
            rows.append({"category": cat, "term": term, "model": m, "reference": ref,
                         "per_1k_model": float(R_m[j] * 1000), "per_1k_reference":
                         float(R_r[j] * 1000),
                         "rate_ratio": float(np.exp(lrr[j])) if np.isfinite(lrr[j]) else None,
                         "ci_low": float(np.exp(lrr[j] - z * se[j])) if ok else None,
                         "ci_high": float(np.exp(lrr[j] + z * se[j])) if ok else None,
                         "p_value": float(p[j]) if ok else None, "n_problems": g,
                         "status": "ok" if ok else "zero counts in one model",
                         "level": config.level})
    return adjust_pvalues(pl.DataFrame(rows, schema=schema, orient="row"))


def term_log_odds(terms: pl.DataFrame, responses: pl.DataFrame, model_a: str, model_b: str, *,
                  config: StatsConfig = StatsConfig(), min_count: int = 5) -> pl.DataFrame:
    """Weighted log-odds (informative Dirichlet prior) of each term, model A vs model B.

    :func:`reasonlens.stats.logodds.log_odds` over the lexicon term counts, with n = total words
    of each model and the prior scale ``config.prior_scale``. Positive z: over-used by A. Terms
    with fewer than ``min_count`` uses in total are dropped.

    Returns:
        frame: category, term, count_a, count_b, per_1k_a, per_1k_b, log_odds, z, model_a, model_b.
    """
    resp = responses.select(pl.col("model").cast(pl.String), "words")
    n_a = float(resp.filter(pl.col("model") == model_a)["words"].sum() or 0)
    n_b = float(resp.filter(pl.col("model") == model_b)["words"].sum() or 0)
    if "model" in terms.columns:  # score's terms.parquet carries the model (may be pre-summed)
        t = terms.select(pl.col("model").cast(pl.String).alias("_m"), "category", "term",
                         "count").filter(pl.col("_m").is_in([model_a, model_b]))
    else:
        t = terms.join(responses.select("id", pl.col("model").cast(pl.String).alias("_m")),
                       on="id", how="inner")
    agg = t.group_by("category", "term").agg(
        pl.col("count").filter(pl.col("_m") == model_a).sum().cast(pl.Float64).alias("count_a"),
        pl.col("count").filter(pl.col("_m") == model_b).sum().cast(pl.Float64).alias("count_b"))
    agg = agg.filter((pl.col("count_a") + pl.col("count_b")) >= min_count)
    if agg.height == 0 or n_a == 0 or n_b == 0:
        return pl.DataFrame(schema={"category": pl.String, "term": pl.String,
                                    "count_a": pl.Float64, "count_b": pl.Float64,
                                    "per_1k_a": pl.Float64, "per_1k_b": pl.Float64,
                                    "log_odds": pl.Float64, "z": pl.Float64,
                                    "model_a": pl.String, "model_b": pl.String})
    out = log_odds(agg.sort("category", "term"), n_a, n_b, prior_scale=config.prior_scale,
                   min_count=min_count)
    return out.with_columns(pl.lit(model_a).alias("model_a"), pl.lit(model_b).alias("model_b"))
