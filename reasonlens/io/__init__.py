"""I/O helpers: atomic files, JSON, parquet with provenance, and atomic stage-output directories.

Single files
------------
``atomic_write_bytes(path, data)`` / ``write_json(path, obj)`` / ``write_parquet(df, path, prov)``
write under a unique temporary name beside ``path`` and rename it into place, so a reader sees
the old file or the whole new one. ``parquet_provenance(path)`` reads the provenance back.
An output that cannot be written (read-only directory, disk full) raises
:class:`~reasonlens.errors.OutputError` naming the path, never a raw ``OSError``.

Stage outputs (one directory written as one step)
-------------------------------------------------
Every stage that writes an ``--out`` directory (score, grade, judge, judge-eval, ablate, stats)
does it through :func:`stage_output`::

    with stage_output(out_dir, stage="score", sources=inputs) as so:
        prov = so.stamp(provenance(command="score", ...))   # adds so.run_id to provenance
        so.write_parquet(df, "responses.parquet", prov)      # or write into so.path / "x" directly
        so.write_json("summary.json", {..., "provenance": prov})
    # on normal exit: committed; so.final is the directory readers see
    # so.inputs (input records for the manifest) may be set inside the block

How it works:

* ``<parent>/.<name>.lock`` is locked (``fcntl.flock``, released by the kernel even after
  ``kill -9``; the file is removed when the run ends); a second run on the same ``--out``
  raises ``OutputError`` ("... is being written by another reasonlens run (pid N, score, since
  T)") at once instead of interleaving files.
* Files are written into a fresh directory ``<parent>/.<name>.tmp-<run_id>``.
* On success a manifest ``reasonlens-manifest.json`` (stage, run_id, file names and sizes,
  inputs) is written into it last, then the directory is renamed into place: with no previous
  output one ``rename``; otherwise the old directory is first renamed aside to
  ``.<name>.old-<run_id>`` and deleted after the swap. A reader therefore sees the old complete
  output, the new complete output, or (for the instant between the two renames) no directory --
  never a mix. A run killed in that instant is completed by the next run on the same ``--out``.
* On an exception the previous output stays untouched. What the failed run wrote is kept in
  ``<parent>/<name>.partial/`` (``so.partial`` says where; ``keep_partial=False`` discards it)
  so nothing computed is lost, and nothing of it sits beside the previous run's files.
* Leftover temporary directories of killed runs are removed by the next run (under the lock).
* ``so.resume_dir`` (``<parent>/.<name>.resume/``) is a stable directory for append-only
  journals that must survive a killed run (resumable ``grade``); it is deleted on commit.
* An existing ``--out`` is replaced only when it is empty, carries a manifest, or holds nothing
  but reasonlens output files; a directory with anything else in it (another stage's
  sub-directories, the inputs themselves) is refused with the names found.

Streaming pieces (:mod:`reasonlens.io.sinks`)
---------------------------------------------
``ParquetSink(path)`` writes a parquet file batch by batch (provenance at ``close``). Inputs are
recorded with :func:`reasonlens.provenance.input_records` (one record per file, directories
expanded; ``InputHasher`` in a background thread), the form :func:`check_same_inputs` compares.

Readers (:mod:`reasonlens.io.checks`)
-------------------------------------
``check_stage_dir(path)`` returns the manifest of a stage directory (``None`` for a directory
written before manifests existed) and raises ``InputError`` when the directory is mixed: a file
listed in the manifest is missing or has another size, or the provenance blocks of its files
carry different ``run_id`` values (or, without run ids, different ``created_utc`` / ``argv``).
``check_same_inputs(items)`` takes ``(kind, path, provenance)`` triples (``report`` / ``stats``
inputs) and raises ``InputError`` when score, grade and judge outputs were computed from
different input files (their input hashes differ), naming both sides.
"""

from __future__ import annotations

import datetime as _dt
import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens.errors import OutputError

