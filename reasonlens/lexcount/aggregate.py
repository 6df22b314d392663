"""Aggregates of scored responses: per model and per (model, benchmark).

For each category C and each group of responses:

- ``per_1k_words``: 1000 * (sum of C) / (sum of words): the pooled rate per 1k words;
- ``mean_per_response``: mean of C over responses;
- ``share_with_any``: share of responses with C > 0;
- ``median_per_response``: median of C.

The same figures (without the median) for every term of every lexicon, zeros included, so a
chart can show a term a model never uses. Behaviour columns (``B_count`` with ``B_status``, from
the offline detector or the LLM judge) get ``mean_per_response`` and ``share_with_any`` over the
responses judged, and ``n_missing`` for the rest (a failed judgment is missing, never 0).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reasonlens.lexicon.lexicons import Lexicon
from reasonlens.schema import behaviours_in


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


def _group_stats(responses: pl.LazyFrame, by: list[str], cats: list[str], behaviours: list[str]
                 ) -> pl.DataFrame:
    aggs = [pl.len().alias("n_responses"), pl.col("words").sum().alias("words")]
    for c in cats:
        x = pl.col(c).cast(pl.Float64)
        aggs += [x.sum().alias(f"{c}__sum"), x.mean().alias(f"{c}__mean"),
                 (pl.col(c) > 0).mean().alias(f"{c}__share"), x.median().alias(f"{c}__median")]
    for b in behaviours:
        x = pl.col(f"{b}_count").cast(pl.Float64)
        aggs += [x.mean().alias(f"{b}__bmean"), (x > 0).mean().alias(f"{b}__bshare"),
                 x.is_null().sum().alias(f"{b}__missing"),
                 x.is_not_null().sum().alias(f"{b}__judged")]
    return responses.group_by(by).agg(aggs).sort(by).collect()


def _term_stats(terms: pl.LazyFrame, by: list[str], parts: str) -> dict[tuple, dict]:
    t = terms if parts == "all" else terms.filter(pl.col("part") == parts)
    df = (t.group_by(by + ["category", "term"])
          .agg(pl.col("count").sum().alias("total"), pl.col("id").n_unique().alias("n_any"))
          .collect())
    out: dict[tuple, dict] = {}
    for row in df.iter_rows(named=True):
        key = tuple(row[k] for k in by)
        out.setdefault(key, {})[(row["category"], row["term"])] = (row["total"], row["n_any"])
    return out


def _block(row: dict, lexicons: tuple[Lexicon, ...], term_counts: dict, behaviours: list[str]
           ) -> dict[str, Any]:
    n = int(row["n_responses"])
    words = int(row["words"] or 0)
    block: dict[str, Any] = {"n_responses": n, "words": words,
                             "mean_words": words / n if n else None, "categories": {},
                             "terms": {}}
    for lx in lexicons:
        c = lx.name
        total = row[f"{c}__sum"] or 0.0
        block["categories"][c] = {
            "per_1k_words": 1000.0 * total / words if words else None,
            "mean_per_response": _f(row[f"{c}__mean"]),
            "share_with_any": _f(row[f"{c}__share"]),
            "median_per_response": _f(row[f"{c}__median"]),
        }
        terms = {}
        for term in lx.terms:
            tot, n_any = term_counts.get((c, term), (0, 0))
            terms[term] = {"per_1k_words": 1000.0 * tot / words if words else None,
                           "mean_per_response": tot / n if n else None,
                           "share_with_any": n_any / n if n else None,
                           "count": int(tot)}
        block["terms"][c] = terms
    if behaviours:
        block["behaviours"] = {
            b: {"mean_per_response": _f(row[f"{b}__bmean"]),
                "share_with_any": _f(row[f"{b}__bshare"]),
                "n_judged": int(row[f"{b}__judged"]), "n_missing": int(row[f"{b}__missing"])}
            for b in behaviours}
    return block


def summarise(responses: pl.DataFrame | pl.LazyFrame, terms: pl.DataFrame | pl.LazyFrame,
              lexicons: tuple[Lexicon, ...], *, parts: str = "all") -> dict[str, Any]:
    """``{"models": {M: {..., "benchmarks": {B: {...}}}}}`` (see the module docstring)."""
    r, t = responses.lazy(), terms.lazy()
    cats = [lx.name for lx in lexicons]
    behaviours = behaviours_in(r)
    per_model = _group_stats(r, ["model"], cats, behaviours)
    per_bench = _group_stats(r, ["model", "benchmark"], cats, behaviours)
    tm = _term_stats(t, ["model"], parts)
    tb = _term_stats(t, ["model", "benchmark"], parts)
    models: dict[str, Any] = {}
    for row in per_model.iter_rows(named=True):
        m = row["model"]
        models[m] = _block(row, lexicons, tm.get((m,), {}), behaviours)
        models[m]["benchmarks"] = {}
    for row in per_bench.iter_rows(named=True):
        m, b = row["model"], row["benchmark"]
        models[m]["benchmarks"][b] = _block(row, lexicons, tb.get((m, b), {}), behaviours)
    return {"models": models}


def model_table(summary: dict[str, Any], categories: list[str]) -> tuple[list[str], list[list]]:
    """Columns and rows of the per-model table the CLI prints."""
    cols = ["model", "responses", "words/resp"]
    for c in categories:
        cols += [f"{c} /1k", f"{c} any"]
    first = next(iter(summary["models"].values()), {})
    behaviours = list(first.get("behaviours", {}))
    cols += [f"{b} mean" for b in behaviours]
    rows = []
    for m, blk in summary["models"].items():
        row: list[Any] = [m, blk["n_responses"], blk["mean_words"]]
        for c in categories:
            cat = blk["categories"][c]
            row += [cat["per_1k_words"], cat["share_with_any"]]
        row += [blk.get("behaviours", {}).get(b, {}).get("mean_per_response") for b in behaviours]
        rows.append(row)
    return cols, rows
