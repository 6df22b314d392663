"""Word totals from the texts' UTF-8 bytes, without a regex match per word.

A word (docs/scoring.md) is a run of letters, digits or underscores of any script, where an inner
apostrophe (``'`` ``’``) or hyphen (``-`` ``‐`` ``‑``) between two such characters joins runs,
and the letters of a LaTeX command (``\\frac``) are not word characters. That is exactly the
number of matches of ``reasonlens.lexicon.count.WORD_PATTERN`` in the text once LaTeX commands
are taken out, and tests/test_lexicon_count.py checks both give the same totals.

Counting per match costs a regex step per word (~175k per MB). Here the texts' Arrow buffer is
read in blocks of whole texts (~2 MB, so the scratch memory stays in cache and is reused):

1. ``bytes.translate`` maps each byte to its class (ASCII letter, digit or ``_``, joiner,
   backslash, part of a multi-byte character, other); word bytes are 1, the rest 0;
2. blocks with non-ASCII bytes: the code points are decoded with numpy at the lead bytes and the
   bytes of every letter or digit (``unicodedata`` category L* or N*) are set to 1;
3. the letters after a backslash (a LaTeX command, cut at the end of its text) are set to 0;
4. a joiner with word characters on both sides inside one text is set to 1, so the joined runs
   make one run;
5. words = runs of 1s per text = the 0 -> 1 steps, plus one when a text starts with a 1.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np
import polars as pl

# Byte classes: 0 other, 1 digit or "_", 2 ASCII letter, 3 ASCII joiner (' -), 4 backslash,
# 5 a byte of a multi-byte character.
_CLS = bytes(1 if (48 <= i <= 57 or i == 95) else 2 if (65 <= i <= 90 or 97 <= i <= 122)
             else 3 if i in (39, 45) else 4 if i == 92 else 5 if i >= 0x80 else 0
             for i in range(256))
_JOINER_CPS = (0x2019, 0x2010, 0x2011)      # ’ ‐ ‑ (three bytes each in UTF-8)
BLOCK_BYTES = 1 << 21
_WINDOW = 16


@functools.lru_cache(maxsize=65536)
def _is_word_cp(cp: int) -> bool:
    return unicodedata.category(chr(cp))[0] in "LN"


def _arrow_buffers(texts: pl.Series) -> tuple[memoryview, np.ndarray]:
    """The texts' UTF-8 data and int64 offsets (nulls as empty texts)."""
    import pyarrow as pa

    arr = texts.fill_null("").to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    bufs = arr.buffers()
    off = np.frombuffer(bufs[1], np.int64)[arr.offset: arr.offset + len(arr) + 1]
    data = memoryview(bufs[2]) if bufs[2] is not None else memoryview(b"")
    return data, off


