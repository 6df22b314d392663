"""Weighted log-odds with an informative Dirichlet prior: the one estimator of distinctive terms.

Monroe, Colaresi & Quinn (2008), "Fightin' Words", Political Analysis 16(4), eqs. 16-22. For a
term w with counts y_a, y_b in groups A and B of n_a, n_b words, and a prior of a_w pseudo-counts
for w summing to a_0 over the vocabulary::

    delta_w = log((y_a + a_w) / (n_a + a_0 - y_a - a_w)) - log((y_b + a_w) / (n_b + a_0 - y_b - a_w))
    var_w   = 1 / (y_a + a_w) + 1 / (y_b + a_w)
    z_w     = delta_w / sqrt(var_w)

Positive z: over-used by A; negative: by B.

The prior (one for the whole project, used by ``reasonlens diff`` over n-grams and by the report's
distinctive-words chart over lexicon terms): informative, a_w = a_0 * pi_w with pi_w the pooled
frequency of w among all the words of A and B, pi_w = (y_a + y_b) / (n_a + n_b), and a_0 =
``prior_scale`` * (n_a + n_b) (default :data:`PRIOR_SCALE` = 0.1), so a_w = 0.1 * (y_a + y_b).
Why this one:

- pi_w is a share of the same word totals n_a, n_b that the formula uses, so the prior is a
  Dirichlet over the whole vocabulary (a share among the counted terms only would put all the
  prior mass on them and none on the rest of the text);
- a_0 grows with the data, so the prior always weighs a tenth of it: rare terms are shrunk the same
  way on 10k and on 10M words (a fixed a_0 of, say, 100 pseudo-counts shrinks everything on a small
  corpus and nothing on a large one, and z-scores of runs of different sizes could not be read
  side by side).

n is the number of words (:func:`reasonlens.lexicon.count.word_count`: LaTeX commands are not
words) for every term, unigram, bigram or lexicon phrase alike, the same exposure as the per-1k
rates, so that a term gets the same z from ``diff`` and from the report.
"""

from __future__ import annotations

import polars as pl

from reasonlens.errors import ConfigError

#: a_0 / (n_a + n_b): the prior weighs a tenth of the data.
PRIOR_SCALE = 0.1
#: The columns :func:`log_odds` adds.
LOG_ODDS_COLUMNS = ("per_1k_a", "per_1k_b", "log_odds", "z")


def log_odds(counts: pl.DataFrame, words_a: float, words_b: float, *,
             prior_scale: float = PRIOR_SCALE, min_count: int = 5) -> pl.DataFrame:
    """Score terms by weighted log-odds (see the module docstring).

    Args:
        counts: one row per term: any key columns plus ``count_a`` and ``count_b``.
        words_a, words_b: the words of group A and B (n_a, n_b; both > 0).
        prior_scale: a_0 / (n_a + n_b).
        min_count: rows with ``count_a + count_b`` below it are left out (after scoring: the
            prior of a term depends only on its own counts).

    Returns:
        ``counts`` plus per_1k_a, per_1k_b (per 1k words of each group), log_odds and z, sorted
        by z descending (ties by the other columns' order, stable).
    """
    if prior_scale <= 0:
        raise ConfigError("prior_scale must be positive")
    if words_a <= 0 or words_b <= 0:
        raise ConfigError("both groups need at least one word to compare "
                          f"(group A has {words_a:g}, group B has {words_b:g})")
    na, nb = float(words_a), float(words_b)
    ya, yb = pl.col("count_a").cast(pl.Float64), pl.col("count_b").cast(pl.Float64)
    a0 = prior_scale * (na + nb)
    aw = a0 * (ya + yb) / (na + nb)
    delta = ((ya + aw) / (na + a0 - ya - aw)).log() - ((yb + aw) / (nb + a0 - yb - aw)).log()
    var = 1.0 / (ya + aw) + 1.0 / (yb + aw)
    out = counts.filter((pl.col("count_a") + pl.col("count_b")) >= min_count).with_columns(
        (ya * 1000.0 / na).alias("per_1k_a"), (yb * 1000.0 / nb).alias("per_1k_b"),
        delta.alias("log_odds"), (delta / var.sqrt()).alias("z"))
    return out.sort("z", descending=True, maintain_order=True)
