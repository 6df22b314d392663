"""The scoring engine: pure functions from trace frames to per-response counts.

:func:`score_batch` turns one frame of traces (:data:`reasonlens.schema.TRACE_SCHEMA`) into

- ``responses``: one row per trace: id, model, benchmark, problem_id, sample, finish_reason,
  think_closed, completion_tokens, words, words_reasoning, words_answer and, for each category
  (lexicon) C: ``C``, ``C_reasoning``, ``C_answer``, ``C_per_1k``;
- ``terms``: long, nonzero only: id, model, benchmark, problem_id, category, term, part
  (``reasoning`` | ``answer``), count.

The reasoning part (before ``</think>`` or a separate ``reasoning_content``) and the answer part
are counted separately and never the raw response, so tags such as ``<think>`` are not words.
``parts`` chooses what the totals ``words``, ``C`` and ``C_per_1k`` cover: ``all`` (both parts),
``reasoning`` or ``answer``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.lexicon.count import LONG_SCHEMA, Matcher, compile_lexicons, count_long, \
    fast_count, term_enums, word_count
from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS
from reasonlens.schema import RESPONSE_KEY_COLUMNS as KEY_COLUMNS
from reasonlens.schema import PARTS, TERMS_SCHEMA, TEXT_PARTS
from reasonlens.schema import response_count_columns as count_columns


@dataclass(frozen=True)
class ScoreConfig:
    """What to count and how.

    - ``lexicons``: registered names or TOML paths; each is one category.
    - ``mode``: ``fast`` (vectorised regex) or ``exact`` (spaCy tokens); ``lemma`` needs exact.
    - ``parts``: what the totals cover: ``all``, ``reasoning`` or ``answer``.
    """

    lexicons: tuple[str, ...] = DEFAULT_LEXICONS
    mode: Literal["fast", "exact"] = "fast"
    lemma: bool = False
    parts: Literal["all", "reasoning", "answer"] = "all"

    def __post_init__(self):
        if self.mode not in ("fast", "exact"):
            raise ConfigError(f"mode must be 'fast' or 'exact', got {self.mode!r}")
        if self.parts not in PARTS:
            raise ConfigError(f"parts must be one of {', '.join(PARTS)}, got {self.parts!r}")
        if self.lemma and self.mode != "exact":
            raise ConfigError("lemma matching needs the exact (spaCy) path: use --mode exact")
        if not self.lexicons:
            raise ConfigError("at least one lexicon is needed")

    def record(self) -> dict[str, Any]:
        return asdict(self)

    def matcher(self) -> Matcher:
        return compile_lexicons(self.lexicons)


def score_batch(traces: pl.DataFrame, matcher: Matcher, config: ScoreConfig, *,
                coded: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Count one batch of traces. Returns (responses, terms); see the module docstring.

    ``coded``: the terms' text columns are ``pl.Enum`` of the batch's own values instead of
    strings (the same values): the streaming run writes them to parquet as dictionary pages and
    groups them by their codes, with no string hashed per hit (:func:`coded_terms`)."""
    n = len(traces)
    cats = matcher.categories
    texts = pl.concat([traces["reasoning"].fill_null(""), traces["answer"].fill_null("")])
    if config.mode == "fast":
        long, words = fast_count(texts, matcher, words=True, coded=coded)
    else:
        long, words = count_long(texts, matcher, config.mode, lemma=config.lemma), \
            word_count(texts)
    resp = traces.select(list(KEY_COLUMNS)).with_columns(
        pl.Series("words_reasoning", words[:n], dtype=pl.UInt32),
        pl.Series("words_answer", words[n:], dtype=pl.UInt32),
        *_part_totals(long, cats, n))
    resp = resp.with_columns(_total("words", config.parts).alias("words"),
                             *[_total(c, config.parts).alias(c) for c in cats])
    resp = resp.with_columns([
        pl.when(pl.col("words") > 0).then(pl.col(c) * 1000.0 / pl.col("words"))
        .otherwise(None).alias(f"{c}_per_1k") for c in cats])
    resp = resp.select(list(KEY_COLUMNS) + ["words", "words_reasoning", "words_answer"]
                       + count_columns(cats))
    if coded:
        return resp, coded_terms(traces, long, matcher)
    is_r = pl.col("row") < n
    long = long.with_columns(pl.when(is_r).then(pl.lit(TEXT_PARTS[0]))
                             .otherwise(pl.lit(TEXT_PARTS[1])).alias("part"),
                             pl.when(is_r).then(pl.col("row")).otherwise(pl.col("row") - n)
                             .alias("row"))
    keys = traces.select("id", "model", "benchmark", "problem_id")[long["row"]]  # by position
    terms = (pl.concat([keys, long.drop("row")], how="horizontal")
             .select([pl.col(k).cast(v) for k, v in TERMS_SCHEMA.items()]))
    return resp, terms


