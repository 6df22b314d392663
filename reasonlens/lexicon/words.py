"""Word totals from the texts' UTF-8 bytes, without a regex match per word.

A word (docs/scoring.md) is a run of letters, digits or underscores of any script, where an inner
apostrophe (``'`` ``’``) or hyphen (``-`` ``‐`` ``‑``) between two such characters joins runs,
and the letters of a LaTeX command (``\\frac``) are not word characters. That is exactly the
number of matches of ``reasonlens.lexicon.count.WORD_PATTERN`` in the text once LaTeX commands
are taken out, and tests/test_lexicon_count.py checks both give the same totals.

Counting per match costs a regex step per word (~175k per MB). Here the texts' Arrow buffer is
read in blocks of whole texts (~2 MB; numpy views, no copy), with a few numpy passes over every
byte and the rest on the few special bytes only:

1. numpy comparisons (in 512 KB pieces, into reused scratch arrays, so they stay in the cache)
   set word bytes (ASCII letters, digits, ``_``) to 1, the rest to 0, and give the positions of
   the special bytes (``'`` ``-``, backslash, the bytes of multi-byte characters);
2. the non-ASCII code points are decoded with numpy at their lead bytes and the bytes of every
   letter or digit (``unicodedata`` category L* or N*) are set to 1;
3. the letters after a backslash (a LaTeX command, cut at the end of its text) are set to 0;
4. a joiner with word characters on both sides inside one text is set to 1, so the joined runs
   make one run;
5. words = runs of 1s per text: the bytes packed to bits, the run starts (a 1 after a 0) marked
   with shifts and counted per text with bit counts, plus one when a text starts with a 1 after
   a text that ends with one.

The same pass also tells, per text, whether a letter or digit of another script touches an
ASCII word character or a hyphen (:func:`touching_other_scripts`; the fast term path needs it).
numpy releases the GIL in its loops, so slices of the texts are scanned in threads
(:func:`reasonlens.lexicon.count.fast_count`).
"""

from __future__ import annotations

import functools
import threading
import unicodedata
from typing import NamedTuple

import numpy as np
import polars as pl

_ASCII_WORD = np.array([48 <= i <= 57 or i == 95 or 65 <= i <= 90 or 97 <= i <= 122
                        for i in range(256)])
_LETTER = np.array([65 <= i <= 90 or 97 <= i <= 122 for i in range(256)])
_JOINER_CPS = (0x2019, 0x2010, 0x2011)      # ’ ‐ ‑ (three bytes each in UTF-8)
BLOCK_BYTES = 1 << 21
CHUNK_BYTES = 1 << 19


def _letter_or_digit(cp: int) -> bool:
    """A letter or digit of any script: unicodedata category L* or N*."""
    return unicodedata.category(chr(cp))[0] in "LN"


_is_word_cp = functools.lru_cache(maxsize=65536)(_letter_or_digit)


@functools.lru_cache(maxsize=2)
def word_table(lo: int, hi: int) -> np.ndarray:
    """Per code point in [lo, hi): :func:`_letter_or_digit`, as bools (built once per range;
    ~20 ms for the BMP). The compiled kernel reads the same tables."""
    return np.fromiter(map(_letter_or_digit, range(lo, hi)), bool, hi - lo)


def _word_cps(cp: np.ndarray) -> np.ndarray:
    """Per code point: a letter or digit of any script (unicodedata category L* or N*)."""
    bmp = cp < 0x10000
    word = word_table(0, 0x10000)[np.where(bmp, cp, 0)]
    if not bmp.all():
        uniq, inv = np.unique(cp[~bmp], return_inverse=True)
        word[~bmp] = np.fromiter((_is_word_cp(int(c)) for c in uniq), bool, len(uniq))[inv]
    return word


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


