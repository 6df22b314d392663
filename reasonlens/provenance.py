"""Provenance block written with every output: versions, git hash, config, data-file versions."""

from __future__ import annotations

import datetime as _dt
import hashlib
import importlib.metadata
import os
import platform
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from reasonlens import __version__


def canonical_json(obj: Any) -> bytes:
    """Deterministic JSON bytes (sorted keys, no spaces) for hashing."""
    return orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY, default=str)


def content_hash(obj: Any, prefix: str = "b2:") -> str:
    """Short stable hash of a JSON-able object (blake2b over canonical JSON)."""
    data = obj if isinstance(obj, bytes) else canonical_json(obj)
    return prefix + hashlib.blake2b(data, digest_size=16).hexdigest()


WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf", ".ckpt")


def weights_fingerprint(path: str | os.PathLike) -> str | None:
    """A local checkpoint's weights by file name, size and modification time (cheap: nothing is
    read), so samples of a checkpoint retrained in place are not resumed as the old one's. None
    when ``path`` is not a local file or directory (a served model name, a hub id)."""
    p = Path(path)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file()
                       and (f.suffix in WEIGHT_SUFFIXES or f.name == "config.json"))
    else:
        return None
    stats = [(str(f.relative_to(p)) if f != p else f.name, f.stat().st_size,
              f.stat().st_mtime_ns) for f in files]
    return content_hash(stats)


