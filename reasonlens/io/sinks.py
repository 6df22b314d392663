"""Streaming output pieces shared by the stages: a parquet file written batch by batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl


class ParquetSink:
    """A parquet file written batch by batch (inside a stage's temporary directory); batches
    whose schema differs from the first are cast to it. Provenance goes in at ``close``.

    Text columns may come as ``pl.Enum`` (:func:`reasonlens.lexcount.engine.coded_terms`):
    they are written as dictionary pages straight from their codes, and the file stores no
    Arrow schema, so every reader gets plain strings back, as from a file of strings."""

    def __init__(self, path: Path, *, min_rows: int = 0):
        """``min_rows``: batches of fewer rows are held and written together, as one row group
        of at least that many (none held by default; what is held is written at ``close``).
        Small row groups cost: score's responses (~2,500 rows per batch) were written in 0.6
        of the time and 0.4 of the size in row groups of eight batches."""
        self.path = Path(path)
        self.writer = None
        self.schema = None
        self.rows = 0
        self.min_rows = min_rows
        self._held: list[pl.DataFrame] = []

    def write(self, df: pl.DataFrame) -> None:
        self._held.append(df)
        if sum(map(len, self._held)) >= self.min_rows:
            self._flush()

    def _flush(self) -> None:
        import pyarrow.parquet as pq

        if not self._held:
            return
        held, self._held = self._held, []
        df = held[0] if len(held) == 1 else pl.concat(held, how="vertical_relaxed")
        table = _plain_dictionaries(df.to_arrow())
        if self.writer is None:
            self.schema = table.schema
            # zstd level 1: the files of score came out the same size as at the default level
            # (3) and were written in 0.7 of the time (benchmarks/scoring.md)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd",
                                           compression_level=1,
                                           write_statistics=_statistics_columns(self.schema),
                                           store_schema=not _has_dictionaries(self.schema))
        elif table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self.writer.write_table(table)
        self.rows += len(df)

    def close(self, prov: dict[str, Any] | None) -> None:
        self._flush()
        if self.writer is None:
            return
        if prov is not None:
            self.writer.add_key_value_metadata({"reasonlens": orjson.dumps(prov, default=str)})
        self.writer.close()
        self.writer = None


def _statistics_columns(schema) -> list[str]:
    """Min/max statistics for the columns that are not text: for text columns (ids, terms)
    they cost a third of the writing time of score's terms and no reader here filters on them."""
    import pyarrow as pa

    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view,
            pa.types.is_dictionary)
    return [f.name for f in schema if not any(t(f.type) for t in text)]


def _has_dictionaries(schema) -> bool:
    import pyarrow as pa

    return any(pa.types.is_dictionary(f.type) for f in schema)


def _plain_dictionaries(table):
    """Dictionary columns (polars Enums: their index width and field metadata vary with the
    batch's values) as one type, int32 codes of large strings, without polars' metadata, so
    that every batch of a file has the same schema."""
    import pyarrow as pa

    if not _has_dictionaries(table.schema):
        return table
    want = pa.dictionary(pa.int32(), pa.large_string())
    fields = [pa.field(f.name, want, f.nullable) if pa.types.is_dictionary(f.type)
              else f.remove_metadata() for f in table.schema]
    columns = [pa.chunked_array([_int32_codes(ch) for ch in col.chunks], want)
               if pa.types.is_dictionary(col.type) else col for col in table.columns]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


def _int32_codes(chunk):
    """One dictionary array as int32 codes of large strings, unordered: the codes widened by
    numpy (the same validity bits), the strings cast only where they are not large strings
    already (polars gives large strings). ``Table.cast`` did the same, but importing
    ``pyarrow.compute`` for it cost 0.08 s of every ``score`` run."""
    import numpy as np
    import pyarrow as pa

    idx = chunk.indices
    width = idx.type.bit_width // 8
    codes = np.frombuffer(idx.buffers()[1], idx.type.to_pandas_dtype(),
                          count=len(idx), offset=idx.offset * width).astype(np.int32)
    valid = idx.buffers()[0] if idx.null_count else None
    if valid is not None and idx.offset:   # the bits of a slice, moved to bit 0
        bits = np.unpackbits(np.frombuffer(valid, np.uint8), bitorder="little")
        valid = pa.py_buffer(np.packbits(bits[idx.offset:idx.offset + len(idx)],
                                         bitorder="little"))
    codes = pa.Array.from_buffers(pa.int32(), len(idx), [valid, pa.py_buffer(codes)],
                                  idx.null_count)
    words = chunk.dictionary
    if not pa.types.is_large_string(words.type):
        words = words.cast(pa.large_string())
    return pa.DictionaryArray.from_arrays(codes, words, safe=False)   # (codes of a valid array)
