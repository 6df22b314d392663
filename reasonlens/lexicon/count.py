"""Counting lexicon terms and words in texts.

Two paths with the same matching rules (``docs/scoring.md``):

- ``fast`` (default): the compiled kernel (:mod:`reasonlens.lexicon.kernel`: words, word terms
  and LaTeX terms in one pass over the bytes) where it is installed and takes the lexicon;
  else one pass of a single compiled alternation of the word terms per text through polars'
  vectorised Rust regex (``str.extract_all``), ASCII word boundaries ``(?-u:\\b)``, plus a
  pass for LaTeX terms (prefiltered on the backslash), the distinct matched spans normalised
  and mapped to terms, and words from a numpy byte scan. Both count the same (tested).
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

import numpy as np
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
_NA = r"[\p{L}\p{N}&&[^\x00-\x7F]]"   # a non-ASCII letter or digit (a word character too)
WORD_PATTERN = rf"{_WCH}+(?:['’\-\u2010\u2011]{_WCH}+)*"


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


def build_pattern(terms: list[str] | tuple[str, ...], *, unicode: bool = True) -> str | None:
    """The alternation of the word terms (not LaTeX) used by the fast path.

    The terms (longest first) sit between ASCII word boundaries, which keep the regex on its DFA.
    What would make a term part of a larger word is matched into the span, so that the span is
    no longer a term and is dropped after matching: a preceding backslash (the LaTeX command
    ``\\sum``), hyphen-joined words (``so-called``, ``self-verify``) and letters or digits of
    other scripts touching the term (``résumé``, ``所以wait我们``; an ASCII boundary alone would
    see a boundary there). So terms never match inside LaTeX commands, hyphenated compounds or
    words of any script, while a compound term (``double-check``) matches whole.

    ``unicode=False`` leaves out the other scripts' letters (ASCII classes only): a much smaller
    automaton (large lexicons stay fast), exact for every text in which no letter or digit of
    another script touches an ASCII word character or a hyphen, and for any text once such
    letters are replaced by ``_`` (see ``_slice_keys``).
    """
    words = sorted({t for t in terms if not is_latex(t)}, key=lambda t: (-len(t), t))
    if not words:
        return None
    alternation = "(?:" + "|".join(map(_term_regex, words)) + ")"
    if not unicode:
        return ("(?i)" + r"\\?" + _B + rf"(?:{_W}+{_HY})*" + alternation + rf"(?:{_HY}{_W}+)*"
                + _B)
    before = rf"(?:\\|{_WCH}*{_NA}|(?:{_WCH}+{_HY})+)?"
    after = rf"(?:{_NA}{_WCH}*)?(?:{_HY}{_WCH}+)*"
    return "(?i)" + before + _B + alternation + _B + after


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
    ascii_pattern: str | None = None  # ASCII classes; None when a term has a non-ASCII letter

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
    ascii_terms = all(t.isascii() for t in terms)
    return Matcher(lexicons=lexs, pattern=build_pattern(terms),
                   latex_pattern=build_latex_pattern(terms), table=table,
                   ascii_pattern=build_pattern(terms, unicode=False) if ascii_terms else None)


def _as_matcher(lexicons) -> Matcher:
    return lexicons if isinstance(lexicons, Matcher) else compile_lexicons(lexicons)


LONG_SCHEMA = {"row": pl.UInt32, "category": pl.String, "term": pl.String, "count": pl.UInt32}


@functools.lru_cache(maxsize=32)
def _term_ids(matcher: Matcher) -> tuple[dict[str, int], pl.DataFrame]:
    """norm -> term id, and the (tid, category, term) table (a term may be in two lexicons)."""
    norms = sorted(set(matcher.table["norm"].to_list()))
    tid = {t: i for i, t in enumerate(norms)}
    table = matcher.table.select(pl.col("norm").replace_strict(tid, return_dtype=pl.UInt32)
                                 .alias("tid"), "category", "term")
    return tid, table


@functools.lru_cache(maxsize=32)
def term_enums(matcher: Matcher) -> tuple[pl.Enum, pl.Enum]:
    """The ``pl.Enum`` of the matcher's categories and of its terms (each sorted)."""
    table = matcher.table
    return (pl.Enum(sorted(set(table["category"].to_list()))),
            pl.Enum(sorted(set(table["term"].to_list()))))


@functools.lru_cache(maxsize=32)
def _coded_term_table(matcher: Matcher) -> pl.DataFrame:
    """The (tid, category, term) table with category and term as :func:`term_enums` codes."""
    cats, terms = term_enums(matcher)
    return _term_ids(matcher)[1].with_columns(pl.col("category").cast(cats),
                                              pl.col("term").cast(terms))