def _decode(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lead-byte positions, byte lengths and code points of the non-ASCII characters."""
    hi = np.flatnonzero(raw >= 0x80)
    lead = hi[(raw[hi] & 0xC0) != 0x80]
    b0 = raw[lead].astype(np.int32)
    n = np.where(b0 >= 0xF0, 4, np.where(b0 >= 0xE0, 3, 2))
    last = len(raw) - 1
    c1, c2, c3 = (raw[np.minimum(lead + k, last)].astype(np.int32) & 0x3F for k in (1, 2, 3))
    cp = np.where(n == 2, ((b0 & 0x1F) << 6) | c1,
                  np.where(n == 3, ((b0 & 0x0F) << 12) | (c1 << 6) | c2,
                           ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3))
    return lead, n, cp


def _clear_latex(cls: np.ndarray, m: np.ndarray, ends: np.ndarray) -> None:
    """Set the letters of every LaTeX command (backslash + ASCII letters) to 0, within its text."""
    bs = np.flatnonzero(cls == 4)
    stop = ends[np.searchsorted(ends, bs, side="right")]   # end of the backslash's text
    pos = bs + 1
    keep = pos < stop
    pos, stop = pos[keep], stop[keep]
    keep = cls[pos] == 2
    pos, stop = pos[keep], stop[keep]
    if not pos.size:
        return
    # the letters in a window of _WINDOW bytes after each backslash, in one 2-D step
    win = pos[:, None] + np.arange(_WINDOW)
    inside = win < stop[:, None]
    letters = (cls[np.where(inside, win, 0)] == 2) & inside
    run = np.where(letters.all(axis=1), _WINDOW, np.argmin(letters, axis=1))
    m[win[np.arange(_WINDOW) < run[:, None]]] = 0
    for p, s in zip(pos[run == _WINDOW] + _WINDOW, stop[run == _WINDOW]):   # longer commands
        while p < s and cls[p] == 2:
            m[p] = 0
            p += 1


def _join(m: np.ndarray, j0: np.ndarray, j1: np.ndarray, starts: np.ndarray,
          ends: np.ndarray) -> None:
    """Joiners at bytes [j0, j1) with word characters on both sides (same text) become 1."""
    k = np.searchsorted(ends, j0, side="right")
    ok = (j0 > starts[k]) & (j1 < ends[k])
    j0, j1 = j0[ok], j1[ok]
    ok = (m[j0 - 1] == 1) & (m[j1] == 1)   # judged on the mask before any joiner is set
    j0, j1 = j0[ok], j1[ok]
    for d in range(3):
        sel = j0 + d < j1
        m[j0[sel] + d] = 1


def _block_words(blk: bytes, o: np.ndarray) -> np.ndarray:
    """Words per text of one block; ``o`` are the texts' offsets in the block (o[0] == 0)."""
    cls = np.frombuffer(blk.translate(_CLS), np.uint8)
    m = np.less(cls - np.uint8(1), np.uint8(2)).view(np.uint8)   # classes 1 and 2: word bytes
    starts, ends = o[:-1], o[1:]
    joins: list[tuple[np.ndarray, np.ndarray]] = []
    if not blk.isascii():
        lead, n, cp = _decode(np.frombuffer(blk, np.uint8))
        uniq, inv = np.unique(cp, return_inverse=True)
        word = np.fromiter((_is_word_cp(int(c)) for c in uniq), bool, len(uniq))[inv]
        for k in range(4):
            m[lead[word & (n > k)] + k] = 1
        jn = np.isin(cp, _JOINER_CPS)
        if jn.any():
            joins.append((lead[jn], lead[jn] + 3))
    _clear_latex(cls, m, ends)
    j = np.flatnonzero(cls == 3)
    if j.size:
        joins.append((j, j + 1))
    if joins:
        _join(m, np.concatenate([a for a, _ in joins]), np.concatenate([b for _, b in joins]),
              starts, ends)
    step = np.empty(len(m), np.uint8)
    step[0] = m[0]
    np.greater(m[1:], m[:-1], out=step[1:].view(bool))
    nonempty = starts < ends
    first = starts[nonempty]
    step[first] = m[first]          # a text starting with a word character starts a word
    out = np.zeros(len(starts), np.int64)
    if first.size * 1024 < len(step):   # long texts: one popcount per text beats reduceat
        flags = step.view(bool)
        out[nonempty] = [np.count_nonzero(flags[a:b])
                         for a, b in zip(first.tolist(), ends[nonempty].tolist())]
    elif first.size:
        out[nonempty] = np.add.reduceat(step, first, dtype=np.int64)
    return out


def _blocks(texts: pl.Series):
    """(first text, last text + 1, block bytes, the texts' offsets in the block) over ~2 MB
    blocks of whole texts."""
    data, off = _arrow_buffers(texts)
    n = len(off) - 1
    i = 0
    while i < n:
        j = int(np.searchsorted(off, off[i] + BLOCK_BYTES, side="left"))
        j = min(max(j, i + 1), n)
        a, b = int(off[i]), int(off[j])
        if b > a:
            yield i, j, data[a:b].tobytes(), off[i:j + 1] - a
        i = j


def count_words(texts: pl.Series) -> np.ndarray:
    """Words per text (int64 numpy array; null counts as 0 words)."""
    out = np.zeros(len(texts), np.int64)
    for i, j, blk, o in _blocks(texts):
        out[i:j] = _block_words(blk, o)
    return out


def touching_other_scripts(texts: pl.Series) -> np.ndarray:
    """Per text: does a letter or digit of another script than ASCII touch an ASCII letter,
    digit, ``_`` or a hyphen (``-`` ``‐`` ``‑``)? Only in such texts can a term's neighbour be
    a word character that an ASCII word boundary does not see (``résumé``, ``所以wait``)."""
    out = np.zeros(len(texts), bool)
    for i, j, blk, o in _blocks(texts):
        if blk.isascii():
            continue
        raw = np.frombuffer(blk, np.uint8)
        cls = np.frombuffer(blk.translate(_CLS), np.uint8)
        lead, n, cp = _decode(raw)
        word = np.isin(cp, [c for c in np.unique(cp).tolist() if _is_word_cp(c)])
        lead, end = lead[word], lead[word] + n[word]
        k = np.searchsorted(o[1:], lead, side="right")     # the text of each such character
        size = len(raw)

        def asciiword_or_hyphen(pos: np.ndarray, ok: np.ndarray, after: bool) -> np.ndarray:
            p = np.clip(pos, 0, size - 1)
            hit = ((cls[p] == 1) | (cls[p] == 2) | (raw[p] == 0x2D)) & ok
            q = p if after else p - 2                          # a 3-byte ‐ or ‑ there
            q3 = np.clip(q, 0, size - 3)
            hy = (raw[q3] == 0xE2) & (raw[q3 + 1] == 0x80) & ((raw[q3 + 2] == 0x90)
                                                             | (raw[q3 + 2] == 0x91))
            inside = (q >= o[k]) & (q + 3 <= o[k + 1]) if after else (q >= o[k]) & ok
            return hit | (hy & inside & ok)

        touch = asciiword_or_hyphen(lead - 1, lead - 1 >= o[k], after=False) \
            | asciiword_or_hyphen(end, end < o[k + 1], after=True)
        out[i + np.unique(k[touch])] = True
    return out