def _decode(raw: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lead-byte positions, byte lengths and code points of the non-ASCII characters, from the
    positions ``hi`` of the bytes >= 0x80."""
    lead = hi[(raw[hi] & 0xC0) != 0x80]
    b0 = raw[lead].astype(np.int32)
    n = np.where(b0 >= 0xF0, 4, np.where(b0 >= 0xE0, 3, 2))
    last = len(raw) - 1
    c1, c2, c3 = (raw[np.minimum(lead + k, last)].astype(np.int32) & 0x3F for k in (1, 2, 3))
    cp = np.where(n == 2, ((b0 & 0x1F) << 6) | c1,
                  np.where(n == 3, ((b0 & 0x0F) << 12) | (c1 << 6) | c2,
                           ((b0 & 0x07) << 18) | (c1 << 12) | (c2 << 6) | c3))
    return lead, n, cp


CODED_LETTERS = 10     # LaTeX command names of up to this many letters get an exact code
_LETTER_CODE = np.array([i - 64 if 65 <= i <= 90 else i - 70 if 97 <= i <= 122 else 0
                         for i in range(256)], np.int64)   # A-Z 1-26, a-z 27-52


def command_code(name: str) -> int:
    """The code of a LaTeX command name of 1 to ``CODED_LETTERS`` ASCII letters: its letters
    as digits 1-52 of a base-64 number (bijective, so equal codes mean equal names)."""
    code = 0
    for ch in name:
        code = code * 64 + int(_LETTER_CODE[ord(ch)])
    return code


def _clear_latex(raw: np.ndarray, m: np.ndarray | None, bs: np.ndarray, ends: np.ndarray,
                 commands: list | None = None) -> None:
    """Set the letters of every LaTeX command (backslash ``bs`` + ASCII letters) to 0 in ``m``,
    within its text: one vectorised step per letter position (commands are short: ~2 letters on
    average in real traces, so the positions still open shrink fast). With ``commands``, append
    (text index, :func:`command_code`) of every command of 1 to ``CODED_LETTERS`` letters."""
    k = np.searchsorted(ends, bs, side="right")             # the backslash's text
    stop = ends[k]
    cur = bs + 1
    code = np.zeros(len(cur), np.int64)
    for n in range(32):
        byte = raw.take(cur, mode="clip")
        keep = (cur < stop) & _LETTER[byte]
        if commands is not None and 0 < n <= CODED_LETTERS:
            ended = ~keep
            commands.append((k[ended], code[ended]))
        cur, stop = cur[keep], stop[keep]
        if not cur.size:
            return
        if m is not None:
            m[cur] = 0
        if commands is not None and n < CODED_LETTERS:
            k, code = k[keep], code[keep] * 64 + _LETTER_CODE[byte[keep]]
        cur += 1
    if m is None:
        return
    for p, s in zip(cur.tolist(), stop.tolist()):            # the rare longer commands
        letters = _LETTER[raw[p:s]]
        m[p:p + (len(letters) if letters.all() else int(np.argmin(letters)))] = 0


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


def _touching(raw: np.ndarray, lead: np.ndarray, end: np.ndarray,
              o: np.ndarray) -> np.ndarray:
    """Texts (indices into ``o``) in which a non-ASCII letter or digit at bytes [lead, end)
    touches an ASCII word character or a hyphen (``-``, or ``‐`` ``‑`` in three bytes)."""
    k = np.searchsorted(o[1:], lead, side="right")     # the text of each such character
    size = len(raw)

    def ascii_word_or_hyphen(pos: np.ndarray, ok: np.ndarray, after: bool) -> np.ndarray:
        p = np.clip(pos, 0, size - 1)
        hit = (_ASCII_WORD[raw[p]] | (raw[p] == 0x2D)) & ok
        q = p if after else p - 2                          # a 3-byte ‐ or ‑ there
        q3 = np.clip(q, 0, max(size - 3, 0))
        hy = (raw[q3] == 0xE2) & (raw[np.minimum(q3 + 1, size - 1)] == 0x80) \
            & ((raw[np.minimum(q3 + 2, size - 1)] == 0x90)
               | (raw[np.minimum(q3 + 2, size - 1)] == 0x91))
        inside = (q >= o[k]) & (q + 3 <= o[k + 1]) if after else (q >= o[k]) & ok
        return hit | (hy & inside & ok)

    touch = ascii_word_or_hyphen(lead - 1, lead - 1 >= o[k], after=False) \
        | ascii_word_or_hyphen(end, end < o[k + 1], after=True)
    return np.unique(k[touch])


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits per byte (``np.bitwise_count`` from numpy 2.0, else a table)."""
    f = getattr(np, "bitwise_count", None)
    return f(x) if f is not None else _POPCOUNT[x]


class _Scratch(threading.local):
    """Per-thread scratch arrays reused from block to block (fresh multi-MB temporaries cost
    page faults on every block)."""

    size = 0

    def arrays(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self.size < n:
            self.size = max(n, BLOCK_BYTES)
            self.m = np.zeros(self.size, np.uint8)
            self.t = np.zeros(self.size, np.uint8)
            self.u = np.zeros(self.size, np.uint8)
        return self.m[:n], self.t[:n], self.u[:n]


_SCRATCH = _Scratch()


def _runs(m: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Runs of 1s in the 0/1 bytes ``m`` per text [starts, ends) (contiguous texts covering
    ``m``), counted on bits: ``m`` packed 8 bytes to a byte, the run starts (a 1 after a 0)
    marked with shifts, their number per text from the packed bytes' bit counts over the whole
    packed bytes between the text's boundaries (one ``reduceat``), plus the bits before its end
    and minus those before its start inside the boundary's packed byte."""
    size = len(m)
    bits = np.packbits(m.view(bool), bitorder="little")      # bit k of byte i: m[8i + k]
    rs = np.zeros(len(bits) + 1, np.uint8)                    # run starts, one zero byte after
    np.left_shift(bits, 1, out=rs[:-1])                       # each bit's predecessor ...
    rs[1:-1] |= bits[:-1] >> 7                                # ... across byte borders
    np.bitwise_not(rs[:-1], out=rs[:-1])
    np.bitwise_and(rs[:-1], bits, out=rs[:-1])
    lane = np.append(starts // 8, size // 8)                  # lane <= len(bits) < len(rs)
    whole = np.add.reduceat(_popcount(rs), lane, dtype=np.uint32)[:-1].astype(np.int64)
    whole[lane[:-1] == lane[1:]] = 0                          # reduceat gives rs[i] there

    def below(x: np.ndarray) -> np.ndarray:                   # run starts in x's packed byte
        low = (np.left_shift(1, x % 8) - 1).astype(np.uint8)  # before x
        return _popcount(rs[x // 8] & low).astype(np.int64)

    out = whole + below(ends) - below(starts)
    # a text starting with a word character starts a word, also when the byte before it (the
    # previous text's last byte) is a 1
    idx = np.flatnonzero((starts < ends) & (starts > 0))
    s = starts[idx]
    out[idx[(m[s] == 1) & (m[s - 1] == 1)]] += 1
    return out


def _classify(raw: np.ndarray, m: np.ndarray, t: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``m`` = 1 at ASCII letters, digits and ``_``; returns the positions of the special bytes
    (``'`` ``-`` backslash, and every byte of a multi-byte character). numpy's comparisons into
    reused scratch arrays: no copy of the bytes, and the GIL is released."""
    mb, tb, ub = m.view(bool), t.view(bool), u.view(bool)
    np.bitwise_or(raw, 0x20, out=t)                 # A-Z -> a-z
    np.subtract(t, 97, out=t)
    np.less(t, 26, out=mb)                          # letters
    np.subtract(raw, 48, out=t)
    np.less(t, 10, out=tb)                          # digits
    mb |= tb
    np.equal(raw, 95, out=tb)                       # _
    mb |= tb
    np.greater_equal(raw, 0x80, out=ub)
    for c in (39, 45, 92):                          # ' - backslash
        np.equal(raw, c, out=tb)
        ub |= tb
    return np.flatnonzero(ub)


def _classify_block(raw: np.ndarray, m: np.ndarray, t: np.ndarray, u: np.ndarray
                    ) -> np.ndarray:
    """:func:`_classify` over a block in pieces of ``CHUNK_BYTES`` (they stay in the cache)."""
    if len(raw) <= CHUNK_BYTES:
        return _classify(raw, m, t, u)
    parts = []
    for a in range(0, len(raw), CHUNK_BYTES):
        b = min(a + CHUNK_BYTES, len(raw))
        part = _classify(raw[a:b], m[a:b], t[:b - a], u[:b - a])
        parts.append(part + a if a else part)
    return np.concatenate(parts)


def _scan_block(raw: np.ndarray, o: np.ndarray, words: bool, touch: bool, commands: bool
                ) -> tuple[np.ndarray | None, np.ndarray | None, list]:
    """One block of bytes (``o``: the texts' offsets in the block, o[0] == 0): words per text;
    with ``touch``, the texts in which another script's letter touches an ASCII word or a
    hyphen; with ``commands``, (text, code) arrays of the LaTeX commands."""
    size = len(raw)
    m, t, u = _SCRATCH.arrays(size)
    if words:
        special = _classify_block(raw, m, t, u)
    else:
        ub, tb = u.view(bool), t.view(bool)
        np.greater_equal(raw, 0x80, out=ub)
        if commands:
            ub |= np.equal(raw, 92, out=tb)
        special = np.flatnonzero(ub)
    starts, ends = o[:-1], o[1:]
    touched = None
    found: list = []
    if not special.size:
        return (_runs(m, starts, ends) if words else None), touched, found
    sv = raw[special]
    joins: list[tuple[np.ndarray, np.ndarray]] = []
    hi = special[sv >= 0x80]
    if hi.size:
        lead, n, cp = _decode(raw, hi)
        word = _word_cps(cp)
        wl, wn = lead[word], n[word]
        if touch and wl.size:
            touched = _touching(raw, wl, wl + wn, o)
        if words:
            for k in range(4):
                m[wl[wn > k] + k] = 1
            jn = (cp == _JOINER_CPS[0]) | (cp == _JOINER_CPS[1]) | (cp == _JOINER_CPS[2])
            if jn.any():
                joins.append((lead[jn], lead[jn] + 3))
    bs = special[sv == 92]
    if bs.size and (words or commands):
        _clear_latex(raw, m if words else None, bs, ends, found if commands else None)
    if not words:
        return None, touched, found
    aj = special[(sv == 39) | (sv == 45)]
    if aj.size:
        joins.append((aj, aj + 1))
    if joins:
        _join(m, np.concatenate([a for a, _ in joins]), np.concatenate([b for _, b in joins]),
              starts, ends)
    return _runs(m, starts, ends), touched, found


def _blocks(texts: pl.Series):
    """(first text, last text + 1, block bytes, the texts' offsets in the block) over blocks of
    whole texts of about ``BLOCK_BYTES`` (views into the texts' Arrow buffer)."""
    data, off = _arrow_buffers(texts)
    raw = np.frombuffer(data, np.uint8)
    n = len(off) - 1
    i = 0
    while i < n:
        j = int(np.searchsorted(off, off[i] + BLOCK_BYTES, side="left"))
        j = min(max(j, i + 1), n)
        a, b = int(off[i]), int(off[j])
        if b > a:
            yield i, j, raw[a:b], off[i:j + 1] - a
        i = j


class Scan(NamedTuple):
    """What one pass over the bytes of the texts found (see :func:`scan_texts`)."""

    words: np.ndarray            # words per text (int64; null texts have 0)
    touching: np.ndarray         # per text: another script's letter touches an ASCII word
    command_rows: np.ndarray     # per LaTeX command of 1 to CODED_LETTERS letters: its text
    command_codes: np.ndarray    # ... and its name's command_code


def scan_texts(texts: pl.Series, *, words: bool = True, touch: bool = True,
               commands: bool = False) -> Scan:
    """One pass over the texts' bytes: words per text (all 0 unless ``words``); per text,
    whether a letter or digit of another script touches an ASCII word character or a hyphen
    (all False unless ``touch``); with ``commands``, the LaTeX commands (a backslash and the
    ASCII letters after it, within a text) of 1 to ``CODED_LETTERS`` letters: their texts and
    name codes."""
    totals = np.zeros(len(texts), np.int64)
    touching = np.zeros(len(texts), bool)
    rows, codes = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if words or touch or commands:
        for i, j, blk, o in _blocks(texts):
            w, t, found = _scan_block(blk, o, words, touch, commands)
            if w is not None:
                totals[i:j] = w
            if t is not None:
                touching[i + t] = True
            rows += [k + i for k, _ in found]
            codes += [c for _, c in found]
    return Scan(totals, touching, np.concatenate(rows), np.concatenate(codes))


def count_words(texts: pl.Series) -> np.ndarray:
    """Words per text (int64 numpy array; null counts as 0 words)."""
    return scan_texts(texts, touch=False).words


def touching_other_scripts(texts: pl.Series) -> np.ndarray:
    """Per text: does a letter or digit of another script than ASCII touch an ASCII letter,
    digit, ``_`` or a hyphen (``-`` ``‐`` ``‑``)? Only in such texts can a term's neighbour be
    a word character that an ASCII word boundary does not see (``résumé``, ``所以wait``)."""
    return scan_texts(texts, words=False).touching
