"""The one sentence splitter and the one quote locator of reasonlens.

Everything that refers to "sentence i" of a response (the LLM judge's numbered prompts and
instance evidence, the offline detector's instances, judge-eval's matching) uses
:func:`split_sentences`: sentences are numbered **from 1** over the whole text, a line break always
ends a sentence, and ``.``/``!``/``?`` end one when whitespace and a character that is not a
lower-case letter follow (so "3.14" and "e.g. this" do not). Offsets are character offsets into
the text (end exclusive, whitespace trimmed): ``text[s.start:s.end] == s.text``.

:func:`locate_quote` maps a quoted piece of evidence (possibly re-spaced, re-cased, with curly
quotes or ``...`` elisions) back onto character offsets; :func:`sentence_at` maps an offset onto
a sentence index.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

SEGMENTER = "reasonlens.judge.sentences.split_sentences"
_PARA_SPLIT = re.compile(r"\n[ \t]*\n\s*")
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace, or
# at a line break. Decimal points ("3.14") and "e.g." mid-sentence followed by a lower-case word
# are not ends.
_SENT_END = re.compile(r"""(?<=[.!?])["')\]]*\s+(?=[^a-z\s])|\n+""")



@dataclass(frozen=True)
class Sentence:
    index: int       # 1-based over the whole text
    start: int       # character offsets in the whole text, end exclusive
    end: int
    paragraph: int   # 0-based paragraph number
    text: str = ""   # text[start:end]


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


# The same rule written for polars (Rust regex has no look-around): mark the end of every
# sentence-ending punctuation mark with \x01 and the end of the closing quotes/brackets after it
# (which belong to no sentence) with \x02, then a \x01 before every line break; pieces between
# \x01 marks are sentences once the dropped prefix and surrounding whitespace are removed. Two
# passes catch a boundary whose look-ahead character the previous one consumed ("x. ! Y").
_END_MARK = r"""([.!?])(["')\]]*)(\s+[^a-z\s])"""
_BREAK, _DROP = "\x01", "\x02"


