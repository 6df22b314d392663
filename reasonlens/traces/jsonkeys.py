"""Whether polars, given a schema, kept every key of a chunk of JSON lines.

Inferring a chunk's schema makes ``pl.read_ndjson`` parse it twice. With a schema given
(or inferred from the first rows only) it parses once, but a key the schema lacks is dropped
without a word, at any depth (``{"a": 1, "new": 5}`` reads as ``{"a": 1}``), and so is a value
inside a list typed ``Null``. The loader's columnar path (:mod:`reasonlens.traces.columnar`)
therefore takes such a frame only when :func:`kept_every_key` holds:

- the chunk's text holds as many keys with a value other than ``null`` (counted at every depth
  by ``_jsonkeys.c``, which skips string contents) as the frame holds values that are not null
  (:func:`frame_values`, at every depth: columns, struct fields, list elements' fields);
- and the schema has no ``Null`` type but at the top (where polars refuses any other value).

A frame never holds a non-null value its text lacks, so equal counts mean nothing was dropped.
Keys whose value is null may be dropped: to every reader of the frame they are as absent.
Without the compiled scanner (an install without a C compiler) :func:`key_count` is None and
the loader infers every schema in full, as before.

A key given twice in one object (``{"response": "a", "response": "b"}``) is where the two
readers differ: polars keeps the first value, orjson (the record-by-record path, like Python's
``json``) the last. The scanner also counts the keys that repeat one before them in their object
(as written), and :func:`read_lines` raises :class:`KeysLost` for a chunk with any, so it is
read record by record: the last value counts, whichever path a chunk takes
(tests/test_columnar.py). Without the compiled scanner this cannot be seen, and the columnar
path keeps the first.
"""

from __future__ import annotations

import ctypes
import functools
import io

import polars as pl

from reasonlens.native import function, import_library

ABI = 3          # rl_json_keys_abi() of the _jsonkeys.c this module is for
FIRST_ROWS = 100  # rows a chunk's schema is inferred from when no earlier chunk gave one


class SchemaHint:
    """The schema the last chunk of a source was read with, for the next ones. The threads that
    parse a source's chunks share it: a stale hint costs a second parse, never a row."""

    def __init__(self) -> None:
        self.schema: pl.Schema | None = None

    def keep(self, schema: pl.Schema) -> None:
        """Keep ``schema`` but its top-level ``Null`` columns (for those polars refuses any
        other value); none where a ``Null`` type lies deeper."""
        kept = {k: t for k, t in schema.items() if t != pl.Null}
        self.schema = None if any(map(has_inner_null, kept.values())) else pl.Schema(kept)


class KeysLost(ValueError):
    """A chunk with a key given twice in one object, whose value polars and the record-by-record
    path would read differently (see the module's docstring)."""


def read_lines(chunk: bytes, hint: SchemaHint | None = None) -> pl.DataFrame:
    """``pl.read_ndjson`` of a chunk of whole JSON lines, parsed once where no key is lost: with
    the hint's schema (else one inferred from the first rows), kept when :func:`kept_every_key`;
    else parsed again with the schema inferred from every line. Raises what polars raises, and
    :class:`KeysLost` for a chunk with a key given twice in one object (before any parse).

    A column may then carry the hint's type rather than the chunk's own: numbers read as
    floats, or as their text in a column of texts, as in a column of mixed types with the
    schema inferred in full; the columnar path checks such values either way."""
    hint = hint if hint is not None else SchemaHint()
    scan = _scan(chunk)
    if scan is not None:
        if scan[1]:
            raise KeysLost(f"{scan[1]} key(s) given twice in one object: polars keeps the "
                           "first value, the record-by-record path the last")
        try:
            df = pl.read_ndjson(io.BytesIO(chunk), schema=hint.schema) if hint.schema \
                else pl.read_ndjson(io.BytesIO(chunk), infer_schema_length=FIRST_ROWS)
        except Exception:  # noqa: BLE001 - a value the schema cannot take: infer in full
            df = None
        if df is not None and kept_every_key(chunk, df, keys=scan[0]):
            hint.keep(df.schema)
            return df
    df = pl.read_ndjson(io.BytesIO(chunk), infer_schema_length=None)
    hint.keep(df.schema)
    return df