def coded_terms(traces: pl.DataFrame, long: pl.DataFrame, matcher: Matcher) -> pl.DataFrame:
    """The terms of :func:`score_batch` with ``pl.Enum`` text columns: the response keys are
    each response's codes (a few thousand strings hashed per batch) gathered onto its hits,
    category, term and part the lexicons' codes. Read back from parquet, they are strings."""
    n = len(traces)
    row = long["row"].to_numpy()
    answer = row >= n
    at = pl.Series(np.where(answer, row - n, row))
    cols = []
    for k in ("id", "model", "benchmark", "problem_id"):
        s = traces[k]
        cols.append(s.cast(pl.Enum(s.unique(maintain_order=True).drop_nulls())).gather(at))
    cats, terms = term_enums(matcher)   # (no-ops for the codes of fast_count(coded=True))
    cols += [long["category"].cast(cats), long["term"].cast(terms),
             pl.Series("part", TEXT_PARTS, dtype=PART_ENUM)
             .gather(pl.Series(answer.astype(np.uint8))),
             long["count"].cast(pl.UInt32)]
    return pl.DataFrame(cols)


PART_ENUM = pl.Enum(TEXT_PARTS)


def _part_totals(long: pl.DataFrame, cats: tuple[str, ...], n: int) -> list[pl.Series]:
    """Per category, the hits in each response's reasoning (text rows 0..n-1) and answer (rows
    n..2n-1), summed with one bincount over (text row, category)."""
    k = len(cats)
    if not len(long):
        flat = np.zeros(2 * n * k, np.float64)
    else:
        cat = _category_index(long["category"], cats)
        key = long["row"].to_numpy().astype(np.int64) * k + cat
        flat = np.bincount(key, weights=long["count"].to_numpy(), minlength=2 * n * k)
    per = flat.reshape(2 * n, k).astype(np.uint32)
    return [pl.Series(f"{c}_{part}", per[off:off + n, i], dtype=pl.UInt32)
            for i, c in enumerate(cats) for part, off in (("reasoning", 0), ("answer", n))]


def _category_index(category: pl.Series, cats: tuple[str, ...]) -> np.ndarray:
    """Each hit's category as its position in ``cats`` (from the codes, for an Enum)."""
    if isinstance(category.dtype, pl.Enum):
        lut = np.array([cats.index(c) for c in category.dtype.categories], np.int64)
        return lut[category.to_physical().to_numpy()]
    return category.replace_strict({c: i for i, c in enumerate(cats)},
                                   return_dtype=pl.UInt32).to_numpy()


def _total(stem: str, parts: str) -> pl.Expr:
    r, a = pl.col(f"{stem}_reasoning"), pl.col(f"{stem}_answer")
    if parts == "reasoning":
        return r
    if parts == "answer":
        return a
    return r + a


def empty_outputs(matcher: Matcher, config: ScoreConfig) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Frames with the right columns and no rows (for an input without usable records)."""
    from reasonlens.schema import empty_traces

    return score_batch(empty_traces(), matcher, config)


__all__ = ["KEY_COLUMNS", "LONG_SCHEMA", "PARTS", "ScoreConfig", "TERMS_SCHEMA",
           "count_columns", "empty_outputs", "score_batch"]
