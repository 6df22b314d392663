"""Per model (and benchmark) usage rates with problem-clustered bootstrap CIs, as tidy frames.

Three rates per lexicon category, behaviour or term (the paper reports all three styles):

* ``per_1k_words``      = 1000 * sum(count) / sum(words)  -- length-normalised rate
* ``mean_per_response`` = sum(count) / n_responses
* ``share_with_any``    = n(count > 0) / n_responses

Every row carries ``n_responses``, ``n_problems`` and a percentile CI from the cluster bootstrap
(:mod:`reasonlens.stats.bootstrap`). Pooled rows (over benchmarks) use ``benchmark = "(all)"``.
"""

from __future__ import annotations

import zlib

import numpy as np
import polars as pl

from reasonlens.schema import behaviours_in, response_ids
from reasonlens.stats.bootstrap import StatsConfig, bootstrap_ratios, cluster_key

ALL = "(all)"
METRICS = ("per_1k_words", "mean_per_response", "share_with_any")

RATE_SCHEMA = {
    "model": pl.String, "benchmark": pl.String, "category": pl.String, "metric": pl.String,
    "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
    "n_responses": pl.Int64, "n_problems": pl.Int64, "level": pl.Float64,
}


def _rng(config: StatsConfig, key: tuple) -> np.random.Generator:
    """A generator seeded by the config seed and a stable hash of the group (order-independent)."""
    h = zlib.crc32(repr(key).encode())
    return np.random.default_rng([config.seed, h])


def categories_in(responses: pl.DataFrame) -> list[str]:
    """Lexicon categories present in a score ``responses`` frame (columns C with C_per_1k)."""
    return [c for c in responses.columns if f"{c}_per_1k" in responses.columns]


def _count_col(category: str, part: str) -> str:
    return category if part == "all" else f"{category}_{part}"


def _words_col(part: str) -> str:
    return "words" if part == "all" else f"words_{part}"


def ratio_rows(df: pl.DataFrame, group_cols: list[str], quantities: list[tuple],
               config: StatsConfig) -> list[dict]:
    """Bootstrap several ratio quantities for each group of ``df`` (shared resamples).

    Args:
        df: rows with a ``_cluster`` column and whatever the expressions need.
        group_cols: columns defining groups (one bootstrap per group).
        quantities: (labels, numerator expr, denominator expr[, row-count expr]); labels go into
            each output row; the optional row-count expression (e.g. "judged ok") gives that
            quantity's n_responses and n_problems (default: all rows).
        config: bootstrap settings.

    Returns:
        dict rows: group columns, labels, estimate, ci_low, ci_high, n_responses, n_problems.
    """
    if df.height == 0 or not quantities:
        return []
    aggs = []
    for i, q in enumerate(quantities):
        aggs += [q[1].cast(pl.Float64).sum().alias(f"_n{i}"),
                 q[2].cast(pl.Float64).sum().alias(f"_d{i}"),
                 (q[3].cast(pl.Int64).sum() if len(q) > 3 else pl.len().cast(pl.Int64))
                 .alias(f"_r{i}")]
    per_cluster = df.group_by(group_cols + ["_cluster"]).agg(aggs)
    rows: list[dict] = []
    k = len(quantities)
    for key, sub in per_cluster.sort(group_cols + ["_cluster"]).group_by(group_cols,
                                                                           maintain_order=True):
        num = sub.select([f"_n{i}" for i in range(k)]).to_numpy()
        den = sub.select([f"_d{i}" for i in range(k)]).to_numpy()
        cnt = sub.select([f"_r{i}" for i in range(k)]).to_numpy()
        est, lo, hi = bootstrap_ratios(num, den, n_boot=config.n_boot, seed=_rng(config, key),
                                       level=config.level)
        base = dict(zip(group_cols, key))
        for i, q in enumerate(quantities):
            rows.append({**base, **q[0], "estimate": _f(est[i]), "ci_low": _f(lo[i]),
                         "ci_high": _f(hi[i]), "n_responses": int(cnt[:, i].sum()),
                         "n_problems": int((cnt[:, i] > 0).sum()), "level": config.level})
    return rows