def file_hash(path: str | os.PathLike, *, max_bytes: int | None = None) -> str:
    """``sha256:`` + SHA-256 of a file (or of a directory's files, sorted), mapped into memory
    64 MiB at a time (SHA-256 runs in the CPU's SHA instructions: 2.2x faster than blake2b here,
    and the input hash of a 1 GB trace file is read by every stage). Outputs written before
    2026-12 hold ``b2:`` (blake2b) hashes; :func:`reasonlens.io.checks.check_same_inputs`
    compares hashes of one kind only."""
    p = Path(path)
    h = hashlib.sha256()
    files = sorted(x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [p]
    left = max_bytes
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb", buffering=0) as fh:
            left = _hash_file(h, fh, left)
        if left is not None and left <= 0:
            return "sha256:" + h.hexdigest() + f":first{max_bytes}"
    return "sha256:" + h.hexdigest()


_WINDOW, _BLOCK = 64 << 20, 1 << 20


def _hash_file(h, fh, left: int | None) -> int | None:
    """Add the file's bytes to ``h``, with ``left`` (bytes still allowed) rounded up to whole
    MiB blocks of the file, as these hashes always were; returns what is left after it.

    Each 64 MiB window is one ``update`` with the GIL released: hashing in a thread beside
    other Python work (imports, parsing), blocks of 1 MiB each waited up to 5 ms for the GIL
    (the switch interval) and the thread used about a third of a core. A mapping is read
    straight from the page cache (no copy), and closed before the next, so memory stays at one
    window. Where a file cannot be mapped, it is read into one reused buffer instead."""
    import mmap

    size = end = os.fstat(fh.fileno()).st_size
    if left is not None:
        end = min(size, -(-left // _BLOCK) * _BLOCK)
    off = 0
    try:
        while off < end:
            n = min(_WINDOW, end - off)
            with mmap.mmap(fh.fileno(), n, access=mmap.ACCESS_READ, offset=off) as mm:
                h.update(mm)
            off += n
    except (OSError, ValueError):  # not mappable (a pipe, some file systems): read it
        fh.seek(off)
        buf = bytearray(_BLOCK)
        view = memoryview(buf)
        while off < end and (n := fh.readinto(view[:min(_BLOCK, end - off)])):
            h.update(view[:n])
            off += n
    return None if left is None else left - off


def input_records(sources: list[str] | tuple[str, ...] | str, *,
                  max_bytes: int | None = None) -> list[dict[str, Any]]:
    """The ``inputs`` of a provenance block: one record (path, bytes, hash) per input file.

    A directory of data files counts as its files (as the loaders read it), so ``score dir/`` and
    ``grade dir/*.jsonl`` record the same hashes. A source that is not a local path (a dataset id)
    is recorded with ``hash`` None and a note, and so is a pipe (reading it would take its bytes
    from the loader). ``max_bytes`` caps what is hashed per file (the hash then says so, see
    :func:`file_hash`).
    """
    from reasonlens.traces.readers import expand_sources

    if isinstance(sources, str):
        sources = [sources]
    records = []
    for s in expand_sources(list(sources)):
        p = Path(s)
        if p.exists() and not (p.is_dir() or p.is_file()):   # a pipe: its bytes are the loader's
            records.append({"path": str(p), "bytes": None, "hash": None,
                            "note": "not a regular file (a pipe?); not hashed"})
        elif p.exists():
            size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) \
                if p.is_dir() else p.stat().st_size
            records.append({"path": str(p), "bytes": size,
                            "hash": file_hash(p, max_bytes=max_bytes)})
        else:
            records.append({"path": str(s), "bytes": None, "hash": None,
                            "note": "remote dataset id; not hashed"})
    return records


def frame_record(ids: list[Any], rows: int) -> dict[str, Any]:
    """The input record of an in-memory frame (Python API): its rows and a hash of its ids."""
    return {"path": "<frame>", "rows": rows, "hash": content_hash(ids)}


class InputHasher(threading.Thread):
    """:func:`input_records` in the background while the inputs are read (hashlib releases the
    GIL): ``start()``, read, ``join()``, then ``records``. A stage takes its hasher from
    :meth:`started`, which hands over one that :meth:`ahead` began earlier."""

    def __init__(self, sources: list[str]):
        super().__init__(daemon=True)
        self.sources = sources
        self.records: list[dict[str, Any]] = []
        self.error: Exception | None = None
        self.stats = _file_stats(sources)

    def run(self) -> None:
        try:
            self.records = input_records(self.sources)
        except Exception as exc:  # noqa: BLE001 - the stage reports bad inputs itself; a thread
            self.error = exc      # that dies would print a traceback beside its one-line error

    @classmethod
    def ahead(cls, sources: list[str] | tuple[str, ...]) -> None:
        """Start hashing ``sources`` now, when they are all plain files: the CLI calls it before
        a stage's imports (polars, numpy, pyarrow: 0.3 s on one core, the other idle), so the
        hash of a large input is mostly done by the time its reading starts."""
        key = tuple(sources)
        if key not in _AHEAD and _file_stats(list(sources)) is not None:
            _AHEAD.clear()   # one at a time: one left by a command that failed before its stage
            _AHEAD[key] = hasher = cls(list(sources))
            hasher.start()

    @classmethod
    def started(cls, sources: list[str]) -> InputHasher:
        """The hasher :meth:`ahead` started for these sources if none of the files has changed
        since (size, mtime, inode), else a new one, started."""
        hasher = _AHEAD.pop(tuple(sources), None)
        if hasher is None or hasher.stats != _file_stats(list(sources)):
            hasher = cls(list(sources))
            hasher.start()
        return hasher


_AHEAD: dict[tuple[str, ...], InputHasher] = {}


def _file_stats(sources: list[str]) -> list[tuple[int, int, int, int]] | None:
    """(device, inode, size, mtime in ns) of each source; None unless all are plain files."""
    try:
        stats = [os.stat(s) for s in sources]
    except (OSError, ValueError):
        return None
    if not all(stat.S_ISREG(st.st_mode) for st in stats):
        return None
    return [(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) for st in stats]


def _git_hash() -> str | None:
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return None


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str | None]:
    pkgs = ("polars", "pyarrow", "spacy", "statsmodels", "altair", "math-verify", "httpx") + extra
    return {p: _version(p) for p in pkgs}


def provenance(*, command: str, config: dict[str, Any] | None = None,
               data_files: list[dict[str, Any]] | None = None,
               inputs: list[dict[str, Any]] | None = None,
               extra_packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """The provenance block. ``data_files``: lexicons/prompts/rubrics used (name, version, hash)."""
    from reasonlens.schema import SCHEMA_VERSION  # (polars: not at import, see InputHasher)

    config = config or {}
    return {
        "reasonlens_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "git_commit": _git_hash(),
        "command": command,
        "argv": sys.argv[1:],
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(extra_packages),
        "config": config,
        "config_hash": content_hash(config),
        "data_files": data_files or [],
        "inputs": inputs or [],
    }