MANIFEST = "reasonlens-manifest.json"
MANIFEST_VERSION = 1

# names a reasonlens stage writes into its --out directory (for outputs older than manifests)
KNOWN_OUTPUT_FILES = frozenset({
    "responses.parquet", "terms.parquet", "summary.json", "rejects.jsonl", "graded.parquet",
    "metrics.json", "judgments.parquet", "instances.parquet", "agreement.json",
    "agreement_responses.parquet", "ablation.json", "collateral.json", "bansets.json",
    "substitutions.parquet", "leaks.parquet", "stats.json", "responses.partial.parquet",
    "terms.partial.parquet", "graded", "traces", "leakage.parquet", MANIFEST,
})
MARKER_FILES = ("summary.json", "metrics.json", "judgments.parquet", "agreement.json",
                "ablation.json", "stats.json", MANIFEST)


def output_error(exc: OSError, path: str | Path, what: str = "write") -> OutputError:
    """An OSError while writing ``path`` as one clear line."""
    if exc.errno == errno.EEXIST and exc.filename and str(exc.filename) != str(path):
        return OutputError(f"cannot {what} {path}: {exc.filename} is a file, not a directory",
                           path=str(path))
    reason = {errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EROFS: "read-only file system", errno.ENOSPC: "no space left on device",
              errno.EDQUOT: "disk quota exceeded", errno.ENOTDIR: "a parent is not a directory",
              errno.EEXIST: "exists and is not a directory"}.get(exc.errno or 0,
                                                                  exc.strerror or str(exc))
    return OutputError(f"cannot {what} {path}: {reason}", path=str(path))


def refuse_overwriting_inputs(out: str | Path, inputs: Iterable[Any]) -> None:
    """OutputError when the output file ``out`` is one of the input files (or the same file
    through a link): writing it would destroy the input. Non-path inputs (frames) are ignored."""
    p = Path(out)
    if not p.is_file():
        return
    for src in inputs:
        if isinstance(src, (str, os.PathLike)) and Path(src).is_file() \
                and os.path.samefile(p, src):
            raise OutputError(f"the output {p} is an input of this run ({src}): writing it "
                              "would destroy the input; choose another output file", path=str(p))


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the whole new one, never half."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
    except OSError as exc:
        raise output_error(exc, p) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, p)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise output_error(exc, p) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_bytes(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
                                          | orjson.OPT_SERIALIZE_NUMPY, default=str) + b"\n")


def read_json(path: str | Path) -> Any:
    return orjson.loads(Path(path).read_bytes())


def write_parquet(df: pl.DataFrame, path: str | Path, provenance: dict[str, Any] | None = None
                  ) -> None:
    """Write a parquet file atomically; provenance goes into the file's key-value metadata."""
    p = Path(path)
    meta = {"reasonlens": orjson.dumps(provenance, default=str).decode()} if provenance else None
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(f".{p.name}.{secrets.token_hex(4)}.tmp")
    except OSError as exc:
        raise output_error(exc, p) from exc
    try:
        df.write_parquet(tmp, metadata=meta)
        os.replace(tmp, p)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise output_error(exc, p) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def parquet_provenance(path: str | Path) -> dict[str, Any] | None:
    import pyarrow.parquet as pq

    # polars writes key-value metadata into the parquet footer, not into the Arrow schema
    md = pq.read_metadata(path).metadata or {}
    raw = md.get(b"reasonlens") or (pq.read_schema(path).metadata or {}).get(b"reasonlens")
    return orjson.loads(raw) if raw else None


# --- stage output directories ----------------------------------------------------------------

