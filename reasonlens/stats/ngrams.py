"""Discovery: which words and bigrams distinguish two sets of texts.

Weighted log-odds ratio with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008,
"Fightin' Words", Political Analysis 16(4), eqs. 16-22). For an n-gram w with counts y_a, y_b in
corpora of sizes n_a, n_b and prior pseudo-counts a_w summing to a_0::

    delta_w = log((y_a + a_w) / (n_a + a_0 - y_a - a_w)) - log((y_b + a_w) / (n_b + a_0 - y_b - a_w))
    var_w   = 1 / (y_a + a_w) + 1 / (y_b + a_w)
    z_w     = delta_w / sqrt(var_w)

The prior is informative: a_w is proportional to w's frequency in the pooled corpus (A + B),
scaled so a_0 = prior_scale * (n_a + n_b) (default 0.1: the prior weighs a tenth
of the data, enough to shrink rare n-grams without flattening frequent ones). Positive z: over-used by A; negative: by B. Unigrams
and bigrams are scored separately (each with its own totals and prior) and reported together.

Tokens follow the word definition of :mod:`reasonlens.lexicon.count` (lower-cased), plus LaTeX
commands kept as tokens (``\\frac``), since they often mark a style. Bigrams do not cross texts.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.lexicon.count import LATEX_PATTERN, WORD_PATTERN, _as_text_series

COUNT_SCHEMA = {"term": pl.String, "n": pl.Int8, "count": pl.Int64}
RESULT_COLUMNS = ("term", "count_a", "count_b", "per_1k_a", "per_1k_b", "log_odds", "z", "n")


def ngram_counts(texts: pl.Series, ngrams: Iterable[int] = (1, 2)) -> pl.DataFrame:
    """Counts of lower-cased word n-grams (n in ``ngrams``, each 1..3): term, n, count."""
    ngrams = tuple(sorted(set(ngrams)))
    if not ngrams or any(n not in (1, 2, 3) for n in ngrams):
        raise ConfigError(f"ngrams must be a subset of (1, 2, 3), got {ngrams}")
    texts = _as_text_series(texts)
    toks = (pl.DataFrame({"t": texts}).with_row_index("row")
            .select("row", pl.col("t").str.extract_all(LATEX_PATTERN + "|" + WORD_PATTERN)
                    .alias("tok"))
            .explode("tok").drop_nulls("tok"))
    tok = pl.col("tok")
    toks = toks.with_columns(pl.when(tok.str.starts_with("\\")).then(tok)
                             .otherwise(tok.str.to_lowercase().str.replace_all("’", "'",
                                                                              literal=True)))
    frames = []
    for n in ngrams:
        if n == 1:
            gram = tok
        else:
            parts = [tok] + [tok.shift(-k).over("row") for k in range(1, n)]
            gram = pl.concat_str(parts, separator=" ")  # null when the text ends first
        frames.append(toks.select(gram.alias("term")).drop_nulls()
                      .group_by("term").agg(pl.len().cast(pl.Int64).alias("count"))
                      .with_columns(pl.lit(n, dtype=pl.Int8).alias("n")))
    if not frames:
        return pl.DataFrame(schema=COUNT_SCHEMA)
    return pl.concat(frames).select(list(COUNT_SCHEMA))


def add_counts(a: pl.DataFrame | None, b: pl.DataFrame) -> pl.DataFrame:
    """Sum two count frames (for streaming over batches)."""
    if a is None:
        return b
    return (pl.concat([a, b]).group_by("term", "n").agg(pl.col("count").sum())
            .select(list(COUNT_SCHEMA)))


def log_odds_from_counts(counts_a: pl.DataFrame, counts_b: pl.DataFrame, *,
                         top: int | None = None, min_count: int = 5,
                         prior_scale: float = 0.1) -> pl.DataFrame:
    """Score precomputed n-gram counts (see module docstring)."""
    if prior_scale <= 0:
        raise ConfigError("prior_scale must be positive")
    j = (counts_a.rename({"count": "count_a"})
         .join(counts_b.rename({"count": "count_b"}), on=["term", "n"], how="full",
               coalesce=True)
         .with_columns(pl.col("count_a").fill_null(0), pl.col("count_b").fill_null(0)))
    words_a = int(counts_a.filter(pl.col("n") == 1)["count"].sum() or 0)
    words_b = int(counts_b.filter(pl.col("n") == 1)["count"].sum() or 0)
    if words_a == 0 or words_b == 0:
        raise ConfigError("both groups need at least one word to compare "
                          f"(group A has {words_a}, group B has {words_b})")
    ya, yb = pl.col("count_a").cast(pl.Float64), pl.col("count_b").cast(pl.Float64)
    na = pl.col("count_a").sum().over("n").cast(pl.Float64)
    nb = pl.col("count_b").sum().over("n").cast(pl.Float64)
    a0 = (na + nb) * prior_scale
    aw = (ya + yb) / (na + nb) * a0
    delta = ((ya + aw) / (na + a0 - ya - aw)).log() - ((yb + aw) / (nb + a0 - yb - aw)).log()
    var = 1.0 / (ya + aw) + 1.0 / (yb + aw)
    out = j.with_columns(
        (ya * 1000.0 / words_a).alias("per_1k_a"),
        (yb * 1000.0 / words_b).alias("per_1k_b"),
        delta.alias("log_odds"),
        (delta / var.sqrt()).alias("z"),
    ).filter((pl.col("count_a") + pl.col("count_b")) >= min_count)
    out = out.select(list(RESULT_COLUMNS)).sort(["z", "term"], descending=[True, False])
    if top is not None:
        if top <= 0:
            raise ConfigError("top must be a positive number")
        pos = out.filter(pl.col("z") > 0).head(top)
        neg = out.filter(pl.col("z") < 0).sort(["z", "term"]).head(top)
        out = pl.concat([pos, neg.sort(["z", "term"], descending=[True, False])])
    return out


def log_odds(texts_a: pl.Series, texts_b: pl.Series, *, ngrams=(1, 2), top: int | None = None,
             min_count: int = 5, prior_scale: float = 0.1) -> pl.DataFrame:
    """Rank n-grams by weighted log-odds (informative Dirichlet prior) between A and B.

    Returns columns term, count_a, count_b, per_1k_a, per_1k_b (per 1k words of each group),
    log_odds, z (positive: over-used by A), n (1 or 2), sorted by z descending. With ``top``,
    only the ``top`` highest-z terms of each side. Terms seen fewer than ``min_count`` times in
    total are left out (they still count towards the totals and the prior).
    """
    return log_odds_from_counts(ngram_counts(texts_a, ngrams), ngram_counts(texts_b, ngrams),
                                top=top, min_count=min_count, prior_scale=prior_scale)
