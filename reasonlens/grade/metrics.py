"""Accuracy metrics over graded traces, per model and benchmark (metrics.json of ``grade``).

The estimators live in :mod:`reasonlens.stats` (accuracy and pass@k in
:mod:`reasonlens.stats.accuracy`, the bootstrap in :mod:`reasonlens.stats.bootstrap`); this module
adds majority voting over extracted answers and puts the figures together:

- ``accuracy`` is avg@k: the mean over problems of the share of correct samples (= unbiased
  pass@1). Ungradable samples (``correct`` null) count as wrong; their reasons are counted.
  Responses without a gold answer (``no_gold``) are left out (``stats.accuracy.gradable``).
- ``pass_at_k``: the unbiased estimator of Chen et al. (2021) for k in 1, 2, 4, ..., n.
- ``maj_at_k``: majority vote over the first k samples (by sample index) of each problem.
- ``accuracy_ci`` / ``maj_at_k_ci``: percentile bootstrap resampling problems (seeded numpy
  Generator; no interval from a single problem).
- ``clip_ratio``: share of samples with finish_reason == "length" (over samples whose finish
  reason is known).
- lengths in completion tokens when every sample has a count, else in words.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import polars as pl

from reasonlens.grade.extract import vote_key
from reasonlens.stats.accuracy import default_ks, gradable, pass_at_k
from reasonlens.stats.bootstrap import mean_ci


def _majority(keys: list[str | None], correct: list[bool | None]) -> bool:
    counts = Counter(k for k in keys if k is not None)
    if not counts:
        return False
    best = max(counts.values())
    for k, ok in zip(keys, correct):  # earliest answer among the most frequent
        if k is not None and counts[k] == best:
            return bool(ok)
    return False


def _lengths(g: pl.DataFrame) -> tuple[np.ndarray, str]:
    if "completion_tokens" in g.columns and g["completion_tokens"].null_count() == 0 \
            and g.height:
        return g["completion_tokens"].to_numpy().astype(float), "tokens"
    if "words" in g.columns:  # counted while streaming (grade keeps no text for the metrics)
        return g["words"].to_numpy().astype(float), "words"
    words = g["response"].fill_null("").str.count_matches(r"\S+")
    return words.to_numpy().astype(float), "words"


def benchmark_metrics(g: pl.DataFrame, *, ks: list[int] | None = None, n_boot: int = 1000,
                      seed: int = 0) -> dict[str, Any]:
    """Metrics of one (model, benchmark) group of graded rows."""
    g = g.sort(["problem_id", "sample"], nulls_last=True)
    if "answer_type" in g.columns:
        types = g["answer_type"].fill_null("expression").to_list()
    else:
        types = ["expression"] * g.height
    g = g.with_columns(pl.Series("_vote", [vote_key(e, t) for e, t in
                                            zip(g["extracted"].to_list(), types)],
                                 dtype=pl.String),
                       pl.col("correct").fill_null(False).alias("_ok"))
    per = g.group_by("problem_id", maintain_order=True).agg(
        pl.len().alias("n"), pl.col("_ok").sum().alias("c"), pl.col("_vote"), pl.col("_ok"))
    n_arr = per["n"].to_numpy()
    c_arr = per["c"].to_numpy()
    min_n = int(n_arr.min()) if n_arr.size else 0
    acc_pp = c_arr / np.maximum(n_arr, 1)
    accuracy, lo, hi = mean_ci(acc_pp, n_boot=n_boot, seed=seed)
    kk = [k for k in (ks or default_ks(min_n)) if 1 <= k <= min_n]
    pass_k = {str(k): float(np.mean(pass_at_k(n_arr, c_arr, k))) for k in kk}
    votes, oks = per["_vote"].to_list(), per["_ok"].to_list()
    maj_pp = {k: np.array([_majority(v[:k], o[:k]) for v, o in zip(votes, oks)], dtype=float)
              for k in kk}
    maj_k = {str(k): float(np.mean(v)) for k, v in maj_pp.items()}
    maj_ci = {str(k): list(mean_ci(v, n_boot=n_boot, seed=seed)[1:]) for k, v in maj_pp.items()}
    fin = g["finish_reason"] if "finish_reason" in g.columns else pl.Series([], dtype=pl.String)
    known = fin.drop_nulls()
    lengths, unit = _lengths(g)
    reasons = dict(Counter(g["grade_reason"].to_list())) if "grade_reason" in g.columns else {}
    return {
        "n_problems": int(per.height),
        "n_samples": int(g.height),
        "samples_per_problem": {"min": min_n, "max": int(n_arr.max()) if n_arr.size else 0},
        "n_correct": int(c_arr.sum()),
        "accuracy": accuracy,
        "accuracy_ci": [lo, hi],
        "pass_at_k": pass_k,
        "maj_at_k": maj_k,
        "maj_at_k_ci": maj_ci,
        "clip_ratio": float((known == "length").mean()) if known.len() else None,
        "mean_length": float(lengths.mean()) if lengths.size else None,
        "median_length": float(np.median(lengths)) if lengths.size else None,
        "length_unit": unit,
        "grade_reasons": reasons,
        "ungradable": int(sum(v for k, v in reasons.items() if k != "ok")),
    }


def compute_metrics(graded: pl.DataFrame, *, ks: list[int] | None = None, n_boot: int = 1000,
                    seed: int = 0) -> dict[str, Any]:
    """``{"models": {M: {"benchmarks": {B: {...}}}}}`` from a graded frame (see module doc)."""
    for col in ("correct", "problem_id"):
        if col not in graded.columns:
            from reasonlens.errors import ConfigError

            raise ConfigError(f"compute_metrics needs a graded frame with a {col!r} column")
    df = gradable(graded)
    if "model" not in df.columns:
        df = df.with_columns(pl.lit("model").alias("model"))
    if "benchmark" not in df.columns:
        df = df.with_columns(pl.lit("benchmark").alias("benchmark"))
    if "sample" not in df.columns:
        df = df.with_columns(pl.int_range(pl.len()).over("problem_id").alias("sample"))
    if "extracted" not in df.columns:
        df = df.with_columns(pl.lit(None, dtype=pl.String).alias("extracted"))
    if "response" not in df.columns:
        df = df.with_columns(pl.lit("", dtype=pl.String).alias("response"))
    out: dict[str, Any] = {"models": {}}
    models = df["model"].fill_null("unknown").unique(maintain_order=True).to_list()
    for m in sorted(models):
        sub = df.filter(pl.col("model").fill_null("unknown") == m)
        benches = {}
        for b in sorted(sub["benchmark"].fill_null("unknown").unique().to_list()):
            gb = sub.filter(pl.col("benchmark").fill_null("unknown") == b)
            benches[b] = benchmark_metrics(gb, ks=ks, n_boot=n_boot, seed=seed)
        out["models"][m] = {"benchmarks": benches}
    return out
