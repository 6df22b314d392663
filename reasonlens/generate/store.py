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

from reasonlens.records import scan_append_log

Key = tuple[str, str, int]


def record_key(rec: dict[str, Any]) -> Key:
    return (str(rec.get("benchmark")), str(rec.get("problem_id")), int(rec["sample"]))


def _parse(rec: Any) -> Key:
    if not isinstance(rec, dict) or "sample" not in rec:
        raise ValueError("not a generation record")
    return record_key(rec)


def repair_and_scan(path: str | Path) -> tuple[set[Key], dict[str, Any]]:
    """Repair a torn last line in place and return (finished keys, info).

    Only the bytes after the last newline can be torn (each record is one write ending in a
    newline); see :func:`reasonlens.records.scan_append_log`. A bad line anywhere else means the
    file was edited or is not a generation output: an InputError naming the line.
    """
    found, info = scan_append_log(path, _parse, what="generation")
    keys = set(found)
    info["duplicates"] = len(found) - len(keys)
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
