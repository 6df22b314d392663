"""Record readers: JSONL / JSON (plain or .gz, through :mod:`reasonlens.records`), parquet,
local HF datasets, hub ids (``hf://OWNER/NAME`` only: a path is never guessed to be a hub id).

Each reader yields ``(line, record_or_error, raw)`` and streams: a JSONL or parquet file of any
size is read a line or a row group at a time. ``line`` is 1-based (the row number for tables).
Readers of files take an optional ``progress(path, bytes_done)`` callback that receives how far
into the file on disk (compressed bytes for ``.gz``) reading has got, for progress bars.
"""

from __future__ import annotations

import os

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from reasonlens.errors import ConfigError, InputError
from reasonlens.records import JSONL_SUFFIXES, iter_json_records, iter_jsonl
from reasonlens.traces.formats import is_inspect_log, read_inspect_eval, read_inspect_json

Item = tuple[int, Any, bytes | None]
PARQUET_BATCH_ROWS = 2048   # rows a parquet file is read at a time
Progress = Callable[[str, int], None] | None


def read_parquet(path: Path, progress: Progress = None) -> Iterator[Item]:
    for first, batch in parquet_batches(path, progress):
        if isinstance(batch, InputError):
            yield first, batch, None
            return
        for i, rec in enumerate(batch.to_pylist()):
            yield first + i, rec, None


def parquet_batches(path: Path, progress: Progress = None) -> Iterator[tuple[int, Any]]:
    """``(first row, pyarrow RecordBatch)`` of a parquet file, 2,048 rows at a time; a corrupt
    row group ends it with ``(row, InputError)``. Progress is reported after each batch."""
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several kinds
        raise InputError(f"not a readable parquet file: {exc}", path=str(path)) from exc
    row = 0
    total_rows = max(pf.metadata.num_rows, 1)
    size = path.stat().st_size
    batches = pf.iter_batches(batch_size=PARQUET_BATCH_ROWS)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - a corrupt row group: pyarrow raises several kinds
            yield row + 1, InputError(f"unreadable parquet data after row {row}: {exc}",
                                      path=str(path), line=row + 1)
            return
        yield row + 1, batch
        row += batch.num_rows
        if progress is not None:
            progress(str(path), size * row // total_rows)


def read_hf_dataset(ref: str, split: str | None) -> Iterator[Item]:
    """A local ``save_to_disk`` directory, a local folder of data files, or a hub id."""
    from reasonlens._optional import import_datasets

    if ref.startswith("hf://") and not ref[len("hf://"):].partition(":")[0].strip("/ "):
        raise ConfigError(f"{ref!r}: no dataset id; write hf://OWNER/NAME")
    datasets = import_datasets()
    p = Path(ref)
    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "state.json").exists()
                       or (p / "dataset_dict.json").exists()):
        try:
            ds = datasets.load_from_disk(str(p))
        except Exception as exc:  # noqa: BLE001 - datasets raises many kinds for a broken dir
            raise InputError(f"not a readable saved datasets directory: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else ''}",
                             path=str(p)) from exc
        if isinstance(ds, datasets.DatasetDict):
            ds = ds[_pick_split(list(ds), split, ref)]
    else:
        ref_for_hub = ref[len("hf://"):] if ref.startswith("hf://") else ref
        name, _, config = ref_for_hub.partition(":")
        try:
            ds = datasets.load_dataset(name, config or None, split=split or "train",
                                       streaming=True)
        except Exception as exc:  # noqa: BLE001 - network, auth, missing dataset: one line
            raise ConfigError(f"cannot load hub dataset {name!r}: {type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}") from exc
    for i, rec in enumerate(ds, 1):
        yield i, rec, None