@dataclass
class StageOutput:
    """A stage's output being written (see the module docstring). Use :func:`stage_output`."""

    final: Path
    stage: str
    run_id: str
    path: Path                      # the temporary directory to write into
    inputs: list[dict[str, Any]] = field(default_factory=list)
    partial: Path | None = None     # set when a failed run's files were kept
    resumed: bool = False           # set by stages that resumed from resume_dir

    @property
    def resume_dir(self) -> Path:
        """Stable directory (kept when a run is killed or fails, deleted on commit)."""
        return _sibling(self.final, "resume")

    def file(self, name: str) -> Path:
        """Path of output file ``name`` inside the temporary directory."""
        return self.path / name

    def stamp(self, prov: dict[str, Any]) -> dict[str, Any]:
        """``prov`` with this run's id (readers use it to find mixed directories)."""
        return {**prov, "run_id": self.run_id}

    def write_parquet(self, df: pl.DataFrame, name: str, prov: dict[str, Any] | None = None
                      ) -> Path:
        write_parquet(df, self.file(name), self.stamp(prov) if prov is not None else None)
        return self.final / name

    def write_json(self, name: str, obj: Any) -> Path:
        write_json(self.file(name), obj)
        return self.final / name


def _sibling(final: Path, kind: str, run_id: str | None = None) -> Path:
    suffix = f".{kind}-{run_id}" if run_id else f".{kind}"
    return final.parent / f".{final.name}{suffix}"


def new_run_id() -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}"


class _Lock:
    """An exclusive, non-blocking flock on ``<parent>/.<name>.lock``."""

    def __init__(self, final: Path, stage: str):
        self.path = _sibling(final, "lock")
        self.final = final
        self.stage = stage
        self.fd = -1

    def acquire(self) -> None:
        for _ in range(5):
            if self._try_once():
                return
        raise OutputError(f"could not lock {self.path}; try again", path=str(self.final))

    def _try_once(self) -> bool:
        import fcntl

        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise output_error(exc, self.final, "create") from exc
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.pread(self.fd, 512, 0).decode("utf-8", "replace").strip()
            os.close(self.fd)
            self.fd = -1
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise OutputError(
                    f"{self.final} is being written by another reasonlens run ({holder or 'unknown'})"
                    "; wait for it to finish or choose another --out", path=str(self.final)
                ) from exc
            raise output_error(exc, self.final, "lock") from exc
        try:  # the holder before us may have removed the file: lock the one at the path
            same = os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(self.fd)
            self.fd = -1
            return False
        now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"pid {os.getpid()}, {self.stage}, since {now}\n".encode(), 0)
        return True

    def release(self) -> None:
        if self.fd >= 0:
            self.path.unlink(missing_ok=True)  # before unlocking: see _try_once
            os.close(self.fd)  # closing the descriptor drops the flock
            self.fd = -1


def _replaceable(final: Path, inputs: Iterable[str | Path]) -> None:
    """Refuse to replace a directory that holds anything but a reasonlens stage output."""
    if not final.exists():
        return
    if not final.is_dir():
        raise OutputError(f"{final} exists and is not a directory; choose another --out",
                          path=str(final))
    resolved = final.resolve()
    for src in inputs:
        s = Path(src)
        if s.exists() and (s.resolve() == resolved or resolved in s.resolve().parents):
            raise OutputError(f"--out {final} holds the input {src}; choose another --out "
                              "(the old output directory is replaced as a whole)",
                              path=str(final))
    names = {p.name for p in final.iterdir()}
    if not names:
        return
    listed: set[str] = set()
    if MANIFEST in names:
        try:
            listed = set(read_json(final / MANIFEST).get("files", {})) | {MANIFEST}
        except (OSError, ValueError, AttributeError):
            listed = set()
    if "stats.json" in names and not listed:  # a stats output older than manifests
        try:
            tables = read_json(final / "stats.json").get("tables", {})
            listed = {f"{t}{ext}" for t in tables for ext in (".parquet", ".csv")}
        except (OSError, ValueError, AttributeError):
            listed = set()
    foreign = sorted(n for n in names if n not in listed and n not in KNOWN_OUTPUT_FILES
                     and not n.startswith("."))
    if foreign or not names & set(MARKER_FILES):
        raise OutputError(
            f"--out {final} already holds files that are not a reasonlens stage output "
            f"({', '.join(foreign[:5]) or ', '.join(sorted(names)[:5])}); choose a new or empty "
            "directory (the output directory is replaced as a whole)", path=str(final))