@functools.lru_cache(maxsize=1)
def _library():
    """The compiled scanner's ``rl_json_keys``, or None (not built, or a build of another
    source)."""
    lib = import_library("reasonlens.traces._jsonkeys", "rl_json_keys_abi", ABI)
    return function(lib, "rl_json_keys", ctypes.c_int64,
                    [ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)])


@functools.lru_cache(maxsize=1)
def _count_library():
    lib = import_library("reasonlens.traces._jsonkeys", "rl_json_keys_abi", ABI)
    return function(lib, "rl_count_byte", ctypes.c_int64,
                    [ctypes.c_char_p, ctypes.c_int64, ctypes.c_int64])


def count_byte(data: bytes, byte: int) -> int | None:
    """How many bytes of ``data`` equal ``byte``, by the compiled scanner (GIL released); None
    without it."""
    fn = _count_library()
    return None if fn is None else fn(data, len(data), byte)


def key_count(chunk: bytes) -> int | None:
    """The keys of the valid JSON in ``chunk`` whose value is not ``null``, at every depth; None
    without the compiled scanner (or for a string left open)."""
    scan = _scan(chunk)
    return None if scan is None else scan[0]


def repeated_keys(chunk: bytes) -> int | None:
    """The keys of ``chunk`` that repeat a key before them in their own object (as written);
    None as for :func:`key_count`."""
    scan = _scan(chunk)
    return None if scan is None else scan[1]


def _scan(chunk: bytes) -> tuple[int, int] | None:
    """(keys whose value is not null, keys repeated in their object), or None."""
    lib = _library()
    if lib is None:
        return None
    out = (ctypes.c_int64 * 3)()
    if lib(chunk, len(chunk), out) != 0:
        return None
    return out[0] - out[1], out[2]


def frame_values(df: pl.DataFrame) -> int:
    """The values of ``df`` that are not null, at every depth (a struct's fields, the fields of
    a list's elements): one per key of the JSON the frame was read from, where polars kept it."""
    return sum(_values(s) for s in df.get_columns())


def _values(s: pl.Series) -> int:
    return len(s) - s.null_count() + _inner(s)


def _inner(s: pl.Series) -> int:
    """The non-null values below ``s``'s own: its fields, or its elements' fields."""
    dtype = s.dtype
    if isinstance(dtype, pl.Struct):
        fields = s.struct.unnest()   # a null struct's fields read as null
        return sum(_values(f) for f in fields.get_columns())
    if isinstance(dtype, (pl.List, pl.Array)):
        return _inner(s.explode(keep_nulls=False, empty_as_null=False))
    return 0


def has_inner_null(dtype: pl.DataType) -> bool:
    """A ``Null`` type inside ``dtype`` (a list of nulls, a struct field of nulls): polars, given
    such a schema, reads the values found there as null instead of refusing them."""
    if isinstance(dtype, pl.Struct):
        return any(f.dtype == pl.Null or has_inner_null(f.dtype) for f in dtype.fields)
    if isinstance(dtype, (pl.List, pl.Array)):
        return dtype.inner == pl.Null or has_inner_null(dtype.inner)
    return False


def kept_every_key(chunk: bytes, df: pl.DataFrame, *, keys: int | None = None) -> bool:
    """Whether ``df``, read from ``chunk`` with a schema given or inferred from its first rows,
    holds every key of it whose value is not null (see the module's docstring); ``keys``: the
    chunk's :func:`key_count`, where already known."""
    if any(has_inner_null(t) for t in df.schema.values()):
        return False
    keys = key_count(chunk) if keys is None else keys
    return keys is not None and keys == frame_values(df)


__all__ = ["KeysLost", "SchemaHint", "count_byte", "frame_values", "has_inner_null",
           "kept_every_key", "key_count", "read_lines", "repeated_keys"]
