"""Small I/O helpers: atomic writes, JSON, parquet with provenance in its metadata."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson
import polars as pl


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never half."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                                          | orjson.OPT_SERIALIZE_NUMPY, default=str) + b"\n")


def read_json(path: str | Path) -> Any:
    return orjson.loads(Path(path).read_bytes())


def write_parquet(df: pl.DataFrame, path: str | Path, provenance: dict[str, Any] | None = None
                  ) -> None:
    """Write a parquet file atomically; provenance goes into the file's key-value metadata."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.tmp")
    meta = {"reasonlens": orjson.dumps(provenance, default=str).decode()} if provenance else None
    df.write_parquet(tmp, metadata=meta)
    os.replace(tmp, p)


def parquet_provenance(path: str | Path) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    # polars writes key-value metadata into the parquet footer, not into the Arrow schema
    md = pq.read_metadata(path).metadata or {}
    raw = md.get(b"reasonlens") or (pq.read_schema(path).metadata or {}).get(b"reasonlens")
    return orjson.loads(raw) if raw else None
