"""The compiled counting kernel of the fast path: words, word terms and LaTeX terms in one pass.

``_kernel.c`` (plain C, built at install time as an optional extension and called through
ctypes, which releases the GIL) reads the texts' UTF-8 bytes (in place in polars' string
views, :func:`text_spans`) as
*runs*: maximal runs of word characters (ASCII ``[A-Za-z0-9_]`` or a letter or digit of any
script) and what separates them. Per text it counts

- words (docs/scoring.md): runs of letters or digits of any script or ``_``, where an inner
  apostrophe (``'`` ``’``) or hyphen (``-`` ``‐`` ``‑``) between two such characters joins
  runs, and the letters of a LaTeX command (``\\frac``) are not word characters;
- word terms, with the leftmost-first semantics of the fast path's regex
  (:func:`reasonlens.lexicon.count.build_pattern`). A term is a sequence of runs (lower-cased
  ASCII letters and digits) with single separators: a space matches a run of Unicode
  whitespace, ``'`` one ``'`` or ``’``, ``-`` one hyphen. Runs joined by hyphens form a
  compound. At each compound, as in the regex, the term starting at its last possible run is
  tried first and the longest term wins. Hyphen-joined runs before the term (``so-called``),
  after it (``self-verify``) or a backslash before the compound (``\\sum``) become part of the
  match, which then counts only if the whole match is itself a term (``double-check``), and
  matching goes on after it. So terms never match inside LaTeX commands, hyphenated compounds
  or words of any script;
- LaTeX terms: a backslash and the ASCII letters after it, counted when the whole command name
  equals a term's (case-sensitive; ``\\cdot`` is not in ``\\cdots``).

The kernel takes every lexicon whose word terms are ASCII letters and digits with single
separators after normalisation (all shipped lexicons). Other lexicons (``naïve``), an install
without the compiled module, or ``REASONLENS_KERNEL=0`` use the regex and numpy path of
:mod:`reasonlens.lexicon.count` and :mod:`reasonlens.lexicon.words`, which counts the same
(tests/test_kernel.py checks both on real and generated texts).
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading

import numpy as np
import polars as pl

from reasonlens.lexicon.words import word_table
from reasonlens.native import function, open_library

SEP_SPACE, SEP_APOS, SEP_HYPHEN = 0, 1, 2
_TERM_SEPS = {" ": SEP_SPACE, "'": SEP_APOS, "-": SEP_HYPHEN}
ASTRAL_END = 0x40000                   # no letter or digit lies beyond plane 3
ENV = "REASONLENS_KERNEL"              # "0": count with the regex and numpy path
ABI = 3                                # rl_abi() of the _kernel.c these tables are for

_P = ctypes.c_void_p
_I = ctypes.c_int64


class _Tables(ctypes.Structure):
    """``tables_t`` in _kernel.c."""

    _fields_ = [("tkeys", _P), ("tlen", _P), ("tid", _P), ("tmask", _I), ("tfilter", _P),
                ("fshift", _I), ("ekeys", _P), ("evals", _P), ("emask", _I), ("term", _P),
                ("root", _P), ("kids", _P), ("aterm", _P), ("akids", _P), ("n_tok", _I),
                ("ltrans", _P), ("lterm", _P), ("latex", _I), ("match_words", _I), ("bmp", _P), ("astral", _P),
                ("skeys", _P), ("sids", _P), ("sm1", ctypes.c_uint64), ("sm2", ctypes.c_uint64),
                ("sshift", _I)]


@functools.lru_cache(maxsize=1)
def _library():
    """The compiled module (its ``rl_scan``), or None (not built, or switched off)."""
    if os.environ.get(ENV, "1") == "0":
        return None
    try:
        from reasonlens.lexicon import _kernel   # its import fills the C tables
    except ImportError:
        return None
    return load_library(_kernel.__file__)


def load_library(path: str):
    """The shared library at ``path`` with its ``rl_scan`` set up for ctypes, or None (it is a
    build of another ``_kernel.c``). tests/test_kernel.py loads a build of the 8-byte code
    (``-DRL_NO_SIMD``) with it."""
    lib = open_library(path, "rl_abi", ABI)
    if function(lib, "rl_scan", _I, [ctypes.POINTER(_Tables), _P, _P, _I, _I, _I, _P, _P, _P,
                                     _P, _I, _P, _P, _P, _P]) is None:
        return None
    return lib


def available() -> bool:
    """Whether the compiled kernel is installed and not switched off (``REASONLENS_KERNEL=0``)."""
    return _library() is not None


TOKEN_BYTES = 24                        # the longest token (word of a term) the kernel takes
_U64 = (1 << 64) - 1


def _words(token: str) -> list[int]:
    """A token's bytes as three little-endian 64-bit words (zero padded), as _kernel.c reads
    a run."""
    return [int(w) for w in np.frombuffer(token.encode().ljust(TOKEN_BYTES, b"\0"), "<u8")]


def _filter_bit(token: str, shift: int) -> int:
    """``filter_bit`` of _kernel.c: the token's bit (of ``2 ** (32 - shift)``) in the filter."""
    first, last = ord(token[0]) | 0x20, ord(token[-1]) | 0x20
    return (((first << 16 | last << 8 | len(token)) * 0x9E3779B1) & 0xFFFFFFFF) >> shift


