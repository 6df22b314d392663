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

import functools
from typing import Any

import polars as pl

from reasonlens.lexicon.lexicons import Lexicon
from reasonlens.schema import behaviours_in, response_ids


def _f(x: Any) -> float | None:
    return None if x is None else float(x)


PARTIAL_SCHEMA = {"kind": pl.String, "model": pl.String, "benchmark": pl.String,
                  "name": pl.String, "term": pl.String, "value": pl.Int64, "n": pl.Int64,
                  "total": pl.Float64}
_KEYS = ["kind", "model", "benchmark", "name", "term", "value"]


def partial_counts(responses: pl.DataFrame | pl.LazyFrame, terms: pl.DataFrame | pl.LazyFrame,
                   categories: list[str] | tuple[str, ...], *, parts: str = "all") -> pl.DataFrame:
    """Additive counts per (model, benchmark) of one batch of scored responses and its terms.

    Long rows of :data:`PARTIAL_SCHEMA`; every figure is a count or a sum, so partials of any
    split of the responses merge by adding (:func:`merge_partials`), and the rates, means and
    medians are computed once, after the merge (:func:`summary_from_partials`):

    - ``group``: ``n`` responses, ``total`` words;
    - ``cat`` (name C): ``n`` responses with C > 0, ``total`` sum of C;
    - ``hist`` (name C, value v): ``n`` responses with C == v (the exact median after merging);
    - ``term`` (name C, term t): ``n`` responses with t, ``total`` hits of t (ids are unique,
      and all rows of a response are in one batch);
    - ``beh`` (name B, term judged/positive/missing, value: B's column position): responses
      judged (``total``: sum of B_count), judged with B_count > 0, and missing.
    """
    return merge_partials([partial_rows(responses, terms, categories, parts=parts)])


def partial_rows(responses: pl.DataFrame | pl.LazyFrame, terms: pl.DataFrame | pl.LazyFrame,
                 categories: list[str] | tuple[str, ...], *, parts: str = "all"
                 ) -> pl.DataFrame:
    """The rows of :func:`partial_counts`, not yet merged: the group-bys, each cast to
    :data:`PARTIAL_SCHEMA`, collected as one query on polars' in-memory engine (the
    categories' figures from one long frame of their counts)."""
    r, t = responses.lazy(), terms.lazy()
    g = ["model", "benchmark"]
    frames = [(r.group_by(g).agg(pl.lit("group").alias("kind"), pl.len().alias("n"),
                                 pl.col("words").cast(pl.Float64).sum().alias("total")),
               ("kind", "model", "benchmark", "n", "total"))]
    if categories:
        long = r.select(*g, pl.col(list(categories)).cast(pl.Int64)).unpivot(
            list(categories), index=g, variable_name="name", value_name="value")
        v = pl.col("value")
        frames.append((long.group_by(g + ["name"]).agg(
            pl.lit("cat").alias("kind"), (v > 0).sum().alias("n"),
            v.cast(pl.Float64).sum().alias("total")),
            ("kind", "model", "benchmark", "name", "n", "total")))
        frames.append((long.group_by(g + ["name", "value"]).agg(pl.lit("hist").alias("kind"),
                                                               pl.len().alias("n")),
                       ("kind", "model", "benchmark", "name", "value", "n")))
    schema = _schema(responses)
    for pos, b in enumerate(behaviours_in(schema)):
        x = pl.col(f"{b}_count")
        frames.append((r.group_by(g).agg(
            pl.lit("beh").alias("kind"), pl.lit(b).alias("name"), pl.lit(pos).alias("value"),
            pl.concat_list(x.is_not_null().sum(), (x > 0).sum(), x.is_null().sum()).alias("n"),
            pl.concat_list(x.cast(pl.Float64).sum(), pl.lit(0.0), pl.lit(0.0)).alias("total"),
            pl.lit(["judged", "positive", "missing"]).alias("term"))
            .explode(["n", "total", "term"]), tuple(PARTIAL_SCHEMA)))
    tt = t if parts == "all" else t.filter(pl.col("part") == parts)
    # ids coded as an Enum (the streaming run's terms) are counted by their codes
    ids = pl.col("id") if isinstance(_schema(terms)["id"], pl.Enum) else response_ids(r)
    frames.append((tt.group_by(g + [pl.col("category").alias("name"), "term"])
                   .agg(pl.lit("term").alias("kind"), ids.n_unique().alias("n"),
                        pl.col("count").cast(pl.Float64).sum().alias("total")),
                   ("kind", "model", "benchmark", "name", "term", "n", "total")))
    return pl.concat([f.select(_as_partial(cols)) for f, cols in frames]
                     ).collect(engine="in-memory")


def _schema(frame: pl.DataFrame | pl.LazyFrame) -> pl.Schema:
    return frame.schema if isinstance(frame, pl.DataFrame) else frame.collect_schema()


@functools.lru_cache(maxsize=16)
def _as_partial(columns: tuple[str, ...]) -> list[pl.Expr]:
    """The select that gives a frame of these columns :data:`PARTIAL_SCHEMA` (made once per
    set of columns: building the expressions anew cost as much as a batch's group-bys)."""
    return [pl.col(k).cast(v) if k in columns else pl.lit(None, dtype=v).alias(k)
            for k, v in PARTIAL_SCHEMA.items()]


