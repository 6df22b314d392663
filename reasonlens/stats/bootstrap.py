"""Cluster bootstrap for ratio estimators (rates, means, shares) over problems.

Responses to the same problem are not independent (a hard problem makes every model write more),
so confidence intervals resample *problems* (clusters), not responses. Every quantity we report is a
ratio of cluster sums -- per 1k words = sum(counts) / sum(words) * 1000, mean per response =
sum(counts) / n, share with any = sum(count > 0) / n, accuracy = sum(correct) / n -- so one routine
covers them all: draw cluster multiplicities from a seeded ``numpy.random.Generator`` (multinomial,
i.e. resampling clusters with replacement), recompute the ratio, take percentiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl

#: Upper bound on the bootstrap weight matrix (replicates x clusters) held in memory at once.
_MAX_CELLS = 4_000_000


@dataclass(frozen=True)
class StatsConfig:
    """Settings shared by every statistic.

    Attributes:
        n_boot: bootstrap replicates for percentile CIs.
        seed: seed of the ``numpy.random.Generator`` (same seed, same CIs).
        level: confidence level of every interval.
        cluster: ``"problem"`` (resample problems; default) or ``"response"`` (naive, for
            comparison only: ignores that responses to one problem are correlated).
        method: model-comparison family: ``"negbin"`` (negative binomial GLM, falling back to
            Poisson when there is no over-dispersion), ``"poisson"``, or ``"mixed"`` (linear mixed
            model on log rates with a random intercept per problem).
        length_bins: number of quantile bins of response length for stratified rates.
        top_terms: terms per category kept for charts and term tables.
        prior_scale: weight of the informative Dirichlet prior of the log-odds relative to the
            data (a_0 / words; :mod:`reasonlens.stats.logodds`).
    """

    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    cluster: str = "problem"
    method: str = "negbin"
    length_bins: int = 4
    top_terms: int = 25
    prior_scale: float = 0.1  # = reasonlens.stats.logodds.PRIOR_SCALE

    def __post_init__(self) -> None:
        from reasonlens.errors import ConfigError

        if self.n_boot < 0:
            raise ConfigError(f"n_boot must be >= 0, got {self.n_boot}")
        if not 0.5 <= self.level < 1:
            raise ConfigError(f"level must be in [0.5, 1), got {self.level}")
        if self.cluster not in ("problem", "response"):
            raise ConfigError(f"cluster must be 'problem' or 'response', got {self.cluster!r}")
        if self.method not in ("negbin", "poisson", "mixed"):
            raise ConfigError(f"method must be negbin, poisson or mixed, got {self.method!r}")
        if self.prior_scale <= 0:
            raise ConfigError(f"prior_scale must be > 0, got {self.prior_scale}")
        if self.length_bins < 1:
            raise ConfigError(f"length_bins must be >= 1, got {self.length_bins}")


def cluster_key(df: pl.DataFrame, unit: str = "problem") -> pl.Expr:
    """Expression giving each row its cluster: benchmark + problem_id (or the response id).

    Rows without a problem_id are their own cluster (nothing says they share a problem).
    """
    rid = pl.col("id").cast(pl.String) if "id" in df.columns else pl.int_range(pl.len()).cast(
        pl.String)
    if unit == "response" or "problem_id" not in df.columns:
        return rid.alias("_cluster")
    bench = pl.col("benchmark").cast(pl.String).fill_null("") if "benchmark" in df.columns \
        else pl.lit("")
    return (pl.when(pl.col("problem_id").is_null()).then(pl.lit("\x1eresp:") + rid)
            .otherwise(bench + pl.lit("\x1f") + pl.col("problem_id").cast(pl.String))
            .alias("_cluster"))


def mean_ci(values: np.ndarray, *, n_boot: int = 1000, seed: int | np.random.Generator = 0,
            level: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """Mean of per-cluster values (e.g. per-problem accuracy) and its percentile bootstrap CI,
    resampling clusters (:func:`bootstrap_ratios` with unit denominators).

    No values: (None, None, None). One value: (mean, None, None) -- one cluster says nothing
    about the spread, so no (zero-width) interval. ``n_boot`` 0: the mean as both bounds.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return None, None, None
    m = float(values.mean())
    if values.size == 1:
        return m, None, None
    if n_boot <= 0:
        return m, m, m
    est, lo, hi = bootstrap_ratios(values[:, None], np.ones(values.size), n_boot=n_boot,
                                   seed=seed, level=level)
    return float(est[0]), float(lo[0]), float(hi[0])