UNIT_BYTES = 8 << 20   # text bytes per work unit of the fast path
REGEX_FIRST = True      # a few units: every other one runs its regex pass before its scan
LATEX_FROM_SCAN = True  # LaTeX terms counted from the byte scan's commands (else a regex pass)


def _units(texts: pl.Series, threads: int) -> list[tuple[int, int]]:
    """Row ranges [a, b) of about equal text bytes: at least one per thread (when there are
    enough texts) and about ``UNIT_BYTES`` each, so that the threads stay balanced whatever the
    texts' lengths (reasoning parts are long, answers short)."""
    n = len(texts)
    if n == 0:
        return []
    cum = np.cumsum(texts.str.len_bytes().fill_null(0).to_numpy(), dtype=np.int64)
    total = int(cum[-1])
    k = min(n, max(threads if n >= 2 * threads else 1, -(-total // UNIT_BYTES)))
    cuts = np.searchsorted(cum, total * np.arange(1, k, dtype=np.float64) / k, side="left") + 1
    bounds = sorted({0, n, *np.minimum(cuts, n).tolist()})
    return list(zip(bounds[:-1], bounds[1:]))


def _surface_codes(flat: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes of the matched spans and the distinct spans they index, in one hashing
    pass: a cast to a Categorical with categories of its own (polars >= 2), else the distinct
    spans and a cast to an Enum of them."""
    categories = getattr(pl, "Categories", None)
    if categories is not None:
        cats = categories.random()
        coded = flat.cast(pl.Categorical(cats))   # holds the categories while they are read
        return coded.to_physical().to_numpy(), cats.to_series().to_list()
    surfaces = flat.unique().to_list()
    return flat.cast(pl.Enum(surfaces)).to_physical().to_numpy(), surfaces


def _hit_keys(lists: pl.Series, tid: dict[str, int], latex: bool, n_terms: int,
              rows: np.ndarray) -> np.ndarray:
    """Matched spans (a list per text; ``rows`` numbers the texts) -> row * n_terms + term id,
    one per hit that is a term.

    Spans are mapped through their distinct surface strings (a few hundred), so normalisation
    never runs per match; a span that starts with a backslash is a LaTeX command and only the
    LaTeX pass may count it."""
    lens = lists.list.len().fill_null(0).to_numpy()
    flat = lists.explode(empty_as_null=False, keep_nulls=False)
    if not len(flat):
        return np.zeros(0, np.int64)
    codes, surfaces = _surface_codes(flat)
    lut = np.array([tid.get(normalize_term(s), n_terms) if latex == s.startswith("\\")
                    else n_terms for s in surfaces], np.int64)
    ids = lut[codes]
    hit_rows = np.repeat(rows, lens)
    keep = ids < n_terms
    return hit_rows[keep] * n_terms + ids[keep]


def _extract(texts: pl.Series, pattern: str, tid: dict[str, int]) -> pl.Series:
    """``str.extract_all``; a lexicon whose alternation passes polars' regex size limit (some
    thousands of terms) is a clean error: the compiled kernel counts such lexicons."""
    try:
        return texts.str.extract_all(pattern)
    except pl.exceptions.ComputeError as exc:
        if "size limit" not in str(exc):
            raise
        raise ConfigError(
            f"{len(tid)} terms are too many for the regex path (its compiled pattern passes "
            "polars' size limit); the compiled counting kernel counts them: reinstall "
            "reasonlens where a C compiler is available (pip install -e .), and do not set "
            "REASONLENS_KERNEL=0") from None


def _slice_keys(part: pl.Series, matcher: Matcher, tid: dict[str, int], mixed: np.ndarray,
                latex: bool = True, passes: tuple[bool, ...] = (False, True)
                ) -> list[np.ndarray]:
    """The hit keys of one slice of the texts (rows numbered from 0): the word-term pass and
    (``latex``) the LaTeX pass.

    Texts in which a letter or digit of another script touches an ASCII word or a hyphen
    (``mixed``: :func:`reasonlens.lexicon.words.scan_texts`, a few percent of real traces) get
    those letters replaced by ``_`` first, a word character that no term contains, so the
    ASCII-class pattern sees them as word characters; the other texts go as they are. With a
    term that itself holds a non-ASCII letter (``naïve``) the full pattern runs on those texts
    instead (exact too, but slow for lexicons of hundreds of terms)."""
    rows = np.arange(len(part), dtype=np.int64)
    keys = []
    if matcher.pattern:
        for is_mixed in passes:
            sel = mixed if is_mixed else ~mixed
            if not sel.any():
                continue
            texts = part if sel.all() else part.filter(pl.Series(sel))
            pattern = matcher.ascii_pattern if matcher.ascii_pattern else matcher.pattern
            if is_mixed and matcher.ascii_pattern:
                texts = texts.str.replace_all(_NA, "_")
            elif is_mixed:
                pattern = matcher.pattern
            keys.append(_hit_keys(_extract(texts, pattern, tid), tid, False, len(tid),
                                  rows if sel.all() else rows[sel]))
    if matcher.latex_pattern and latex:
        keys.append(_hit_keys(_extract(part, matcher.latex_pattern, tid), tid, True, len(tid),
                              rows))
    return keys


@functools.lru_cache(maxsize=32)
def _latex_codes(matcher: Matcher) -> tuple[np.ndarray, np.ndarray] | None:
    """The LaTeX terms' command codes (sorted) and their term ids, when every LaTeX term's name
    has at most ``words.CODED_LETTERS`` letters (else None: the LaTeX regex pass counts them).
    A command counts for a term when its whole name (the letters after the backslash) is the
    term's name, exactly what the LaTeX pass finds: the name followed by more letters is a
    longer command."""
    from reasonlens.lexicon.words import CODED_LETTERS, command_code

    tid, _ = _term_ids(matcher)
    terms = sorted({t for lx in matcher.lexicons for t in lx.terms if is_latex(t)})
    if not terms or any(len(t) - 1 > CODED_LETTERS for t in terms):
        return None
    codes = np.array([command_code(t[1:]) for t in terms], np.int64)
    ids = np.array([tid[normalize_term(t)] for t in terms], np.int64)
    order = np.argsort(codes)
    return codes[order], ids[order]


def _command_keys(rows: np.ndarray, codes: np.ndarray, latex: tuple[np.ndarray, np.ndarray],
                  n_terms: int) -> np.ndarray:
    """Hit keys of the LaTeX commands found by the byte scan whose name is a LaTeX term."""
    term_codes, term_ids = latex
    at = np.minimum(np.searchsorted(term_codes, codes), len(term_codes) - 1)
    hit = term_codes[at] == codes
    return rows[hit] * n_terms + term_ids[at[hit]]


def _tally(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct keys (sorted) and how often each occurs (a sort of the unit's hits: cheaper
    than a bincount over its texts x terms)."""
    if not keys.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.unique(keys, return_counts=True)


USE_KERNEL = True       # count through the compiled kernel where it can (tests switch it off)


def _kernel(matcher: Matcher):
    """The compiled kernel for the matcher (:mod:`reasonlens.lexicon.kernel`), or None when it
    is not installed, switched off (``REASONLENS_KERNEL=0``, ``USE_KERNEL``) or cannot match
    the lexicon's word terms: then the regex and numpy path counts."""
    return _matcher_kernel(matcher) if USE_KERNEL else None


@functools.lru_cache(maxsize=32)
def _matcher_kernel(matcher: Matcher):
    from reasonlens.lexicon import kernel

    if not kernel.available():
        return None
    tid, _ = _term_ids(matcher)
    k = kernel.Kernel({t: i for t, i in tid.items() if not is_latex(t)},
                      {t[1:]: i for t, i in tid.items() if is_latex(t)})
    return k if k.matches_words else None


def counting_engine(matcher: Matcher, mode: Mode = "fast") -> str:
    """What counts: ``kernel`` (the compiled kernel), ``regex`` (the regex and numpy path; the
    same counts) or ``spacy`` (the exact path)."""
    if mode == "exact":
        return "spacy"
    return "kernel" if _kernel(matcher) is not None else "regex"


def _kernel_counts(part: pl.Series, offset: int, matcher: Matcher, kern
                   ) -> tuple[pl.DataFrame, np.ndarray]:
    """One work unit through the compiled kernel: its hits (row, tid, count) and word totals."""
    words, rows, tids, counts = kern.run(part, len(_term_ids(matcher)[0]))
    hits = pl.DataFrame({"row": (rows + offset).astype(np.uint32),
                         "tid": tids.astype(np.uint32), "count": counts.astype(np.uint32)})
    return hits, words


def _unit_counts(part: pl.Series, offset: int, matcher: Matcher, words: bool,
                 regex_first: bool = False) -> tuple[pl.DataFrame, np.ndarray | None]:
    """One work unit (texts ``offset`` on): its hits (row, tid, count; rows numbered from
    ``offset``) and its word totals. ``regex_first``: the word-term pass runs over all texts
    before the byte scan and the mixed texts (known after the scan) are counted again with other
    scripts' letters replaced, their first hits dropped; the same counts, but two units started
    at once are then in different phases (one scanning, one in the GIL-free regex) instead of both
    scanning."""
    from reasonlens.lexicon.words import scan_texts

    kern = _kernel(matcher)
    if kern is not None:
        hits, totals = _kernel_counts(part, offset, matcher, kern)
        return hits, totals if words else None
    tid, _ = _term_ids(matcher)
    n_terms = max(len(tid), 1)
    latex = _latex_codes(matcher) if LATEX_FROM_SCAN else None
    early = None
    if regex_first and matcher.pattern:
        early = _hit_keys(_extract(part, matcher.ascii_pattern or matcher.pattern, tid), tid,
                          False, len(tid), np.arange(len(part), dtype=np.int64))
    scan = scan_texts(part, words=words, touch=bool(matcher.pattern), commands=latex is not None)
    if early is None:
        keys = _slice_keys(part, matcher, tid, scan.touching, latex=latex is None)
    else:
        mixed = scan.touching if matcher.ascii_pattern else np.zeros(len(part), bool)
        keys = [early[~mixed[early // n_terms]] if mixed.any() else early]
        keys += _slice_keys(part, matcher, tid, mixed, latex=latex is None, passes=(True,))
    if latex is not None:
        keys.append(_command_keys(scan.command_rows, scan.command_codes, latex, n_terms))
    word_totals = scan.words
    uniq, counts = _tally(np.concatenate([np.zeros(0, np.int64), *keys]))
    hits = pl.DataFrame({"row": (uniq // n_terms + offset).astype(np.uint32),
                         "tid": (uniq % n_terms).astype(np.uint32),
                         "count": counts.astype(np.uint32)})
    return hits, word_totals if words else None


def fast_count(texts: pl.Series, matcher: Matcher, *, words: bool = False,
               threads: int | None = None, coded: bool = False
               ) -> tuple[pl.DataFrame, pl.Series | None]:
    """The fast path: long term counts and (optionally) word counts for ``texts``.

    The texts are cut into work units of about equal bytes (:func:`_units`), run on one thread
    per polars thread. Each unit goes through the compiled kernel (:func:`_kernel_counts`) or,
    without it, through its byte scan (word totals, and which texts need other scripts'
    letters replaced; :func:`reasonlens.lexicon.words.scan_texts`), its regex passes
    (``str.extract_all``) and the mapping and tally of its hits (integer keys row x term id,
    ``np.unique``); then its rows of the long frame. The kernel, numpy and polars release the
    GIL, so the threads run in parallel. ``threads``: default polars' thread pool size.
    ``coded``: category and term as :func:`term_enums` codes instead of strings (the same
    values; no string is made or hashed per hit).
    """
    from concurrent.futures import ThreadPoolExecutor

    threads = threads or pl.thread_pool_size()
    units = _units(texts, threads)

    # a few units (one batch of score) start at once: every other one runs its regex first,
    # so that they are not all in the byte scan together; many units drift apart by themselves
    stagger = REGEX_FIRST and len(units) <= 2 * threads

    def run(i: int):
        a, b = units[i]
        return _unit_counts(texts.slice(a, b - a), a, matcher, words,
                            regex_first=stagger and i % 2 == 1)

    if len(units) > 1:
        with ThreadPoolExecutor(max_workers=min(len(units), threads)) as pool:
            results = list(pool.map(run, range(len(units))))
    else:
        results = [run(i) for i in range(len(units))]
    if not results:
        results = [_unit_counts(texts, 0, matcher, words)]
    hits = pl.concat([r[0] for r in results], rechunk=False) if len(results) > 1 \
        else results[0][0]
    long = _with_terms(hits, _coded_term_table(matcher) if coded else _term_ids(matcher)[1])
    word_totals = None
    if words:
        word_totals = pl.Series(texts.name or "words", np.concatenate([r[1] for r in results]),
                                dtype=pl.UInt32)
    return long, word_totals


def _with_terms(hits: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """(row, tid, count) -> (row, category, term, count); a term in two lexicons gives a row
    for each. Hits are sorted by row, then term id, and the ids follow the sorted terms, so the
    rows come out in the same order as when sorted by term."""
    if table["tid"].n_unique() == len(table):
        by_tid = table.sort("tid")
        if by_tid["tid"].to_list() == list(range(len(by_tid))):   # tid == position
            tids = hits["tid"]
            return pl.DataFrame([hits["row"], by_tid["category"].gather(tids),
                                 by_tid["term"].gather(tids), hits["count"]])
    return (hits.join(table, on="tid", how="inner", maintain_order="left")
            .select(list(LONG_SCHEMA)))


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
    ``\\frac`` are not words; their arguments are. Null counts as 0 words. The count equals the
    matches of ``WORD_PATTERN`` outside LaTeX commands; it is taken from the bytes
    (:mod:`reasonlens.lexicon.words`)."""
    from reasonlens.lexicon.words import count_words

    texts = _as_text_series(texts)
    return pl.Series(texts.name or "words", count_words(texts), dtype=pl.UInt32)
