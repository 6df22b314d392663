"""The columnar path for parquet files: row batches straight into trace frames.

Read record by record, a parquet file's rows become Python dicts (``to_pylist``) and go
through the row builder: about 100 MB/s. Here the batches of a file (:func:`parquet_batches`,
the same reader) are gathered into tables of up to ``batch_rows`` rows or about 16 MB and
turned into trace columns by the JSONL path's expressions (:class:`columnar._Columns`). A
table's types are exact, so no value needs looking up in its line; a table the columns cannot
take exactly is read record by record, as before, and the rows are the same either way
(tests/test_columnar_parquet.py loads random and real files both ways):

- small integers and floats are widened to 64 bits and categoricals read as their strings
  (as ``to_pylist`` gives them); NaN or an infinity in a float column, unsigned 64-bit
  integers and decimals go to the row path;
- anything :class:`columnar._Columns` refuses (see :mod:`reasonlens.traces.columnar`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from reasonlens.errors import InputError
from reasonlens.traces import columnar
from reasonlens.traces.columnar import NotColumnar, builder_from
from reasonlens.traces.model import BATCH_BYTES, text_slices
from reasonlens.traces.readers import parquet_batches

if TYPE_CHECKING:
    from reasonlens.traces.ids import SeenIds
    from reasonlens.traces.load import LoadOptions, LoadReport

_INTS = (pl.Int8, pl.Int16, pl.Int32, pl.UInt8, pl.UInt16, pl.UInt32)


def iter_parquet_source(source: str, options: LoadOptions, report: LoadReport,
                        counters: dict[tuple, int], seen: SeenIds) -> Iterator[pl.DataFrame]:
    """A parquet file in tables of whole batches: each through the columnar path when it can
    take it, else record by record."""
    from reasonlens.traces.load import _iter_items

    builder = None
    for first, table in _tables(Path(source), options.batch_rows, report._progress):
        if isinstance(table, InputError):
            builder = yield from _iter_items(iter([(first, table, None)]), source, options,
                                             report, counters, seen, builder)
            continue
        if builder is None:
            builder = builder_from(first, table.slice(0, 1).to_pylist()[0], source, options,
                                   counters)
            if builder is not None:
                report.layouts[source] = builder.layout
        frame = None
        if builder is not None and columnar.eligible(builder):  # (the module's: tests switch
            # the columnar path off there, for JSONL and parquet alike)
            prepared = columnar.prepare_frame(lambda: typed_frame(table), None, first, builder)
            frame = columnar.finish_chunk(prepared, builder, seen)
        if frame is not None:
            report.n_records += table.num_rows
            for start, length in text_slices(frame["response"].str.len_chars().to_numpy(),
                                             options.batch_rows, BATCH_BYTES):
                part = frame.slice(start, length)
                report.n_rows += len(part)
                yield part
            continue
        items = ((first + i, rec, None) for i, rec in enumerate(table.to_pylist()))
        builder = yield from _iter_items(items, source, options, report, counters, seen,
                                         builder)


def _tables(path: Path, batch_rows: int, progress) -> Iterator[tuple[int, object]]:
    """``(first row, pyarrow Table)`` of whole batches, up to ``batch_rows`` rows or about
    :data:`BATCH_BYTES`; a corrupt row group ends it with ``(row, InputError)`` after the
    table of the batches before it."""
    import pyarrow as pa

    held, first, rows, size = [], 1, 0, 0
    for start, batch in parquet_batches(path, progress):
        if isinstance(batch, InputError):
            if held:
                yield first, pa.Table.from_batches(held)
            yield start, batch
            return
        if held and (rows + batch.num_rows > batch_rows or size + batch.nbytes > BATCH_BYTES):
            yield first, pa.Table.from_batches(held)
            held, rows, size = [], 0, 0
        if not held:
            first = start
        held.append(batch)
        rows, size = rows + batch.num_rows, size + batch.nbytes
    if held:
        yield first, pa.Table.from_batches(held)


def typed_frame(table) -> pl.DataFrame:
    """The table as a polars frame whose values read as ``to_pylist`` gives them, or
    NotColumnar."""
    df = pl.from_arrow(table)
    if not isinstance(df, pl.DataFrame) or not len(df):
        raise NotColumnar
    wide = {c: (t, _widened(t)) for c, t in df.schema.items()}
    df = df.cast({c: w for c, (t, w) in wide.items() if w != t})
    floats = [c for c, t in df.schema.items() if t == pl.Float64]
    if floats and df.select(pl.any_horizontal(~pl.col(floats).is_finite().fill_null(True))
                            .any()).item():
        raise NotColumnar  # NaN and the infinities: the row path's (JSON has none)
    return df


def _widened(dtype: pl.DataType) -> pl.DataType:
    """Small integers as Int64, Float32 as Float64, categoricals as strings, at every depth."""
    if dtype in _INTS:
        return pl.Int64
    if dtype == pl.Float32:
        return pl.Float64
    if isinstance(dtype, (pl.Categorical, pl.Enum)):
        return pl.String
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _widened(f.dtype) for f in dtype.fields})
    if isinstance(dtype, pl.List):
        return pl.List(_widened(dtype.inner))
    return dtype


__all__ = ["iter_parquet_source", "typed_frame"]
