"""Record readers: JSONL (plain or .gz), JSON arrays, parquet, local HF datasets, hub ids.

Each reader yields ``(line, record_or_error, raw)`` and streams: a JSONL or parquet file of any
size is read a line or a row group at a time. ``line`` is 1-based (the row number for tables).
Readers of files take an optional ``progress(path, bytes_done)`` callback that receives how far
into the file on disk (compressed bytes for ``.gz``) reading has got, for progress bars.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from reasonlens.errors import ConfigError, InputError

Item = tuple[int, Any, bytes | None]
Progress = Callable[[str, int], None] | None


def _open_binary(path: Path) -> io.BufferedReader | gzip.GzipFile:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb", buffering=1 << 20)


def _decode_error(raw: bytes, exc: Exception) -> str:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as ue:
        return f"not valid UTF-8 (byte {ue.start}: {raw[ue.start:ue.start + 4]!r})"
    return f"broken JSON: {exc}"


def read_jsonl(path: Path, progress: Progress = None) -> Iterator[Item]:
    gz = path.suffix == ".gz"
    done = 0
    with _open_binary(path) as fh:
        for lineno, raw in enumerate(fh, 1):
            done += len(raw)
            if progress is not None and lineno % 256 == 0:
                progress(str(path), fh.fileobj.tell() if gz else done)  # type: ignore[union-attr]
            if not raw.strip():
                continue
            try:
                yield lineno, orjson.loads(raw), raw
            except orjson.JSONDecodeError as exc:
                yield lineno, InputError(_decode_error(raw, exc), path=str(path), line=lineno), raw
    if progress is not None:
        progress(str(path), path.stat().st_size)


def read_json_array(path: Path, progress: Progress = None) -> Iterator[Item]:
    raw = path.read_bytes()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(_decode_error(raw, exc), path=str(path)) from exc
    if isinstance(data, dict):  # {"data": [...]} or a single record
        data = next((v for v in data.values() if isinstance(v, list)), [data])
    if not isinstance(data, list):
        raise InputError("expected a JSON array of records", path=str(path))
    if progress is not None:
        progress(str(path), len(raw))
    for i, rec in enumerate(data, 1):
        yield i, rec, None


def read_parquet(path: Path, progress: Progress = None) -> Iterator[Item]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise InputError(f"not a readable parquet file: {exc}", path=str(path)) from exc
    row = 0
    total_rows = max(pf.metadata.num_rows, 1)
    size = path.stat().st_size
    for batch in pf.iter_batches(batch_size=2048):
        for rec in batch.to_pylist():
            row += 1
            yield row, rec, None
        if progress is not None:
            progress(str(path), size * row // total_rows)


def read_hf_dataset(ref: str, split: str | None) -> Iterator[Item]:
    """A local ``save_to_disk`` directory, a local folder of data files, or a hub id."""
    from reasonlens._optional import import_datasets

    datasets = import_datasets()
    p = Path(ref)
    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "state.json").exists()
                       or (p / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[_pick_split(list(ds), split, ref)]
    else:
        ref_for_hub = ref[len("hf://"):] if ref.startswith("hf://") else ref
        name, _, config = ref_for_hub.partition(":")
        ds = datasets.load_dataset(name, config or None, split=split or "train", streaming=True)
    for i, rec in enumerate(ds, 1):
        yield i, rec, None


def _pick_split(splits: list[str], split: str | None, ref: str) -> str:
    if split:
        if split not in splits:
            raise ConfigError(f"{ref}: no split {split!r}; splits: {', '.join(splits)}")
        return split
    for s in ("test", "train", "validation"):
        if s in splits:
            return s
    return splits[0]


def iter_records(source: str, split: str | None = None, progress: Progress = None
                 ) -> Iterator[Item]:
    """Dispatch on the source's form."""
    p = Path(source)
    name = p.name.lower()
    if p.is_dir():
        if (p / "dataset_info.json").exists() or (p / "state.json").exists() \
                or (p / "dataset_dict.json").exists():
            yield from read_hf_dataset(source, split)
            return
        files = sorted(f for f in p.rglob("*") if f.is_file() and _readable(f.name.lower()))
        if not files:
            raise ConfigError(f"{p}: directory holds no .jsonl/.json/.parquet files and is not a "
                              "saved datasets directory")
        for f in files:
            yield from iter_records(str(f), split, progress)
        return
    if p.is_file():
        if name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json.gz")):
            yield from read_jsonl(p, progress)
        elif name.endswith(".json"):
            with open(p, "rb") as fh:
                first = fh.read(64).lstrip()
            yield from (read_json_array(p, progress) if first.startswith(b"[")
                        else read_jsonl(p, progress))
        elif name.endswith(".parquet"):
            yield from read_parquet(p, progress)
        else:
            raise ConfigError(f"{p}: unknown input format; use .jsonl, .jsonl.gz, .json, "
                              ".parquet, a saved datasets directory, or hf://OWNER/NAME")
        return
    if name.endswith((".jsonl", ".gz", ".ndjson", ".json", ".parquet")) and \
            not source.startswith("hf://"):
        raise ConfigError(f"input not found: {source}")
    if source.startswith("hf://") or (source.count("/") == 1 and not source.startswith((".", "/"))):
        yield from read_hf_dataset(source, split)
        return
    raise ConfigError(f"input not found: {source}")


def expand_sources(sources: list[str]) -> list[str]:
    """Directories of data files -> their files (sorted), so each file is its own source and
    errors name the file; saved ``datasets`` directories and hub ids stay as they are."""
    out: list[str] = []
    for source in sources:
        p = Path(source)
        if p.is_dir() and not ((p / "dataset_info.json").exists() or (p / "state.json").exists()
                               or (p / "dataset_dict.json").exists()):
            files = sorted(f for f in p.rglob("*") if f.is_file() and _readable(f.name.lower()))
            if not files:
                raise ConfigError(f"{p}: directory holds no .jsonl/.json/.parquet files and is "
                                  "not a saved datasets directory")
            out.extend(str(f) for f in files)
        else:
            out.append(source)
    return out


def _readable(name: str) -> bool:
    return name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz",
                          ".parquet"))