def _edge_slot(key: int, mask: int) -> int:
    """The first slot of a term-trie edge key (``next_state`` of _kernel.c)."""
    return ((key * 0x9E3779B97F4A7C15) & _U64) >> 32 & mask


def _token_hash(w: list[int], n: int) -> int:
    """``token_hash`` of _kernel.c."""
    h = ((w[0] * 0x9E3779B97F4A7C15) & _U64) ^ (((w[1] + n) * 0xC2B2AE3D27D4EB4F) & _U64) \
        ^ ((w[2] * 0x165667B19E3779F9) & _U64)
    return h ^ (h >> 29)


SHORT_BYTES = 8                         # tokens this long or shorter: the cuckoo table


def _slot(key: int, mult: int, shift: int) -> int:
    """``slot`` of _kernel.c: the top bits of key * mult (64-bit)."""
    return ((key * mult) & _U64) >> shift


def short_tokens(keys: dict[int, int]) -> tuple[np.ndarray, np.ndarray, int, int, int]:
    """The short tokens (their bytes as one little-endian word -> token id) in a cuckoo table:
    each key sits at one of its two slots (the top bits of key x m1 and of key x m2), so that
    _kernel.c looks a run up with two loads and no branch. A quarter full or less; the
    multipliers come from a fixed seed (tried again, then a table twice the size, when the
    keys do not fit). Returns (slot keys, 0: empty; slot ids, -1: empty; m1, m2, shift)."""
    import random

    rng = random.Random(len(keys))
    bits = max(6, (4 * len(keys)).bit_length())
    while True:
        for _ in range(64):
            m1, m2 = rng.getrandbits(64) | 1, rng.getrandbits(64) | 1
            table = _cuckoo(keys, m1, m2, 64 - bits)
            if table is not None:
                skeys = np.zeros(1 << bits, np.uint64)
                sids = np.full(1 << bits, -1, np.int32)
                for at, (key, tid) in table.items():
                    skeys[at], sids[at] = key, tid
                return skeys, sids, m1, m2, 64 - bits
        bits += 1


def _cuckoo(keys: dict[int, int], m1: int, m2: int, shift: int) -> dict[int, tuple] | None:
    """slot -> (key, id) with every key at one of its two slots, or None (a cycle)."""
    table: dict[int, tuple[int, int]] = {}
    for key, tid in keys.items():
        item, at = (key, tid), _slot(key, m1, shift)
        for _ in range(4 * len(keys) + 8):
            item, table[at] = table.get(at), item
            if item is None:
                break
            a, b = _slot(item[0], m1, shift), _slot(item[0], m2, shift)
            at = b if at == a else a
        else:
            return None
    return table


def split_term(term: str) -> list[tuple[int, str]] | None:
    """A normalised word term as (separator before, token) pairs, or None when the kernel
    cannot match it (a letter that is not ASCII, two separators in a row)."""
    out, sep, tok = [], SEP_SPACE, ""
    for ch in term:
        if ch in _TERM_SEPS:
            if not tok:
                return None
            out.append((sep, tok))
            sep, tok = _TERM_SEPS[ch], ""
        elif ch.isascii() and ch.isalnum():
            tok += ch.lower()
        else:
            return None
    if not tok:
        return None
    out.append((sep, tok))
    return out


def _trie(paths: dict[int, list[int]], width: int) -> tuple[np.ndarray, np.ndarray]:
    """A trie of edge sequences (term id -> edges): transitions (-1: none) and terms."""
    trans, term = [[-1] * width], [-1]
    for tid, edges in paths.items():
        state = 0
        for edge in edges:
            if trans[state][edge] < 0:
                trans[state][edge] = len(trans)
                trans.append([-1] * width)
                term.append(-1)
            state = trans[state][edge]
        term[state] = tid
    return np.array(trans, np.int32), np.array(term, np.int32)


