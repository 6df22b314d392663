"""Discovery: which words and bigrams distinguish two sets of texts (``reasonlens diff``).

N-gram counts of raw texts, scored by the project's one weighted log-odds estimator with an
informative Dirichlet prior (:func:`reasonlens.stats.logodds.log_odds`, Monroe, Colaresi & Quinn
2008; the prior and why it is the one chosen are documented there). Positive z: over-used by A;
negative: by B. Every n-gram is scored against the words of each group (n_a, n_b), as the
report's distinctive-words chart scores lexicon terms, so a term gets the same z in both.

Tokens follow the word definition of :mod:`reasonlens.lexicon.count` (lower-cased), plus LaTeX
commands kept as tokens (``\\frac``), since they often mark a style; like everywhere in reasonlens
they are not counted as words. Bigrams do not cross texts.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.lexicon.count import LATEX_PATTERN, WORD_PATTERN, _as_text_series
from reasonlens.stats.logodds import PRIOR_SCALE, log_odds

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


def words_in(counts: pl.DataFrame) -> int:
    """Words behind an n-gram count frame: its unigrams that are not LaTeX commands."""
    return int(counts.filter((pl.col("n") == 1) & ~pl.col("term").str.starts_with("\\"))
               ["count"].sum() or 0)


def log_odds_from_counts(counts_a: pl.DataFrame, counts_b: pl.DataFrame, *,
                         top: int | None = None, min_count: int = 5,
                         prior_scale: float = PRIOR_SCALE) -> pl.DataFrame:
    """Score precomputed n-gram counts (see module docstring)."""
    j = (counts_a.rename({"count": "count_a"})
         .join(counts_b.rename({"count": "count_b"}), on=["term", "n"], how="full",
               coalesce=True)
         .with_columns(pl.col("count_a").fill_null(0), pl.col("count_b").fill_null(0)))
    out = log_odds(j, words_in(counts_a), words_in(counts_b), prior_scale=prior_scale,
                   min_count=min_count)
    out = out.select(list(RESULT_COLUMNS)).sort(["z", "term"], descending=[True, False])
    if top is not None:
        if top <= 0:
            raise ConfigError("top must be a positive number")
        pos = out.filter(pl.col("z") > 0).head(top)
        neg = out.filter(pl.col("z") < 0).sort(["z", "term"]).head(top)
        out = pl.concat([pos, neg.sort(["z", "term"], descending=[True, False])])
    return out


def text_log_odds(texts_a: pl.Series, texts_b: pl.Series, *, ngrams=(1, 2),
                  top: int | None = None, min_count: int = 5,
                  prior_scale: float = PRIOR_SCALE) -> pl.DataFrame:
    """Rank n-grams by weighted log-odds (informative Dirichlet prior) between A and B.

    Returns columns term, count_a, count_b, per_1k_a, per_1k_b (per 1k words of each group),
    log_odds, z (positive: over-used by A), n (1 or 2), sorted by z descending. With ``top``,
    only the ``top`` highest-z terms of each side. Terms seen fewer than ``min_count`` times in
    total are left out (they still count towards the totals and the prior).
    """
    return log_odds_from_counts(ngram_counts(texts_a, ngrams), ngram_counts(texts_b, ngrams),
                                top=top, min_count=min_count, prior_scale=prior_scale)
