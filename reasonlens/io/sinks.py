"""Streaming output pieces shared by the stages: a parquet file written batch by batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl


class ParquetSink:
    """A parquet file written batch by batch (inside a stage's temporary directory); batches
    whose schema differs from the first are cast to it. Provenance goes in at ``close``."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.writer = None
        self.schema = None
        self.rows = 0

    def write(self, df: pl.DataFrame) -> None:
        import pyarrow.parquet as pq

        table = df.to_arrow()
        if self.writer is None:
            self.schema = table.schema
            # zstd level 1: the files of score came out the same size as at the default level
            # (3) and were written in 0.7 of the time (benchmarks/scoring.md)
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd",
                                           compression_level=1,
                                           write_statistics=_statistics_columns(self.schema))
        elif table.schema != self.schema:
            table = table.select(self.schema.names).cast(self.schema)
        self.writer.write_table(table)
        self.rows += len(df)

    def close(self, prov: dict[str, Any] | None) -> None:
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

    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    return [f.name for f in schema if not any(t(f.type) for t in text)]