def _cleanup_stale(final: Path) -> None:
    """Under the lock: finish a swap a killed run left half-done; remove dead temp dirs."""
    parent = final.parent
    tmps = sorted(parent.glob(f".{final.name}.tmp-*"))
    if not final.exists():
        done = [t for t in tmps if (t / MANIFEST).exists()]
        if done:  # killed between the two renames of a commit: the new output is complete
            os.rename(done[-1], final)
            tmps.remove(done[-1])
    for stale in tmps + sorted(parent.glob(f".{final.name}.old-*")):
        shutil.rmtree(stale, ignore_errors=True)


def _manifest(so: StageOutput) -> dict[str, Any]:
    files = {}
    for p in sorted(so.path.rglob("*")):
        if p.is_file():
            files[str(p.relative_to(so.path))] = p.stat().st_size
    return {"manifest_version": MANIFEST_VERSION, "stage": so.stage, "run_id": so.run_id,
            "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "files": files, "inputs": so.inputs}


def _commit(so: StageOutput) -> None:
    write_json(so.path / MANIFEST, _manifest(so))
    final = so.final
    if final.exists():
        old = _sibling(final, "old", so.run_id)
        os.rename(final, old)
        os.rename(so.path, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(so.path, final)
    shutil.rmtree(so.resume_dir, ignore_errors=True)


def _keep_partial(so: StageOutput) -> None:
    if not so.path.exists():
        return
    if not any(so.path.iterdir()):
        shutil.rmtree(so.path, ignore_errors=True)
        return
    target = final_partial(so.final)
    try:
        shutil.rmtree(target, ignore_errors=True)
        os.rename(so.path, target)
        so.partial = target
    except OSError:
        shutil.rmtree(so.path, ignore_errors=True)


def final_partial(final: Path) -> Path:
    """Where a failed run's files are kept: ``<parent>/<name>.partial``."""
    return final.parent / f"{final.name}.partial"


@contextmanager
def stage_output(out_dir: str | Path, *, stage: str, inputs: list[dict[str, Any]] | None = None,
                 sources: Iterable[str | Path] = (), keep_partial: bool = True
                 ) -> Iterator[StageOutput]:
    """Write a stage's ``--out`` directory as one step (see the module docstring).

    Args:
        out_dir: the directory readers will see.
        stage: the stage name written into the manifest ("score", "grade", ...).
        inputs: input records (path, bytes, hash) for the manifest; may be filled in later
            through ``so.inputs``.
        sources: input paths; refused when they lie inside ``out_dir``.
        keep_partial: on failure move what was written to ``<out>.partial`` (else delete it).
    """
    final = Path(out_dir)
    if final.name in ("", ".", ".."):
        final = final.resolve()
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, final, "create") from exc
    lock = _Lock(final, stage)
    lock.acquire()
    try:
        _cleanup_stale(final)
        _replaceable(final, sources)
        run_id = new_run_id()
        tmp = _sibling(final, "tmp", run_id)
        try:
            tmp.mkdir()
        except OSError as exc:
            raise output_error(exc, final, "create") from exc
        so = StageOutput(final=final, stage=stage, run_id=run_id, path=tmp,
                         inputs=list(inputs or []))
        try:
            yield so
        except BaseException:
            if keep_partial:
                _keep_partial(so)
            else:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        try:
            _commit(so)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise output_error(exc, final) from exc
        shutil.rmtree(final_partial(final), ignore_errors=True)
    finally:
        lock.release()


from reasonlens.io.checks import (check_same_inputs, check_stage_dir,  # noqa: E402
                                  input_hashes, read_manifest)
from reasonlens.io.sinks import ParquetSink  # noqa: E402
