"""Symbolic verification with Math-Verify in worker processes under a hard wall-clock timeout.

Math-Verify's own timeouts use ``signal.alarm``: they work only on the main thread and a call
such as ``9^9^9^9`` can then run forever (Math-Verify#50/#55). Here every call runs with
``parsing_timeout=None`` / ``timeout_seconds=None`` inside a small pool of long-lived worker
processes. The parent waits on the workers' pipes; when an item passes its deadline the worker is
killed (SIGKILL), replaced, and the item is reported as ``timeout``. No signals, no threads: safe to
use from any thread (the RL reward calls it), one caller at a time per pool (a lock serialises).
Workers are plain subprocesses (``python -m reasonlens.grade._worker``), not multiprocessing
children, so scripts without an ``if __name__ == "__main__"`` guard are safe.
"""

from __future__ import annotations

import atexit
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

import orjson

from reasonlens.errors import GradeError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyItem:
    """One comparison. ``pred`` is an extracted answer, or (``raw=True``) a text tail in which
    Math-Verify itself looks for the answer."""

    gold: str
    pred: str
    raw: bool = False


@dataclass(frozen=True)
class VerifyOutcome:
    correct: bool | None
    extracted: str | None      # Math-Verify's string form of what it parsed from pred
    reason: str                # ok | parse_error | timeout | no_answer
    detail: str = ""