def bootstrap_statistics(n: int, statistics: Callable[[np.ndarray], dict[str, float | None]], *,
                         n_boot: int, seed: int | np.random.Generator, level: float
                         ) -> dict[str, tuple[list[float] | None, int]]:
    """Percentile CIs of statistics that are not ratios of sums (kappa, F1, Spearman ...),
    resampling the ``n`` units with replacement.

    ``statistics(idx)`` computes every statistic on the units ``idx`` (one replicate's draw of
    ``n`` indices). A replicate where a statistic is undefined (None or NaN) is left out of its
    interval. Returns {name: ([low, high] or None when no replicate defined it, n_valid)}.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    boots: dict[str, list[float]] = {}
    if n:
        for _ in range(n_boot):
            for name, v in statistics(rng.integers(0, n, n)).items():
                if v is not None and not np.isnan(v):
                    boots.setdefault(name, []).append(v)
    alpha = (1 - level) / 2
    return {name: ([float(np.quantile(vals, alpha)), float(np.quantile(vals, 1 - alpha))],
                   len(vals)) for name, vals in boots.items()}


def bootstrap_ratios(num: np.ndarray, den: np.ndarray, *, n_boot: int,
                     seed: int | np.random.Generator, level: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point estimates and percentile CIs of ratios of cluster sums.

    Args:
        num: (G, K) numerators summed per cluster (G clusters, K quantities).
        den: (G, K) or (G,) denominators summed per cluster.
        n_boot: replicates (0 gives NaN intervals).
        seed: an int or a Generator; the same seed gives the same intervals.
        level: confidence level.

    Returns:
        (estimate, low, high), each of shape (K,). A ratio with a zero denominator is NaN; so
        are the bounds with fewer than two clusters.

    Examples:
        >>> est, lo, hi = bootstrap_ratios(np.array([[1.], [3.]]), np.array([2., 2.]),
        ...                                n_boot=200, seed=0, level=0.9)
        >>> float(est[0])
        1.0
    """
    num = np.asarray(num, dtype=np.float64)
    if num.ndim == 1:
        num = num[:, None]
    den = np.asarray(den, dtype=np.float64)
    den2 = den[:, None] if den.ndim == 1 else den
    g, k = num.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        est = num.sum(0) / den2.sum(0)
    if den2.shape[1] > 1:  # many quantities share a denominator (words, responses): resample once
        den_u, den_idx = np.unique(den2, axis=1, return_inverse=True)
        den_idx = den_idx.reshape(-1)
    else:
        den_u, den_idx = den2, np.zeros(k, dtype=int)
    if g < 2 or n_boot == 0:  # one cluster: resampling it gives a zero-width interval
        nan = np.full(k, np.nan)
        return est, nan, nan.copy()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS // max(g, 1))
    reps = np.empty((n_boot, k))
    done = 0
    while done < n_boot:
        b = min(chunk, n_boot - done)
        # b replicates of g clusters drawn with replacement, as multiplicities (a multinomial
        # draw; one flat bincount is ~5x faster than rng.multinomial)
        draws = rng.integers(0, g, size=(b, g)) + (np.arange(b) * g)[:, None]
        w = np.bincount(draws.ravel(), minlength=b * g).reshape(b, g).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            reps[done:done + b] = (w @ num) / (w @ den_u)[:, den_idx]
        done += b
    alpha = (1 - level) / 2
    finite = np.isfinite(reps)
    if finite.all():
        lo, hi = np.quantile(reps, [alpha, 1 - alpha], axis=0)
    else:  # a replicate can draw only clusters with a zero denominator: ignore it per column
        reps[~finite] = np.nan
        lo, hi = np.full(k, np.nan), np.full(k, np.nan)
        ok = finite.any(axis=0)
        if ok.any():
            lo[ok], hi[ok] = np.nanquantile(reps[:, ok], [alpha, 1 - alpha], axis=0)
    return est, np.atleast_1d(lo), np.atleast_1d(hi)