def split_many(texts, *, paragraphs: bool = True):
    """Sentences of many texts at once (vectorised): a polars frame with ``row`` (position of the
    text), ``index`` (1-based), ``start``/``end`` (character offsets), ``paragraph`` (0-based;
    only with ``paragraphs``) and ``text``, in text and sentence order. Null texts have none."""
    import polars as pl

    t = pl.Series("t", texts, dtype=pl.String)
    k = min(os.cpu_count() or 1, len(t) // 2000)
    if k > 1:  # one string column runs on one core: split the texts, offset the rows
        from concurrent.futures import ThreadPoolExecutor

        cuts = [len(t) * q // k for q in range(k + 1)]
        with ThreadPoolExecutor(k) as ex:
            parts = list(ex.map(lambda q: _split_part(t.slice(cuts[q], cuts[q + 1] - cuts[q]),
                                                      paragraphs).with_columns(
                pl.col("row") + cuts[q]), range(k)))
        return pl.concat(parts)
    return _split_part(t, paragraphs)


def _split_part(t, paragraphs: bool):
    import polars as pl

    marked = t
    for _ in range(2):
        marked = marked.str.replace_all(_END_MARK, f"${{1}}{_BREAK}${{2}}{_DROP}${{3}}")
    marked = marked.str.replace_all("\n", _BREAK + "\n", literal=True)
    df = (pl.DataFrame({"p": marked.str.split(_BREAK)}).with_row_index("row")
          .explode("p").drop_nulls("p"))
    p = pl.col("p")
    drop = p.str.find(_DROP, literal=True)
    df = df.with_columns(
        olen=p.str.len_chars() - p.str.count_matches(_DROP, literal=True),
        pre=drop.fill_null(0),  # original characters dropped before the sentence
        body=pl.when(drop.is_null()).then(p).otherwise(p.str.slice(drop + 1)))
    b = pl.col("body")
    df = df.with_columns(
        off=pl.col("olen").cum_sum().over("row") - pl.col("olen"),
        lead=b.str.len_chars() - b.str.strip_chars_start().str.len_chars(),
        text=b.str.strip_chars())
    df = df.with_columns(start=pl.col("off") + pl.col("pre") + pl.col("lead"),
                         real=pl.col("text").str.len_chars() > 0)
    if paragraphs:
        nxt = p.shift(-1).over("row")
        df = df.with_columns(
            para=(b.str.contains(r"^\n[ \t]*$") & nxt.str.starts_with("\n")).fill_null(False),
            gap=pl.col("real").cum_sum().over("row"))
        df = df.with_columns(
            first=pl.col("para") & (pl.col("para").cum_sum().over("row", "gap") == 1))
        df = df.with_columns(paragraph=pl.col("first").cum_sum().over("row"))
    df = df.filter(pl.col("real")).with_columns(
        index=pl.int_range(1, pl.len() + 1).over("row"),
        end=pl.col("start") + pl.col("text").str.len_chars())
    cols = ["row", "index", "start", "end", *(["paragraph"] if paragraphs else []), "text"]
    return df.select([pl.col(c).cast(pl.Int64) if c not in ("text",) else pl.col(c)
                      for c in cols])


def split_sentences(text: str) -> list[Sentence]:
    """Sentence spans over ``text`` (whitespace trimmed; empty pieces dropped).

    >>> [(s.index, s.paragraph) for s in split_sentences("A b. C d!\\n\\nE f?")]
    [(1, 0), (2, 0), (3, 1)]
    """
    df = split_many([text])
    return [Sentence(i, a, b, p, t) for _, i, a, b, p, t in df.iter_rows()]


def sentence_at(sentences: Sequence[Sentence], offset: int) -> int | None:
    """1-based index of the sentence containing character ``offset`` (binary search)."""
    lo, hi = 0, len(sentences)
    while lo < hi:
        mid = (lo + hi) // 2
        if sentences[mid].end <= offset:
            lo = mid + 1
        else:
            hi = mid
    if lo < len(sentences) and sentences[lo].start <= offset < max(sentences[lo].end,
                                                                   sentences[lo].start + 1):
        return sentences[lo].index
    if lo < len(sentences):
        return sentences[lo].index  # offset fell in the whitespace before this sentence
    return sentences[-1].index if sentences else None



# --- quote location ----------------------------------------------------------------------------

_MARKER = re.compile(r"\[S\d+\]\s?")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
_TRANSLATE = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                            "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " "})


_WS = re.compile(r"\s+")


def _normalise_ascii(text: str) -> tuple[str, list[int]]:
    """:func:`_normalise_with_map` for ASCII text, without a Python loop per character."""
    low = text.lower()
    parts: list[str] = []
    idx: list[int] = []
    pos = 0
    for m in _WS.finditer(low):
        if m.start() > pos:
            parts.append(low[pos:m.start()])
            idx.extend(range(pos, m.start()))
        if idx:  # leading whitespace is dropped
            parts.append(" ")
            idx.append(m.start())
        pos = m.end()
    if pos < len(low):
        parts.append(low[pos:])
        idx.extend(range(pos, len(low)))
    out = "".join(parts)
    if out.endswith(" "):
        out = out[:-1]
        idx.pop()
    return out, idx


def _normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Lower-case, unify quote marks and dashes, collapse whitespace; map each output character
    back to its offset in ``text``."""
    if text.isascii():
        return _normalise_ascii(text)
    out: list[str] = []
    idx: list[int] = []
    prev_space = True
    for i, ch in enumerate(text):
        ch = unicodedata.normalize("NFKC", ch).translate(_TRANSLATE).lower()
        for c in ch:
            if c.isspace():
                if prev_space:
                    continue
                c = " "
                prev_space = True
            else:
                prev_space = False
            out.append(c)
            idx.append(i)
    if out and out[-1] == " ":
        out.pop()
        idx.pop()
    return "".join(out), idx


def _norm_quote(q: str) -> list[str]:
    q = _MARKER.sub("", q)
    parts = [p for p in _ELLIPSIS.split(q)]
    norm = []
    for p in parts:
        n, _ = _normalise_with_map(p)
        n = n.strip(" \"'`.,;:")
        if n:
            norm.append(n)
    return norm


def locate_quote(quote: str, chunk_text: str, _cache: dict | None = None
                 ) -> tuple[int, int] | None:
    """(start, end) of ``quote`` in ``chunk_text`` after normalisation, or None. Parts separated
    by ``...`` must occur in order."""
    exact = _MARKER.sub("", quote).strip().strip(" \"'`.,;:")
    if exact and "..." not in exact and "…" not in exact:
        k = chunk_text.find(exact)  # fast path: copied verbatim
        if k >= 0:
            return k, k + len(exact)
    parts = _norm_quote(quote)
    if not parts:
        return None
    if _cache is not None and "norm" in _cache:
        norm, idx = _cache["norm"]
    else:
        norm, idx = _normalise_with_map(chunk_text)
        if _cache is not None:
            _cache["norm"] = (norm, idx)
    pos = 0
    first = last = None
    for p in parts:
        k = norm.find(p, pos)
        if k < 0:
            return None
        if first is None:
            first = k
        last = k + len(p)
        pos = last
    return idx[first], idx[last - 1] + 1