def _pick_split(splits: list[str], split: str | None, ref: str) -> str:
    if split:
        if split not in splits:
            raise ConfigError(f"{ref}: no split {split!r}; splits: {', '.join(splits)}")
        return split
    chosen = next((s for s in ("test", "train", "validation") if s in splits), splits[0])
    if len(splits) > 1:
        import logging

        logging.getLogger(__name__).warning(
            "%s holds the splits %s: reading %r only (choose with --split)", ref,
            ", ".join(splits), chosen)
    return chosen


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
        files = data_files(p)
        if not files:
            raise ConfigError(f"{p}: directory holds no .jsonl/.json/.parquet trace files and is "
                              "not a saved datasets directory")
        for f in files:
            yield from iter_records(str(f), split, progress)
        return
    if p.is_file():
        if name.endswith(JSONL_SUFFIXES):
            yield from iter_jsonl(p, progress)
        elif name.endswith((".json", ".json.gz")):
            items = iter_json_records(p, progress)
            first = next(items, None)
            if first is not None and is_inspect_log(first[1]):
                yield from read_inspect_json(first[1])  # one document: an inspect_ai log
                return
            if first is not None:
                yield first
            yield from items
        elif name.endswith(".eval"):
            yield from read_inspect_eval(p)
        elif name.endswith(".parquet"):
            yield from read_parquet(p, progress)
        else:
            raise ConfigError(f"{p}: unknown input format; use .jsonl, .jsonl.gz, .json, "
                              ".parquet, an inspect_ai .eval log, a saved datasets directory, "
                              "or hf://OWNER/NAME")
        return
    if source.startswith("hf://"):
        yield from read_hf_dataset(source, split)
        return
    if p.exists():
        raise ConfigError(f"{p}: not a regular file or directory (a pipe, socket or device); "
                          "save the traces to a file first")
    if p.is_symlink():
        raise ConfigError(f"{p}: broken symbolic link (it points to {os.readlink(p)}, which "
                          "does not exist)")
    hint = ""
    if source.count("/") == 1 and not source.startswith((".", "/")) and "." not in name:
        hint = f" (for a dataset on the Hugging Face hub write hf://{source})"
    raise ConfigError(f"input not found: {source}{hint}")


def expand_sources(sources: list[str]) -> list[str]:
    """Directories of data files -> their files (sorted), so each file is its own source and
    errors name the file; saved ``datasets`` directories and hub ids stay as they are."""
    out: list[str] = []
    for source in sources:
        p = Path(source)
        if p.is_dir() and not ((p / "dataset_info.json").exists() or (p / "state.json").exists()
                               or (p / "dataset_dict.json").exists()):
            files = data_files(p)
            if not files:
                raise ConfigError(f"{p}: directory holds no .jsonl/.json/.parquet trace files "
                                  "(stage outputs are left out) and is not a saved datasets "
                                  "directory")
            out.extend(str(f) for f in files)
        else:
            out.append(source)
    return out


def _stage_output_dir(d: Path) -> bool:
    """A directory written by a reasonlens stage (its files are outputs, not traces)."""
    from reasonlens.io import MANIFEST

    if d.name.startswith(".") or d.name.endswith(".partial") or (d / MANIFEST).exists():
        return True
    has = lambda *names: all((d / n).exists() for n in names)  # noqa: E731
    return has("summary.json", "responses.parquet") or has("metrics.json", "graded.parquet") \
        or has("judgments.parquet") or has("ablation.json") or has("agreement.json")


def data_files(directory: Path) -> list[Path]:
    """The trace files of a directory, sorted: stage outputs inside it (``out/grade/...``),
    hidden and partial directories are not traces and are left out (reading a grade output as
    traces would count its responses a second time)."""
    out, skipped = [], []
    unreadable: list[OSError] = []
    for _ in os.walk(directory, onerror=unreadable.append):
        pass  # rglob below skips what it cannot list: that would drop traces silently
    if unreadable:
        e = unreadable[0]
        raise ConfigError(f"{e.filename}: cannot read this directory of the input {directory} "
                          f"({e.strerror}); its trace files would be left out")
    for f in sorted(directory.rglob("*")):
        if not f.is_file() or not _readable(f.name.lower()):
            continue
        parents = [p for p in f.relative_to(directory).parents if str(p) != "."]
        if _stage_output_dir(f.parent) or any(q.startswith(".") for q in (p.name for p in parents)):
            skipped.append(f)
            continue
        out.append(f)
    if skipped:
        import logging

        logging.getLogger(__name__).warning(
            "%s: left out %d file(s) of reasonlens stage outputs (e.g. %s); pass such a file "
            "explicitly to read it as traces", directory, len(skipped), skipped[0])
    return out


def _readable(name: str) -> bool:
    return name.endswith((".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz",
                          ".parquet", ".eval"))
