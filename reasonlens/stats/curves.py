"""Curves over training steps: per model, rates, behaviours and accuracy at each checkpoint.

Traces that carry a ``step`` (a column, or a field mapped with ``--field step=PATH``; see
:data:`reasonlens.schema.TRACE_SCHEMA`) give one point per (model, step) -- and per benchmark,
with pooled ``"(all)"`` rows when there are several -- with the same estimators and
problem-clustered bootstrap CIs as the pooled tables:

* ``curves_categories``: lexicon category rates (:func:`reasonlens.stats.rates.category_rates`);
* ``curves_behaviours``: judged behaviours per response (:func:`~reasonlens.stats.rates.behaviour_rates`);
* ``curves_accuracy``: avg@n accuracy (share of correct samples; ungradable counts as wrong), the
  estimator of :func:`reasonlens.stats.accuracy.accuracy_table`, as ``metric = "accuracy"``.

All three share the tidy columns model, benchmark, step, (category | behaviour | measure),
metric, estimate, ci_low, ci_high, n_responses, n_problems, level. A table appears only when
some model has two or more steps.
"""

from __future__ import annotations

import polars as pl

from reasonlens.stats.bootstrap import StatsConfig
from reasonlens.stats.rates import ALL, behaviour_rates, category_rates, ratio_rows

BY = ("model", "benchmark", "step")


def has_steps(df: pl.DataFrame | None) -> bool:
    """True when ``df`` has a ``step`` column with two or more steps for at least one model."""
    if df is None or "step" not in df.columns or df.height == 0:
        return False
    per = df.filter(pl.col("step").is_not_null()).group_by("model").agg(
        pl.col("step").n_unique().alias("n"))
    return per.height > 0 and int(per["n"].max()) >= 2


def _steps_back(df: pl.DataFrame) -> pl.DataFrame:
    """``step`` was grouped as text (``rates._prepare``): give it back its integer type."""
    return df.with_columns(pl.col("step").cast(pl.Int64)).sort("model", "benchmark", "step")


def _with_step(frame: pl.DataFrame, *sources: pl.DataFrame | None) -> pl.DataFrame:
    """``frame`` with the ``step`` of each id taken from the first source that has one."""
    if "step" in frame.columns and frame["step"].null_count() < frame.height:
        return frame
    for src in sources:
        if src is not None and "step" in src.columns:
            return frame.drop("step", strict=False).join(
                src.select("id", "step").unique("id"), on="id", how="left")
    return frame


def category_curves(responses: pl.DataFrame, config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Lexicon category rates per model, benchmark and step (see the module docstring)."""
    r = responses.filter(pl.col("step").is_not_null())
    return _steps_back(category_rates(r, by=BY, pooled_over="benchmark", config=config))


def behaviour_curves(judgments: pl.DataFrame, words: pl.DataFrame | None = None,
                     config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Judged behaviours per model, benchmark and step; ``judgments`` must carry ``step``."""
    j = judgments.filter(pl.col("step").is_not_null())
    return _steps_back(behaviour_rates(j, by=BY, pooled_over="benchmark", words=words,
                                       config=config))


def accuracy_curves(graded: pl.DataFrame, config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """avg@n accuracy per model, benchmark and step, problems resampled for the CI."""
    from reasonlens.stats.rates import _prepare, _with_pooled

    g = graded.filter(pl.col("step").is_not_null())
    df = _with_pooled(_prepare(g, BY, config), "benchmark")
    q = [({"measure": "accuracy", "metric": "accuracy"},
          pl.col("correct").fill_null(False).cast(pl.Float64), pl.col("_one"))]
    rows = ratio_rows(df, list(BY), q, config)
    schema = {"model": pl.String, "benchmark": pl.String, "step": pl.String,
              "measure": pl.String, "metric": pl.String, "estimate": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "n_responses": pl.Int64,
              "n_problems": pl.Int64, "level": pl.Float64}
    out = pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)
    return _steps_back(out)


def step_curves(responses: pl.DataFrame | None, graded: pl.DataFrame | None,
                judgments: pl.DataFrame | None, config: StatsConfig = StatsConfig()
                ) -> dict[str, pl.DataFrame]:
    """Every curve table the inputs allow (empty dict when no model has two steps)."""
    out: dict[str, pl.DataFrame] = {}
    if has_steps(responses):
        out["curves_categories"] = category_curves(responses, config)
    if judgments is not None and judgments.height:
        j = _with_step(judgments, responses, graded)
        if has_steps(j):
            words = responses.select("id", "words") if responses is not None else None
            out["curves_behaviours"] = behaviour_curves(j, words, config)
    if has_steps(graded):
        out["curves_accuracy"] = accuracy_curves(graded, config)
    return out


__all__ = ["ALL", "accuracy_curves", "behaviour_curves", "category_curves", "has_steps",
           "step_curves"]
