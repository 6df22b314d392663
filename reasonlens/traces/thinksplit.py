"""The think split of a column of responses through the compiled ``_thinksplit.c``.

:func:`split_views` gives each response's reasoning and answer (as
:func:`reasonlens.traces.model.split_reasoning` gives them for a response without a separate
reasoning field) as Arrow string views into the response's own bytes: nothing is copied and
nothing validated again, where the polars expressions of
:func:`reasonlens.traces.columns.split_columns` cut, copy, validate and strip each part (30 ms
per 23 MB of R1 traces on one thread here, against ~3 ms). Without the compiled library (an
install without a C compiler) :func:`available` is False and the loader uses those
expressions; tests/test_think_split.py checks that both give ``split_reasoning``'s parts.
"""

from __future__ import annotations

import ctypes
import functools

import numpy as np
import polars as pl

from reasonlens.native import function, import_library

ABI = 1   # rl_think_split_abi() of the _thinksplit.c this module is for
USE = True   # tests switch the compiled split off here


@functools.lru_cache(maxsize=1)
def _library():
    """The compiled ``rl_think_split``, or None (not built, or a build of another source)."""
    lib = import_library("reasonlens.traces._thinksplit", "rl_think_split_abi", ABI)
    return function(lib, "rl_think_split", None, [ctypes.c_void_p] * 2 + [ctypes.c_int64]
                    + [ctypes.c_void_p] * 3)


def available() -> bool:
    return USE and _library() is not None


def split_views(response: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(reasoning, answer, think_closed) of each response (nulls as empty); think_closed is
    True after a closing tag, False with only an opening one, null with neither."""
    import pyarrow as pa

    split = _library()
    arr = response.fill_null("").to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    parts: list[list] = [[], [], []]
    for ch in chunks:
        if not pa.types.is_string_view(ch.type):
            ch = ch.cast(pa.string_view())
        bufs, n = ch.buffers(), len(ch)
        data = bufs[2:]
        addresses = np.array([b.address for b in data] or [0], np.uint64)
        views = np.frombuffer(bufs[1], np.uint8, count=16 * n, offset=16 * ch.offset)
        out_r, out_a = np.empty(16 * n, np.uint8), np.empty(16 * n, np.uint8)
        closed = np.empty(n, np.int8)
        if n:
            split(views.ctypes.data, addresses.ctypes.data, n, out_r.ctypes.data,
                  out_a.ctypes.data, closed.ctypes.data)
        for k, out in enumerate((out_r, out_a)):
            parts[k].append(pa.Array.from_buffers(pa.string_view(), n,
                                                  [None, pa.py_buffer(out), *data]))
        parts[2].append(closed)
    reasoning, answer = (pl.Series(name, _ArrowStream(pa.chunked_array(p, pa.string_view())))
                         .alias(name) for name, p in zip(("reasoning", "answer"), parts[:2]))
    code = np.concatenate(parts[2]) if parts[2] else np.zeros(0, np.int8)
    closed = pl.Series("think_closed", code == 1).set(pl.Series(code < 0), None)
    return reasoning, answer, closed


class _ArrowStream:
    """An Arrow array seen only through the Arrow C stream interface: polars takes it in place
    (``PySeries.from_arrow_c_stream``), as from a pyarrow array, without its pyarrow path
    importing ``pyarrow.compute``, which nothing else in ``score`` needs (0.08 s of start-up,
    on the first chunk, before any batch can be counted)."""

    def __init__(self, array):
        self.array = array

    def __arrow_c_stream__(self, requested_schema=None):
        return self.array.__arrow_c_stream__(requested_schema)


__all__ = ["available", "split_views"]