def _f(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _with_pooled(df: pl.DataFrame, pooled_over: str | None) -> pl.DataFrame:
    if pooled_over is None or pooled_over not in df.columns:
        return df
    if df[pooled_over].n_unique() <= 1:
        return df
    return pl.concat([df, df.with_columns(pl.lit(ALL).alias(pooled_over))], how="vertical")


def _prepare(df: pl.DataFrame, by: tuple[str, ...], config: StatsConfig,
             columns: list[str] | None = None) -> pl.DataFrame:
    """``df`` with ``_cluster``, ``_one`` and the ``by`` columns as strings. With ``columns``,
    only those and the key columns are kept: the pooled copy of 10^6 rows is then narrow."""
    if columns is not None:
        df = df.select(c for c in dict.fromkeys([*by, "id", "benchmark", "problem_id",
                                                 *columns]) if c in df.columns)
    out = df.with_columns(cluster_key(df, config.cluster), pl.lit(1.0).alias("_one"))
    for c in by:
        if c not in out.columns:
            out = out.with_columns(pl.lit(ALL).alias(c))
        out = out.with_columns(pl.col(c).cast(pl.String).fill_null("(none)"))
    return out


def category_rates(responses: pl.DataFrame, categories: list[str] | None = None, *,
                   by: tuple[str, ...] = ("model", "benchmark"), pooled_over: str | None =
                   "benchmark", part: str = "all", config: StatsConfig = StatsConfig()
                   ) -> pl.DataFrame:
    """Rates of each lexicon category per group, with cluster-bootstrap CIs.

    Args:
        responses: score ``responses.parquet`` frame (model, benchmark, problem_id, words, C...).
        categories: categories to rate (default: every ``C`` with a ``C_per_1k`` column).
        by: grouping columns (missing ones become ``"(all)"``).
        pooled_over: also emit rows pooled over this column (``"(all)"``), e.g. benchmarks.
        part: ``"all"``, ``"reasoning"`` or ``"answer"`` (uses ``C_part`` and ``words_part``).
        config: bootstrap settings.

    Returns:
        tidy frame: ``by`` columns, category, metric, estimate, ci_low, ci_high, n_responses,
        n_problems, level (one row per group x category x metric).
    """
    cats = categories if categories is not None else categories_in(responses)
    wcol = _words_col(part)
    if wcol not in responses.columns:
        wcol = "words"
    df = _with_pooled(_prepare(responses, by, config, [_count_col(c, part) for c in cats]
                               + [wcol]), pooled_over)
    quantities = []
    for c in cats:
        col = _count_col(c, part)
        if col not in df.columns:
            continue
        cnt = pl.col(col).fill_null(0)
        quantities += [
            ({"category": c, "metric": "per_1k_words"}, cnt * 1000.0, pl.col(wcol).fill_null(0)),
            ({"category": c, "metric": "mean_per_response"}, cnt, pl.col("_one")),
            ({"category": c, "metric": "share_with_any"}, (cnt > 0), pl.col("_one")),
        ]
    rows = ratio_rows(df, list(by), quantities, config)
    schema = {**{c: pl.String for c in by}, **{k: v for k, v in RATE_SCHEMA.items()
                                                 if k not in ("model", "benchmark")}}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def behaviour_rates(judgments: pl.DataFrame, behaviours: list[str] | None = None, *,
                    by: tuple[str, ...] = ("model", "benchmark"), pooled_over: str | None =
                    "benchmark", words: pl.DataFrame | None = None,
                    config: StatsConfig = StatsConfig()) -> pl.DataFrame:
    """Judged behaviours per response (Figure 4): mean count and share with any, with CIs.

    Only rows whose status is ``"ok"`` (count not null) enter a behaviour's rate: a failed judgement
    is missing, never zero. ``n_responses`` is the number judged ok; ``n_missing`` counts the rest.
    With ``words`` (id, words) also emits ``per_1k_words``.
    """
    behaviours = behaviours if behaviours is not None else behaviours_in(judgments)
    counts = [f"{b}_count" for b in behaviours]
    df = _prepare(judgments, by, config, counts + ["words"])
    if words is not None and "words" not in df.columns:
        df = df.join(words.select("id", "words"), on="id", how="left")
    df = _with_pooled(df, pooled_over)
    qs: list[tuple] = []
    for b in behaviours:  # one bootstrap per group for all behaviours; missing rows masked out
        col = f"{b}_count"
        ok = pl.col(col).is_not_null()
        cnt = pl.col(col).fill_null(0)
        one = ok.cast(pl.Float64)
        qs += [({"behaviour": b, "metric": "mean_per_response"}, cnt, one, ok),
               ({"behaviour": b, "metric": "share_with_any"}, cnt > 0, one, ok)]
        if "words" in df.columns:
            qs.append(({"behaviour": b, "metric": "per_1k_words"}, cnt * 1000.0,
                       pl.when(ok).then(pl.col("words").fill_null(0)).otherwise(0), ok))
    rows = ratio_rows(df, list(by), qs, config)
    schema = {**{c: pl.String for c in by}, "behaviour": pl.String, "metric": pl.String,
              "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "n_responses": pl.Int64, "n_problems": pl.Int64, "level": pl.Float64}
    if not rows:
        return pl.DataFrame(schema={**schema, "n_missing": pl.Int64})
    out = pl.DataFrame(rows, schema=schema, orient="row")
    missing = pl.concat([df.group_by(list(by)).agg(
        pl.col(f"{b}_count").is_null().sum().cast(pl.Int64).alias("n_missing")).with_columns(
        pl.lit(b).alias("behaviour")) for b in behaviours])
    return out.join(missing, on=[*by, "behaviour"], how="left").with_columns(
        pl.col("n_missing").fill_null(0))


#: Rows of the long term counts aggregated per pass: a scanned terms.parquet is cut into
#: ceil(rows / TERM_ROWS_PER_PASS) disjoint parts (by a hash of the problem, or of the response)
#: so the memory of the group-by stays bounded whatever the input size.
TERM_ROWS_PER_PASS = 4_000_000


def cluster_term_counts(terms: pl.DataFrame | pl.LazyFrame, resp: pl.DataFrame, by: list[str],
                        unit: str = "problem") -> pl.DataFrame:
    """Per (by..., _cluster, category, term): summed counts and responses with any (> 0).

    ``resp`` has id, the ``by`` columns and ``_cluster``. When the terms carry model, benchmark
    and problem_id (score's terms.parquet does) the cluster comes from them directly -- no join of
    millions of term rows on string ids; otherwise terms are joined to ``resp`` by id. ``terms``
    may be lazy (a scanned terms.parquet, tens of rows per response): it is then aggregated in
    disjoint parts (:data:`TERM_ROWS_PER_PASS`) by polars' streaming engine, never held whole.
    "present" counts distinct responses (:func:`reasonlens.schema.response_ids`).
    """
    lf = terms.lazy()
    names = set(lf.collect_schema().names())
    n_rows = lf.select(pl.len()).collect().item() if isinstance(terms, pl.LazyFrame) \
        else terms.height
    passes = max(1, -(-n_rows // TERM_ROWS_PER_PASS))
    own = {"id", "benchmark", "problem_id", *by} <= names and unit == "problem"
    if own and lf.select(pl.col("problem_id").null_count()).collect().item() == 0:
        # one group-by at cluster level per part of the problems; "present" = distinct
        # responses with the term (rows are per part, so a response can appear twice)
        keys = [*by, "benchmark", "problem_id", "category", "term"]
        nz = lf.filter(pl.col("count") > 0)  # zero rows add nothing (score writes none)
        ids = response_ids(resp)
        parts = [_part(nz, ["benchmark", "problem_id"], p, passes).group_by(*keys).agg(
            pl.col("count").sum().cast(pl.Float64),
            ids.n_unique().cast(pl.Float64).alias("present"))
            .collect(engine="streaming") for p in range(passes)]
        agg = pl.concat(parts, how="vertical")
        agg = agg.with_columns(pl.col(c).cast(pl.String) for c in by)
        return agg.with_columns(cluster_key(agg, unit)).drop("benchmark", "problem_id")
    rl = resp.lazy().select("id", *by, "_cluster")
    parts = [_part(lf, ["id"], p, passes).group_by("id", "category", "term")
             .agg(pl.col("count").sum().cast(pl.Float64))
             .join(rl, on="id", how="inner").group_by(*by, "_cluster", "category", "term")
             .agg(pl.col("count").sum(), (pl.col("count") > 0).sum().cast(pl.Float64)
                  .alias("present")).collect(engine="streaming") for p in range(passes)]
    out = pl.concat(parts, how="vertical")
    if passes > 1:  # a cluster's responses may fall into several parts: counts add up
        out = out.group_by(*by, "_cluster", "category", "term").agg(pl.col("count").sum(),
                                                                    pl.col("present").sum())
    return out


def _part(lf: pl.LazyFrame, keys: list[str], p: int, passes: int) -> pl.LazyFrame:
    """The ``p``-th of ``passes`` disjoint parts of ``lf`` by a hash of ``keys``."""
    if passes == 1:
        return lf
    return lf.filter(pl.struct(keys).hash() % passes == p)


def term_rates(terms: pl.DataFrame, responses: pl.DataFrame, *, by: tuple[str, ...] = ("model",),
               part: str = "all", config: StatsConfig = StatsConfig(),
               clustered: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per-term rates (Figures 1-3) with cluster-bootstrap CIs.

    Args:
        terms: score ``terms.parquet`` (long, nonzero only: id, category, term, part, count).
        responses: score ``responses.parquet`` (all responses: ids, words, problems) -- responses
            with no term still count in the denominators.
        by: grouping columns of ``responses`` (default per model, pooled over benchmarks).
        part: ``"all"`` or one ``part`` value (``"reasoning"``, ``"answer"``).
        clustered: :func:`cluster_term_counts` output for these ``by`` columns, if already
            computed (part "all" only).

    Returns:
        tidy frame: ``by``, category, term, metric, estimate, ci_low, ci_high, n_responses,
        n_problems, level, total_count.
    """
    wcol = _words_col(part) if _words_col(part) in responses.columns else "words"
    resp = _prepare(responses, by, config).select(list(by) + ["id", "_cluster", pl.col(
        wcol).fill_null(0).cast(pl.Float64).alias("_w")])
    if clustered is not None and part == "all":
        tc = clustered
    else:
        t = terms if part == "all" else terms.filter(pl.col("part") == part)
        tc = cluster_term_counts(t, resp, list(by), config.cluster)
    tparts = {k: v for k, v in tc.partition_by(list(by), as_dict=True).items()}
    # every term any group used, for every group: a model that never says a term gets its zero
    # (and its n) instead of vanishing from the per-term charts
    pairs = tc.select("category", "term").unique().sort("category", "term").with_row_index("_ti")
    out_rows: list[dict] = []
    for key, rsub in resp.group_by(list(by), maintain_order=True):
        if pairs.height == 0:
            break
        tsub = tparts.get(tuple(key))
        if tsub is None:
            tsub = tc.head(0)
        cl = (rsub.group_by("_cluster").agg(pl.col("_w").sum(), pl.len().alias("_n"))
              .sort("_cluster").with_row_index("_ci"))
        tsub = tsub.join(cl.select("_cluster", "_ci"), on="_cluster").join(
            pairs, on=["category", "term"])
        g, k = cl.height, pairs.height
        counts, present = np.zeros((g, k)), np.zeros((g, k))
        ri, ci = tsub["_ci"].to_numpy(), tsub["_ti"].to_numpy()
        counts[ri, ci] = tsub["count"].to_numpy()      # one row per (cluster, term) already
        present[ri, ci] = tsub["present"].to_numpy()
        w, n = cl["_w"].to_numpy(), cl["_n"].to_numpy().astype(float)
        num = np.hstack([counts * 1000.0, counts, present])
        den = np.hstack([np.repeat(w[:, None], k, 1), np.repeat(n[:, None], 2 * k, 1)])
        est, lo, hi = bootstrap_ratios(num, den, n_boot=config.n_boot,
                                       seed=_rng(config, ("term",) + tuple(key)),
                                       level=config.level)
        totals = counts.sum(0)
        base = dict(zip(by, key))
        for j, (_, cat, term) in enumerate(pairs.iter_rows()):
            for m, metric in enumerate(METRICS):
                i = m * k + j
                out_rows.append({**base, "category": cat, "term": term, "metric": metric,
                                 "estimate": _f(est[i]), "ci_low": _f(lo[i]),
                                 "ci_high": _f(hi[i]), "n_responses": int(n.sum()),
                                 "n_problems": g, "level": config.level,
                                 "total_count": float(totals[j])})
    schema = {**{c: pl.String for c in by}, "category": pl.String, "term": pl.String,
              "metric": pl.String, "estimate": pl.Float64, "ci_low": pl.Float64,
              "ci_high": pl.Float64, "n_responses": pl.Int64, "n_problems": pl.Int64,
              "level": pl.Float64, "total_count": pl.Float64}
    if not out_rows:
        return pl.DataFrame(schema=schema)
    return pl.DataFrame(out_rows, schema=schema, orient="row")


def length_bins(words: pl.Series, n_bins: int) -> tuple[list[float], pl.Series]:
    """Quantile bin edges of ``words`` (pooled) and a label per row, e.g. ``"Q2: 310-520"``."""
    vals = words.cast(pl.Float64).fill_null(0).to_numpy()
    edges = np.unique(np.quantile(vals, np.linspace(0, 1, n_bins + 1))) if vals.size else \
        np.array([0.0])
    if edges.size < 2:
        edges = np.array([edges[0], edges[0] + 1])
    inner = edges[1:-1]
    idx = np.searchsorted(inner, vals, side="right")
    labels = [f"Q{i + 1}: {int(edges[i])}-{int(edges[i + 1])}" for i in range(edges.size - 1)]
    return edges.tolist(), pl.Series("stratum", [labels[i] for i in idx], dtype=pl.String)


def stratified_rates(responses: pl.DataFrame, categories: list[str] | None = None, *,
                     graded: pl.DataFrame | None = None, config: StatsConfig = StatsConfig()
                     ) -> pl.DataFrame:
    """Category rates per model stratified by correctness and by quantile bins of length.

    Answers "is it just length?": if a model's per-1k rate stays higher within every length bin,
    length does not explain the difference.

    Returns:
        tidy frame: stratum_kind ("correct" | "length_bin"), stratum, model, category, metric,
        estimate, ci_low, ci_high, n_responses, n_problems, level.
    """
    frames = []
    if graded is not None and "correct" in graded.columns:
        g = graded.select("id", "correct").unique("id")
        df = responses.join(g, on="id", how="inner").filter(pl.col("correct").is_not_null())
        if df.height:
            df = df.with_columns(pl.when(pl.col("correct")).then(pl.lit("correct")).otherwise(
                pl.lit("incorrect")).alias("stratum"))
            r = category_rates(df, categories, by=("model", "stratum"), pooled_over=None,
                               config=config)
            frames.append(r.with_columns(pl.lit("correct").alias("stratum_kind")))
    if responses.height:
        _, labels = length_bins(responses["words"], config.length_bins)
        df = responses.with_columns(labels)
        r = category_rates(df, categories, by=("model", "stratum"), pooled_over=None,
                           config=config)
        frames.append(r.with_columns(pl.lit("length_bin").alias("stratum_kind")))
    if not frames:
        return pl.DataFrame()
    out = pl.concat(frames, how="vertical_relaxed")
    out = with_stratum_models(out, responses["model"].n_unique())
    return out.select("stratum_kind", "stratum", *[c for c in out.columns
                                                   if c not in ("stratum_kind", "stratum")])


def with_stratum_models(strata: pl.DataFrame, n_models: int) -> pl.DataFrame:
    """Add ``n_models`` (models with responses in the stratum) and a ``note`` where a stratum of
    a multi-model comparison holds one model only: within it nothing is compared (length bins
    can split the models apart when one writes much longer traces)."""
    counts = strata.filter(pl.col("n_responses") > 0).group_by("stratum_kind", "stratum").agg(
        pl.col("model").n_unique().cast(pl.Int64).alias("n_models"))
    out = strata.join(counts, on=["stratum_kind", "stratum"], how="left").with_columns(
        pl.col("n_models").fill_null(0))
    one = (pl.col("n_models") == 1) & pl.lit(n_models > 1)
    return out.with_columns(pl.when(one).then(pl.lit("one model only in this stratum: not a "
                                                     "comparison")).otherwise(None)
                            .cast(pl.String).alias("note"))


def single_model_strata(strata: pl.DataFrame) -> list[str]:
    """The strata flagged by :func:`with_stratum_models` (for warnings)."""
    if "note" not in strata.columns or not strata.height:
        return []
    flagged = strata.filter(pl.col("note").is_not_null())
    return sorted({f"{r['stratum_kind']} {r['stratum']} ({r['model']})"
                   for r in flagged.select("stratum_kind", "stratum", "model")
                   .iter_rows(named=True)})
