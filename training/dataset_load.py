"""Loading a training dataset from a ``save_to_disk`` folder, a JSONL/JSON/parquet file or a hub
id, with errors that say how to build the missing one."""

from __future__ import annotations

from pathlib import Path

from reasonlens.errors import ConfigError
from training.paths import resolve_path


def load_dataset_any(ref: str, split: str = "train", limit: int | None = None):
    """A ``datasets.Dataset`` from a save_to_disk directory, a JSONL/JSON/parquet file or a hub
    id."""
    from reasonlens._optional import import_datasets

    datasets = import_datasets()
    p = Path(resolve_path(ref))
    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ConfigError(f"{p}: no split {split!r}; splits: {', '.join(ds)}")
            ds = ds[split]
    elif p.is_file():
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}.get(p.suffix)
        if kind is None:
            raise ConfigError(f"{p}: dataset files must be .jsonl, .json or .parquet")
        ds = datasets.load_dataset(kind, data_files=str(p), split="train")
    elif p.exists():
        raise ConfigError(f"{p}: not a datasets directory (no dataset_info.json)")
    else:
        looks_local = (ref.count("/") != 1 or ref.startswith((".", "/"))
                       or Path(ref.split("/")[0]).exists())
        if looks_local:
            raise ConfigError(f"dataset not found: {ref} (build it with python -m training.data)")
        ds = datasets.load_dataset(ref, split=split)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    if len(ds) == 0:
        raise ConfigError(f"dataset {ref} is empty")
    return ds
