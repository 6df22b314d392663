"""Options shared by ``reasonlens stats`` and ``reasonlens report``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click


def stats_options(func: Callable) -> Callable:
    """Statistics options (bootstrap, level, model family, reference)."""
    opts = [
        click.option("--reference", help="Reference model for rate ratios (default: the first "
                     "model name in sorted order)."),
        click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
                     help="Bootstrap replicates for every CI (problems resampled)."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the bootstrap (same seed, same intervals)."),
        click.option("--level", type=click.FloatRange(0.5, 0.999), default=0.95,
                     show_default=True, help="Confidence level."),
        click.option("--method", type=click.Choice(["negbin", "poisson", "mixed"]),
                     default="negbin", show_default=True,
                     help="Model comparison: negative-binomial GLM (Poisson fallback), Poisson "
                          "GLM, or linear mixed model on log rates (random problem intercept)."),
        click.option("--length-bins", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Quantile bins of length for the stratified rates."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def stats_config(kwargs: dict[str, Any]):
    """Pop the stats options into (StatsConfig, reference)."""
    from reasonlens.stats import StatsConfig

    cfg = StatsConfig(n_boot=kwargs.pop("n_boot"), seed=kwargs.pop("seed"),
                      level=kwargs.pop("level"), method=kwargs.pop("method"),
                      length_bins=kwargs.pop("length_bins"))
    return cfg, kwargs.pop("reference")
