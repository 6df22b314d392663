"""Append-only, crash-safe JSONL output for generation, and resume.

Every record is written with one ``write`` of ``json + "\\n"`` to a file opened in append mode,
then flushed and fsynced, so after ``kill -9`` the file holds every finished record plus at most
one torn last line. :func:`repair_and_scan` truncates a torn tail (keeping every complete record)
and returns the finished (benchmark, problem_id, sample) keys, so a rerun neither loses nor
duplicates samples.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from reasonlens.errors import InputError

Key = tuple[str, str, int]


def record_key(rec: dict[str, Any]) -> Key:
    return (str(rec.get("benchmark")), str(rec.get("problem_id")), int(rec["sample"]))


def _parse(line: bytes) -> Key:
    rec = orjson.loads(line)
    if not isinstance(rec, dict) or "sample" not in rec:
        raise ValueError("not a generation record")
    return record_key(rec)


def repair_and_scan(path: str | Path) -> tuple[set[Key], dict[str, Any]]:
    """Repair a torn last line in place and return (finished keys, info).

    Only the bytes after the last newline can be torn (each record is one write ending in a
    newline). They are kept when they parse as a record (the newline is added) and cut off
    otherwise. A bad line anywhere else means the file was edited or is not a generation output:
    an InputError naming the line, never silently dropped.
    """
    p = Path(path)
    info: dict[str, Any] = {"records": 0, "repaired_bytes": 0, "duplicates": 0}
    keys: set[Key] = set()
    if not p.exists() or p.stat().st_size == 0:
        return keys, info
    data = p.read_bytes()
    *lines, tail = data.split(b"\n")

    def add(k: Key) -> None:
        if k in keys:
            info["duplicates"] += 1
        keys.add(k)
        info["records"] += 1

    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            add(_parse(line))
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
            raise InputError(f"not a generation record ({exc}); refusing to resume into this "
                             "file", path=str(p), line=i) from exc
    if tail.strip():
        try:
            add(_parse(tail))
            fix = b"\n"
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError):
            fix = None
        with open(p, "r+b") as fh:
            if fix is None:
                info["repaired_bytes"] = len(tail)
                fh.truncate(len(data) - len(tail))
            else:
                fh.seek(0, os.SEEK_END)
                fh.write(fix)
            fh.flush()
            os.fsync(fh.fileno())
    return keys, info


class JsonlAppender:
    """Append records durably: one write per record, flush and fsync after each."""

    def __init__(self, path: str | Path, *, fsync: bool = True):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.n_written = 0

    def write(self, rec: dict[str, Any]) -> None:
        data = orjson.dumps(rec, option=orjson.OPT_SERIALIZE_NUMPY, default=str) + b"\n"
        view = memoryview(data)
        while view:
            k = os.write(self._fd, view)
            view = view[k:]
        if self.fsync:
            os.fsync(self._fd)
        self.n_written += 1

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
