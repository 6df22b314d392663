"""Counting lexicon terms and words in texts.

Two paths with the same matching rules (``docs/scoring.md``):

- ``fast`` (default): one pass of a single compiled alternation of the word terms per text
  through polars' vectorised Rust regex (``str.extract_all``), ASCII word boundaries
  ``(?-u:\\b)``, plus a pass for LaTeX terms (prefiltered on the backslash); the distinct matched
  spans are normalised and mapped to terms.
- ``exact``: spaCy tokens (``spacy.blank("en")`` with tokenizer rules aligned to the same word
  boundaries) matched as token sequences, leftmost-longest; optional ``lemma`` mode with the
  offline lookup lemmatizer from spacy-lookups-data. Agrees with the fast path (tested).

Matching rules: case-insensitive whole words; longest term first at each position; runs of
whitespace (newlines included) inside phrases; ``'`` and ``’`` equal; a hyphenated compound
(``well-known``, ``double-check``) is one word, so it matches only a term equal to the whole
compound ("well" never matches inside "well-known"); LaTeX commands (``\\frac``) are their own
tokens, never words, never matched by word terms, matched case-sensitively by LaTeX terms.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.lexicon.lexicons import Lexicon, is_latex, load_lexicons, normalize_term

Mode = Literal["fast", "exact"]

_B = r"(?-u:\b)"                  # ASCII word boundary (lets the DFA run; Unicode \b does not)
_HY = "[-\u2010\u2011]"           # hyphen, Unicode hyphen, non-breaking hyphen
_W = "[A-Za-z0-9_]"
LATEX_PATTERN = r"\\[A-Za-z]+"
# A word: letters/digits/underscore of any script, joined by inner apostrophes or hyphens.
_WCH = r"[\p{L}\p{N}_]"
WORD_PATTERN = rf"{_WCH}+(?:['’\-\u2010\u2011]{_WCH}+)*"
_COMPOUND_TERM = re.compile(r"^[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)+$")


def _term_regex(term: str) -> str:
    out = []
    for ch in term:
        if ch == " ":
            out.append(r"\s+")
        elif ch == "'":
            out.append("['’]")
        elif ch == "-":
            out.append(_HY)
        else:
            out.append(re.escape(ch))
    return "".join(out)


def build_pattern(terms: list[str] | tuple[str, ...]) -> str | None:
    """The alternation of the word terms (not LaTeX) used by the fast path.

    ``\\?`` + ASCII word boundary + optional hyphen-joined words + the terms (longest first) +
    optional hyphen-joined words + ASCII word boundary. A span that starts with a backslash (a
    LaTeX command such as ``\\sum``) or carries extra hyphen-joined words (``so-called``,
    ``self-verify``) is not a term and is dropped after matching, so terms never match inside
    LaTeX commands or hyphenated compounds, while a compound term (``double-check``) matches whole.
    """
    words = sorted({t for t in terms if not is_latex(t)}, key=lambda t: (-len(t), t))
    if not words:
        return None
    return ("(?i)" + r"\\?" + _B + rf"(?:{_W}+{_HY})*" + "(?:" + "|".join(map(_term_regex, words))
            + ")" + rf"(?:{_HY}{_W}+)*" + _B)


def build_latex_pattern(terms: list[str] | tuple[str, ...]) -> str | None:
    """LaTeX terms: the command name followed by any further letters (kept only when the whole
    command equals a term, so ``\\cdot`` is not found in ``\\cdots``); case-sensitive."""
    names = sorted({t[1:] for t in terms if is_latex(t)}, key=lambda t: (-len(t), t))
    if not names:
        return None
    return r"\\(?:" + "|".join(map(re.escape, names)) + r")[A-Za-z]*"


@dataclass(frozen=True)
class Matcher:
    """Compiled lexicons: the fast-path pattern and the (normalised span -> category, term) table."""

    lexicons: tuple[Lexicon, ...]
    pattern: str | None          # word terms (None when every term is a LaTeX command)
    latex_pattern: str | None    # LaTeX terms (None when there are none)
    table: pl.DataFrame = field(compare=False, hash=False)

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(lx.name for lx in self.lexicons)


def compile_lexicons(lexicons) -> Matcher:
    """Lexicons (names, paths or Lexicon objects) -> Matcher (cached per name and content)."""
    lexs = load_lexicons(list(lexicons) if not isinstance(lexicons, Lexicon) else [lexicons])
    return _compile(lexs)


@functools.lru_cache(maxsize=32)
def _compile(lexs: tuple[Lexicon, ...]) -> Matcher:
    rows = [(t, lx.name, t) for lx in lexs for t in lx.terms]
    table = pl.DataFrame(rows, schema={"norm": pl.String, "category": pl.String,
                                       "term": pl.String}, orient="row")
    terms = [t for lx in lexs for t in lx.terms]
    return Matcher(lexicons=lexs, pattern=build_pattern(terms),
                   latex_pattern=build_latex_pattern(terms), table=table)


def _as_matcher(lexicons) -> Matcher:
    return lexicons if isinstance(lexicons, Matcher) else compile_lexicons(lexicons)


LONG_SCHEMA = {"row": pl.UInt32, "category": pl.String, "term": pl.String, "count": pl.UInt32}


def _term_ids(matcher: Matcher) -> tuple[dict[str, int], pl.DataFrame]:
    """norm -> term id, and the (tid, category, term) table (a term may be in two lexicons)."""
    norms = sorted(set(matcher.table["norm"].to_list()))
    tid = {t: i for i, t in enumerate(norms)}
    table = matcher.table.select(pl.col("norm").replace_strict(tid, return_dtype=pl.UInt32)
                                 .alias("tid"), "category", "term")
    return tid, table


def _slices(texts: pl.Series, parts: int) -> list[pl.Series]:
    n = len(texts)
    if parts <= 1 or n < 2 * parts:
        return [texts]
    step = -(-n // parts)
    return [texts.slice(i, step) for i in range(0, n, step)]


def fast_count(texts: pl.Series, matcher: Matcher, *, words: bool = False
               ) -> tuple[pl.DataFrame, pl.Series | None]:
    """The fast path: long term counts and (optionally) word counts for ``texts``.

    The texts are cut into as many slices as polars has threads and each slice's regex passes
    run in parallel (``collect_all``). Matched spans are mapped to terms through their distinct
    surface strings (a few hundred), so normalisation never runs per match.
    """
    col = pl.col("t")
    expr = []
    if matcher.pattern:
        expr.append(col.str.extract_all(matcher.pattern).alias("m"))
    if matcher.latex_pattern:
        expr.append(col.str.extract_all(matcher.latex_pattern).alias("x"))
    if words:
        expr.append((col.str.count_matches(LATEX_PATTERN + "|" + WORD_PATTERN)
                     - col.str.count_matches(LATEX_PATTERN)).fill_null(0).cast(pl.UInt32)
                    .alias("w"))
    parts = _slices(texts, pl.thread_pool_size())
    frames = pl.collect_all([pl.LazyFrame({"t": p}).select(expr) for p in parts])
    got = pl.concat(frames) if len(frames) > 1 else frames[0]
    tid, table = _term_ids(matcher)
    pieces = []
    for name in ("m", "x"):
        if name not in got.columns:
            continue
        exploded = got.select(name).with_row_index("row").explode(name).drop_nulls(name)
        mapping = {}
        for surface in exploded[name].unique().to_list():
            if (name == "m") == surface.startswith("\\"):
                continue  # a LaTeX command caught by the word pattern: never a word term
            i = tid.get(normalize_term(surface))
            if i is not None:
                mapping[surface] = i
        ids = exploded[name].replace_strict(mapping, default=None, return_dtype=pl.UInt32)
        pieces.append(pl.DataFrame({"row": exploded["row"], "tid": ids}).drop_nulls("tid"))
    hits = pl.concat(pieces) if pieces else pl.DataFrame(schema={"row": pl.UInt32,
                                                                 "tid": pl.UInt32})
    long = (hits.group_by("row", "tid").agg(pl.len().cast(pl.UInt32).alias("count"))
            .sort("row", "tid")  # ids follow the sorted terms: same order as sorting by term
            .join(table, on="tid", how="inner", maintain_order="left")
            .select(list(LONG_SCHEMA)))
    return long, (got["w"] if words else None)


def _fast_long(texts: pl.Series, matcher: Matcher) -> pl.DataFrame:
    return fast_count(texts, matcher)[0]


def count_long(texts: pl.Series, lexicons, mode: Mode = "fast", *, lemma: bool = False
               ) -> pl.DataFrame:
    """Long counts: one row per (text row, category, term) with a nonzero count.

    Columns ``row`` (0-based position in ``texts``), ``category``, ``term``, ``count``.
    ``lemma=True`` needs ``mode="exact"``.
    """
    matcher = _as_matcher(lexicons)
    texts = _as_text_series(texts)
    if mode == "fast":
        if lemma:
            raise ConfigError("lemma matching needs the exact (spaCy) path: mode='exact'")
        return _fast_long(texts, matcher)
    if mode == "exact":
        from reasonlens.lexicon.spacy_match import exact_long

        return exact_long(texts, matcher, lemma=lemma)
    raise ConfigError(f"unknown counting mode {mode!r}; valid modes: fast, exact")


def _as_text_series(texts) -> pl.Series:
    if not isinstance(texts, pl.Series):
        texts = pl.Series("text", list(texts), dtype=pl.String)
    if texts.dtype != pl.String:
        texts = texts.cast(pl.String)
    return texts


def count_frame(texts: pl.Series, lexicons, mode: Mode = "fast", *, lemma: bool = False
                ) -> pl.DataFrame:
    """Per-text counts: one row per text, in order.

    Columns: one ``UInt32`` column per category (lexicon name) with the total hits of its
    terms, and ``terms``: a list of ``{category, term, count}`` structs (nonzero only).
    """
    matcher = _as_matcher(lexicons)
    texts = _as_text_series(texts)
    long = count_long(texts, matcher, mode, lemma=lemma)
    return wide_from_long(long, len(texts), matcher.categories)


def wide_from_long(long: pl.DataFrame, n_rows: int, categories: tuple[str, ...],
                   *, with_terms: bool = True) -> pl.DataFrame:
    """Pivot long counts to one row per text with a column per category (zeros filled)."""
    base = pl.DataFrame({"row": pl.arange(0, n_rows, eager=True, dtype=pl.UInt32)})
    per_cat = long.group_by("row", "category").agg(pl.col("count").sum())
    for cat in categories:
        col = per_cat.filter(pl.col("category") == cat).select("row", pl.col("count").alias(cat))
        base = base.join(col, on="row", how="left")
    base = base.with_columns([pl.col(c).fill_null(0).cast(pl.UInt32) for c in categories])
    if with_terms:
        terms = long.group_by("row").agg(pl.struct("category", "term", "count").alias("terms"))
        base = base.join(terms, on="row", how="left", maintain_order="left")
    return base.sort("row").drop("row")


def word_count(texts: pl.Series) -> pl.Series:
    """Words per text (UInt32): runs of letters/digits/underscore (any script) joined by inner
    apostrophes or hyphens ("let's", "double-check" are one word each). LaTeX commands such as
    ``\\frac`` are not words; their arguments are. Null counts as 0 words."""
    texts = _as_text_series(texts)
    frame = pl.DataFrame({"t": texts}).select(
        (pl.col("t").str.count_matches(LATEX_PATTERN + "|" + WORD_PATTERN)
         - pl.col("t").str.count_matches(LATEX_PATTERN)).fill_null(0).cast(pl.UInt32)
        .alias(texts.name or "words"))
    return frame.to_series()