class Kernel:
    """A lexicon compiled for the kernel (the arrays stay alive as long as it does).

    - tokens (the runs the word terms are made of, up to ``TOKEN_BYTES`` long): an
      open-addressing table keyed by their bytes (lower-cased) as three 64-bit words, behind a
      filter of at least 4096 bits (about 1/32 set) on (length, first and last byte) that most
      other runs miss; the tokens of up to ``SHORT_BYTES`` also in a cuckoo table
      (:func:`short_tokens`), where every run that short is looked up with no branch (a
      quarter of real runs are tokens, so a filter's outcome could not be predicted);
    - per token, the term that is the token alone (``aterm``) and whether a longer term starts
      with it (``akids``): one load each where the trie would take two;
    - the word terms' trie over (separator, token) edges, hashed (its size grows with the
      terms, not with terms x tokens), and the LaTeX names' trie over letters (A-Z 0-25, a-z
      26-51).
    """

    def __init__(self, word_terms: dict[str, int], latex_terms: dict[str, int]):
        split = {tid: split_term(t) for t, tid in word_terms.items()}
        self.matches_words = all(s is not None and all(len(t) <= TOKEN_BYTES for _, t in s)
                                 for s in split.values())
        tokens: dict[str, int] = {}
        for parts in split.values() if self.matches_words else ():
            for _, tok in parts:
                tokens.setdefault(tok, len(tokens))
        n_tok = max(len(tokens), 1)
        size = 1 << max(6, (8 * len(tokens)).bit_length())
        self.tkeys = np.zeros((size, 3), np.uint64)
        self.tlen, self.tid = np.zeros(size, np.uint8), np.zeros(size, np.int32)
        for tok, i in tokens.items():
            words = _words(tok)
            at = _token_hash(words, len(tok)) & (size - 1)
            while self.tlen[at]:
                at = (at + 1) & (size - 1)
            self.tkeys[at], self.tlen[at], self.tid[at] = words, len(tok), i
        self.skeys, self.sids, sm1, sm2, sshift = short_tokens(
            {_words(tok)[0]: i for tok, i in tokens.items() if len(tok) <= SHORT_BYTES})
        fbits = min(28, max(12, (32 * len(tokens)).bit_length()))   # ~1/32 of the bits set
        self.fshift = 32 - fbits
        self.tfilter = np.zeros(1 << (fbits - 6), np.uint64)
        for tok in tokens:
            bit = _filter_bit(tok, self.fshift)
            self.tfilter[bit >> 6] |= np.uint64(1 << (bit & 63))
        self.ekeys, self.evals, self.term, self.root, self.kids = self._term_trie(
            split, tokens, n_tok)
        has_root = self.root >= 0
        self.aterm = np.where(has_root, self.term[np.where(has_root, self.root, 0)], -1) \
            .astype(np.int32)
        self.akids = np.where(has_root, self.kids[np.where(has_root, self.root, 0)], 0) \
            .astype(np.uint8)
        self.ltrans, self.lterm = _trie(
            {tid: [ord(c) - 65 if c <= "Z" else ord(c) - 71 for c in name]
             for name, tid in latex_terms.items()}, 52)
        self.bmp = word_table(0, 0x10000)          # bools: one byte each, 0 or 1
        self._astral: np.ndarray | None = None
        self._lock = threading.Lock()
        self._scratch = threading.local()      # per thread: the hit arrays, reused (_room)
        addr = lambda a: a.ctypes.data   # noqa: E731
        self.tables = _Tables(addr(self.tkeys), addr(self.tlen), addr(self.tid), size - 1,
                              addr(self.tfilter), self.fshift, addr(self.ekeys),
                              addr(self.evals), len(self.ekeys) - 1, addr(self.term),
                              addr(self.root), addr(self.kids), addr(self.aterm),
                              addr(self.akids), n_tok, addr(self.ltrans),
                              addr(self.lterm),
                              int(len(latex_terms) > 0), int(self.matches_words),
                              addr(self.bmp), None, addr(self.skeys), addr(self.sids),
                              sm1, sm2, sshift)

    def _term_trie(self, split, tokens: dict[str, int], n_tok: int
                   ) -> tuple[np.ndarray, ...]:
        """The word terms' trie over (separator, token) edges, its edges in an
        open-addressing table (key ``(state * 3 + separator) * n_tok + token``): (keys, next
        states, term id per state, the root's edges as an array per token, and per state
        whether any edge leaves it: most terms are one word, matched with no probe)."""
        edges: dict[int, int] = {}
        term = [-1]
        for tid, parts in split.items() if self.matches_words else ():
            state = 0
            for k, (sep, tok) in enumerate(parts):
                key = (state * 3 + (sep if k else 0)) * n_tok + tokens[tok]
                if key not in edges:
                    edges[key] = len(term)
                    term.append(-1)
                state = edges[key]
            term[state] = tid
        size = 1 << max(4, (2 * len(edges)).bit_length())
        keys, vals = np.full(size, -1, np.int64), np.zeros(size, np.int32)
        for key, child in edges.items():
            at = _edge_slot(key, size - 1)
            while keys[at] >= 0:
                at = (at + 1) & (size - 1)
            keys[at], vals[at] = key, child
        root, kids = np.full(n_tok, -1, np.int32), np.zeros(len(term), np.uint8)
        for key, child in edges.items():
            parent, tok = key // (3 * n_tok), key % n_tok
            kids[parent] = 1
            if parent == 0:
                root[tok] = child
        return keys, vals, np.array(term, np.int32), root, kids

    def _need_astral(self) -> None:
        with self._lock:                          # units run in threads
            if self._astral is None:
                self._astral = word_table(0x10000, ASTRAL_END)
                self.tables.astral = self._astral.ctypes.data

    def run(self, texts: pl.Series, n_terms: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Scan every text (nulls as empty): (words per text, hit rows, hit term ids, hit
        counts), hits sorted by row, then term id; term ids are below ``n_terms``. The texts
        are read in place (:func:`text_spans`)."""
        lib = _library()
        if lib is None:
            raise RuntimeError("the compiled counting kernel is not available")
        ptr, size, _alive = text_spans(texts)   # _alive holds the bytes while they are read
        n, n_terms = len(ptr), max(n_terms, 1)
        words = np.zeros(max(n, 1), np.int64)
        out = self._room(max(1024, 4 * n + n_terms), 0)
        cap = len(out[0])
        counts, touched = np.zeros(n_terms, np.int64), np.zeros(n_terms, np.int64)
        n_out, need, t = ctypes.c_int64(0), ctypes.c_int64(0), 0
        while t < n:
            t = lib.rl_scan(ctypes.byref(self.tables), ptr.ctypes.data, size.ctypes.data, t, n,
                            n_terms, words.ctypes.data, out[0].ctypes.data,
                            out[1].ctypes.data, out[2].ctypes.data, cap, ctypes.byref(n_out),
                            counts.ctypes.data, touched.ctypes.data, ctypes.byref(need))
            if t < 0:
                raise MemoryError("the counting kernel ran out of memory")
            if need.value:                       # text t again, with the table loaded
                need.value = 0
                self._need_astral()
            elif t < n:                          # the hits would overflow: twice the room
                out = self._room(2 * cap, n_out.value)
                cap = len(out[0])
        k = n_out.value
        return words[:n], out[0][:k].copy(), out[1][:k].copy(), out[2][:k].copy()

    def _room(self, cap: int, keep: int) -> list[np.ndarray]:
        """This thread's three hit arrays (rows, term ids, counts), at least ``cap`` long, the
        first ``keep`` entries kept. They outlive the call and only grow: real R1 traces have
        ~19 distinct terms each, so arrays sized for the batch's texts overflowed three times
        per batch, each time copied into fresh memory."""
        out = getattr(self._scratch, "out", None)
        if out is None or len(out[0]) < cap:
            grown = [np.empty(cap, np.int64) for _ in range(3)]
            if out is not None and keep:
                for g, o in zip(grown, out):
                    g[:keep] = o[:keep]
            out = self._scratch.out = grown
        return out


#: Arrow's string view (16 bytes): the length, then up to 12 bytes inline, else a prefix of 4
#: bytes, the data buffer's index and the offset in it
_VIEW = np.dtype([("len", "<i4"), ("prefix", "<u4"), ("buf", "<i4"), ("off", "<i4")])


def text_spans(texts: pl.Series) -> tuple[np.ndarray, np.ndarray, list]:
    """Per text (nulls as empty): the address and the length of its UTF-8 bytes, read in place
    from polars' string views (no copy of the texts; polars >= 1.30 exports its strings as
    views), and the Arrow arrays that hold those bytes (the addresses are valid while they
    live)."""
    import pyarrow as pa

    arr = texts.fill_null("").to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    ptrs, lens = [np.zeros(0, np.uint64)], [np.zeros(0, np.int64)]
    for ch in chunks:
        bufs, n, o = ch.buffers(), len(ch), ch.offset
        v = np.frombuffer(bufs[1], _VIEW, count=n, offset=16 * o)
        size = v["len"].astype(np.int64)
        inline = size <= 12
        base = np.array([b.address for b in bufs[2:]] or [0], np.uint64)
        outside = base[np.where(inline, 0, v["buf"])] + v["off"].astype(np.uint64)
        within = np.uint64(bufs[1].address + 16 * o + 4) \
            + np.arange(n, dtype=np.uint64) * np.uint64(16)
        ptrs.append(np.where(inline, within, outside))
        lens.append(size)
    return np.concatenate(ptrs), np.concatenate(lens), chunks
