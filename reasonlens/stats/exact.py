"""Exact conditional test of two Poisson rates, for comparisons a GLM cannot make.

When one side has no hit at all (a category the reference model never uses, or one the compared
model never uses), the GLM's rate ratio is infinite or zero and its Wald interval undefined. The exact test conditions on the total
count: given n = x_model + x_reference hits, x_model ~ Binomial(n, pi) with
pi = RR * E_model / (RR * E_model + E_reference), where E are the exposures (words). Under
H0 (RR = 1) pi0 = E_model / (E_model + E_reference): the two-sided p-value is the binomial test's
(scipy ``binomtest``), and the Clopper-Pearson interval for pi maps to an interval for the rate
ratio, RR = pi / (1 - pi) * E_reference / E_model, which stays finite on the side that the data
bound (with no reference hit: RR > lower bound, upper bound infinite).

The counts are pooled over problems, so this test ignores the clustering by problem that the
GLM's sandwich errors account for; the report says so next to every exact result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

NOTE = ("exact conditional Poisson test on pooled counts (binomial given the total, "
        "Clopper-Pearson interval); ignores clustering by problem")


@dataclass(frozen=True)
class ExactRatio:
    """Rate ratio model / reference with its exact p-value and interval (inf when unbounded)."""

    rate_ratio: float
    ci_low: float
    ci_high: float
    p_value: float


def exact_rate_ratio(x_model: int, e_model: float, x_ref: int, e_ref: float,
                     level: float = 0.95) -> ExactRatio | None:
    """The exact test (module docstring); None when there is no hit on either side or no
    exposure."""
    from scipy.stats import binomtest

    n = int(x_model) + int(x_ref)
    if n == 0 or e_model <= 0 or e_ref <= 0:
        return None
    pi0 = e_model / (e_model + e_ref)
    res = binomtest(int(x_model), n, pi0)
    ci = res.proportion_ci(confidence_level=level, method="exact")

    def rr(pi: float) -> float:
        if pi >= 1.0:
            return math.inf
        return pi / (1.0 - pi) * e_ref / e_model

    est = rr(x_model / n)
    return ExactRatio(rate_ratio=est, ci_low=rr(ci.low), ci_high=rr(ci.high),
                      p_value=float(res.pvalue))


def no_glm_interval(row: dict) -> bool:
    """True for a comparison row whose GLM gave no rate ratio or no interval (e.g. no hit in the
    reference: no ratio; no hit in the compared model: ratio 0 without an interval)."""
    return row.get("rate_ratio") is None or row.get("ci_low") is None


def exact_for_zero_rows(comparisons: pl.DataFrame, responses: pl.DataFrame, *,
                        level: float = 0.95, count_columns: dict[str, str] | None = None
                        ) -> pl.DataFrame:
    """``comparisons`` with exact_rate_ratio, exact_ci_low, exact_ci_high, exact_p and
    zero_note filled for rows whose GLM could not give a rate ratio because one side has no hit.

    ``responses`` holds model, benchmark, words and the count columns (``count_columns`` maps a
    comparison label to its column; default: the label itself).
    """
    cols = {"exact_rate_ratio": pl.Float64, "exact_ci_low": pl.Float64,
            "exact_ci_high": pl.Float64, "exact_p": pl.Float64, "zero_note": pl.String}
    if comparisons.height == 0:
        return comparisons.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in cols.items())
    count_columns = count_columns or {}
    out = {c: [] for c in cols}
    r = responses.with_columns(pl.col("model").cast(pl.String),
                               pl.col("benchmark").cast(pl.String).fill_null("(none)")
                               if "benchmark" in responses.columns
                               else pl.lit("(none)").alias("benchmark"))
    for row in comparisons.iter_rows(named=True):
        vals = dict.fromkeys(cols)
        col = count_columns.get(row["category"], row["category"])
        if no_glm_interval(row) and col in r.columns:
            sub = r if row["benchmark"] == "(all)" else r.filter(
                pl.col("benchmark") == row["benchmark"])
            sides = []
            for m in (row["model"], row["reference"]):
                s = sub.filter(pl.col("model") == m)
                if col.endswith("_count"):  # judged behaviours: judged-ok rows only
                    s = s.filter(pl.col(col).is_not_null())
                sides.append((int(s[col].fill_null(0).sum()), float(s["words"].sum())))
            (xm, em), (xr, er) = sides
            ex = exact_rate_ratio(xm, em, xr, er, level)
            who = ("neither model" if xm == xr == 0 else "the reference" if xr == 0
                   else "this model" if xm == 0 else None)
            if who is not None:
                vals["zero_note"] = (f"no hits in {who} ({xm} vs {xr} in {em:,.0f} vs "
                                     f"{er:,.0f} words)")
            if ex is not None:
                vals.update(exact_rate_ratio=ex.rate_ratio, exact_ci_low=ex.ci_low,
                            exact_ci_high=ex.ci_high, exact_p=ex.p_value)
        for c in cols:
            out[c].append(vals[c])
    return comparisons.with_columns(pl.Series(c, out[c], dtype=t) for c, t in cols.items())


__all__ = ["NOTE", "ExactRatio", "exact_for_zero_rows", "exact_rate_ratio", "no_glm_interval"]