def _worker_env() -> dict[str, str]:
    """The child's environment: reasonlens importable even from a source checkout."""
    import reasonlens

    root = str(Path(reasonlens.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Worker:
    """One ``python -m reasonlens.grade._worker`` subprocess, spoken to over its pipes."""

    def __init__(self, mem_mb: int):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "reasonlens.grade._worker", "--mem-mb", str(mem_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=_worker_env(), close_fds=True)
        self.fd = self.proc.stdout.fileno()
        self.buf = b""
        self.ready = False
        self.started = time.monotonic()
        self.task: tuple[int, float] | None = None   # (item index, deadline)

    def fileno(self) -> int:
        return self.fd

    def send(self, obj) -> None:
        self.proc.stdin.write(orjson.dumps(obj) + b"\n")
        self.proc.stdin.flush()

    def read_messages(self) -> list | None:
        """Messages available now; None when the worker closed its end (crashed or exited)."""
        data = os.read(self.fd, 1 << 16)
        if not data:
            return None
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return [orjson.loads(x) for x in lines if x.strip()]

    def kill(self) -> None:
        try:
            self.proc.kill()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


class VerifyPool:
    """A pool of long-lived Math-Verify worker processes with a per-item wall-clock timeout.

    Args:
        workers: number of worker processes.
        timeout: seconds one item may take (parse + verify); past it the worker is killed.
        mem_mb: address-space limit per worker (0 = none), so a huge factorial fails fast.
        start_timeout: seconds a new worker may take to import Math-Verify.
    """

    def __init__(self, workers: int = 2, timeout: float = 5.0, *, mem_mb: int = 4096,
                 start_timeout: float = 180.0):
        if workers < 1:
            raise GradeError("verify pool needs at least one worker")
        if timeout <= 0:
            raise GradeError("verify timeout must be > 0 seconds")
        self.n_workers = workers
        self.timeout = float(timeout)
        self.mem_mb = mem_mb
        self.start_timeout = start_timeout
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.n_timeouts = 0
        self.n_restarts = 0

    def _ensure(self) -> None:
        while len(self._workers) < self.n_workers:
            self._workers.append(_Worker(self.mem_mb))

    def verify_many(self, items: list[VerifyItem], progress=None) -> list[VerifyOutcome]:
        """Verify all items; results in input order. ``progress(n_done)`` is called as they end."""
        with self._lock:
            if not items:
                return []
            self._ensure()
            return self._run(items, progress)

    def _run(self, items: list[VerifyItem], progress) -> list[VerifyOutcome]:
        results: list[VerifyOutcome | None] = [None] * len(items)
        todo = deque(range(len(items)))
        done = 0

        def settle(i: int, outcome: VerifyOutcome) -> None:
            nonlocal done
            results[i] = outcome
            done += 1
            if progress:
                progress(done)

        while done < len(items):
            for w in list(self._workers):
                if w.ready and w.task is None and todo:
                    i = todo.popleft()
                    it = items[i]
                    try:
                        w.send([i, it.gold, it.pred, it.raw])
                        w.task = (i, time.monotonic() + self.timeout)
                    except (OSError, ValueError):
                        todo.appendleft(i)
                        self._replace(w)
            now = time.monotonic()
            horizon = min([w.task[1] for w in self._workers if w.task is not None]
                          + [w.started + self.start_timeout for w in self._workers
                             if not w.ready], default=now + 1.0)
            for w in wait(list(self._workers), timeout=max(0.0, horizon - now)):
                try:
                    msgs = w.read_messages()
                except (OSError, ValueError):
                    msgs = None
                if msgs is None:           # the worker died
                    code = w.proc.poll()
                    if w.task is not None:
                        settle(w.task[0], VerifyOutcome(None, None, "parse_error",
                                                        f"worker crashed (exit code {code})"))
                    elif not w.ready:
                        self._replace(w)
                        raise GradeError(f"a Math-Verify worker exited while starting (exit "
                                         f"code {code}); check: {sys.executable} -m "
                                         "reasonlens.grade._worker")
                    self._replace(w)
                    continue
                for msg in msgs:
                    if msg[0] == "ready":
                        w.ready = True
                        continue
                    i, ok, shown, reason, detail = msg
                    if w.task is not None and w.task[0] == i:
                        w.task = None
                        settle(i, VerifyOutcome(ok, shown, reason, detail))
            now = time.monotonic()
            for w in list(self._workers):
                if w.task is not None and now >= w.task[1]:
                    self.n_timeouts += 1
                    settle(w.task[0], VerifyOutcome(None, None, "timeout",
                                                    f"no result within {self.timeout:g}s"))
                    self._replace(w)
                elif not w.ready and now >= w.started + self.start_timeout:
                    self._replace(w)
                    raise GradeError(f"a Math-Verify worker did not start within "
                                     f"{self.start_timeout:g}s")
        return results  # type: ignore[return-value]

    def _replace(self, w: _Worker) -> None:
        w.kill()
        self._workers[self._workers.index(w)] = _Worker(self.mem_mb)
        self.n_restarts += 1

    def close(self) -> None:
        """Stop the workers. The pool stays usable: a later call starts new ones."""
        with self._lock:
            for w in self._workers:
                try:
                    w.proc.stdin.close()
                except OSError:
                    pass
            for w in self._workers:
                try:
                    w.proc.wait(2)
                except subprocess.TimeoutExpired:
                    pass
                w.kill()
            self._workers = []

    def __enter__(self) -> VerifyPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_SHARED: dict[tuple, VerifyPool] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_KEEP = 2     # pools with live workers; older configurations are stopped


def shared_pool(workers: int, timeout: float, mem_mb: int = 4096) -> VerifyPool:
    """A process-wide pool per configuration (for :func:`reasonlens.grade.grade_one`).

    Only the most recently used ``_SHARED_KEEP`` configurations keep worker processes; the
    workers of older ones are stopped (the pool object restarts them if used again). All are
    stopped at interpreter exit.
    """
    key = (workers, float(timeout), mem_mb)
    with _SHARED_LOCK:
        pool = _SHARED.pop(key, None) or VerifyPool(workers, timeout, mem_mb=mem_mb)
        _SHARED[key] = pool                       # most recent last
        stale = list(_SHARED.values())[:-_SHARED_KEEP]
    for old in stale:
        old.close()
    return pool


@atexit.register
def _close_shared() -> None:  # pragma: no cover - at interpreter exit
    for pool in list(_SHARED.values()):
        try:
            pool.close()
        except Exception:  # noqa: BLE001
            pass