def merge_partials(partials) -> pl.DataFrame:
    """Add partial counts (from any split of the responses) into one partial."""
    frames = [p for p in partials if p is not None and len(p)]
    if not frames:
        return pl.DataFrame(schema=PARTIAL_SCHEMA)
    return (pl.concat(frames).group_by(_KEYS)
            .agg(pl.col("n").sum(), pl.col("total").sum())
            .sort(_KEYS, nulls_last=False).select(list(PARTIAL_SCHEMA)))


class PartialCounts:
    """Partial counts of a stream of scored batches, merged as they come (memory: one partial,
    a few rows per model, benchmark, category value and term)."""

    def __init__(self, categories: tuple[str, ...] | list[str], parts: str = "all",
                 merge_every: int = 64):
        self.categories, self.parts, self.merge_every = tuple(categories), parts, merge_every
        self._parts: list[pl.DataFrame] = []

    def add(self, responses: pl.DataFrame, terms: pl.DataFrame) -> None:
        self._parts.append(partial_rows(responses, terms, self.categories, parts=self.parts))
        if len(self._parts) >= self.merge_every:
            self._parts = [merge_partials(self._parts)]

    def merged(self) -> pl.DataFrame:
        return merge_partials(self._parts)


def _median(hist: list[tuple[int, int]]) -> float | None:
    """The median of values given as (value, count) pairs (the mean of the two middle values
    when the count is even, as polars computes it)."""
    n = sum(c for _, c in hist)
    if not n:
        return None
    hist = sorted(hist)
    want = [(n - 1) // 2, n // 2]
    got, seen = [], 0
    for v, c in hist:
        while len(got) < 2 and want[len(got)] < seen + c:
            got.append(v)
        seen += c
    return (got[0] + got[1]) / 2.0


def _rows(partial: pl.DataFrame, by: list[str], cats: list[str], behaviours: list[str]
          ) -> tuple[list[dict], dict[tuple, dict]]:
    """Per group: the row that :func:`_block` reads, and the term totals."""
    p = partial.group_by(by + ["kind", "name", "term", "value"]).agg(pl.col("n").sum(),
                                                                     pl.col("total").sum())
    groups: dict[tuple, dict] = {}
    hists: dict[tuple, list] = {}
    terms: dict[tuple, dict] = {}
    beh: dict[tuple, dict] = {}
    for row in p.sort(by + ["kind", "name", "term", "value"], nulls_last=False).iter_rows(
            named=True):
        key = tuple(row[k] for k in by)
        kind = row["kind"]
        g = groups.setdefault(key, {k: row[k] for k in by})
        if kind == "group":
            g["n_responses"], g["words"] = row["n"], int(row["total"])
        elif kind == "cat":
            g[f"{row['name']}__sum"], g[f"{row['name']}__pos"] = row["total"], row["n"]
        elif kind == "hist":
            hists.setdefault((key, row["name"]), []).append((row["value"], row["n"]))
        elif kind == "term":
            terms.setdefault(key, {})[(row["name"], row["term"])] = (row["total"], row["n"])
        elif kind == "beh":
            beh.setdefault((key, row["name"]), {})[row["term"]] = (row["n"], row["total"])
    out = []
    for key, g in sorted(groups.items()):
        n = g["n_responses"]
        for c in cats:
            total = g.get(f"{c}__sum", 0.0)
            g[f"{c}__sum"] = total
            g[f"{c}__mean"] = total / n if n else None
            g[f"{c}__share"] = g.get(f"{c}__pos", 0) / n if n else None
            g[f"{c}__median"] = _median(hists.get((key, c), []))
        for b in behaviours:
            d = beh.get((key, b), {})
            judged, bsum = d.get("judged", (0, 0.0))
            g[f"{b}__bmean"] = bsum / judged if judged else None
            g[f"{b}__bshare"] = d.get("positive", (0, 0.0))[0] / judged if judged else None
            g[f"{b}__judged"], g[f"{b}__missing"] = judged, d.get("missing", (0, 0.0))[0]
        out.append(g)
    return out, terms


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
    partial = partial_counts(responses, terms, [lx.name for lx in lexicons], parts=parts)
    return summary_from_partials(partial, lexicons)


def summary_from_partials(partial: pl.DataFrame, lexicons: tuple[Lexicon, ...]
                          ) -> dict[str, Any]:
    """The summary from merged partial counts: rates, means, shares and medians are computed
    here, after the merge, never averaged across batches."""
    cats = [lx.name for lx in lexicons]
    beh = partial.filter(pl.col("kind") == "beh").select("name", "value").unique()
    behaviours = beh.sort("value", "name")["name"].to_list()
    per_model, tm = _rows(partial, ["model"], cats, behaviours)
    per_bench, tb = _rows(partial, ["model", "benchmark"], cats, behaviours)
    models: dict[str, Any] = {}
    for row in per_model:
        m = row["model"]
        models[m] = _block(row, lexicons, tm.get((m,), {}), behaviours)
        models[m]["benchmarks"] = {}
    for row in per_bench:
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
    unit = (summary.get("behaviour_source") or {}).get("unit")  # episodes / sentences
    cols += [f"{b} {unit}/resp" if unit else f"{b} mean" for b in behaviours]
    rows = []
    for m, blk in summary["models"].items():
        row: list[Any] = [m, blk["n_responses"], blk["mean_words"]]
        for c in categories:
            cat = blk["categories"][c]
            row += [cat["per_1k_words"], cat["share_with_any"]]
        row += [blk.get("behaviours", {}).get(b, {}).get("mean_per_response") for b in behaviours]
        rows.append(row)
    return cols, rows
