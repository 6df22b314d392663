"""kill -9 in the middle of writing (issue 11): the previous output stays whole, nothing mixed is
left for report, and a rerun finishes with every id exactly once (grade reuses its journal).

A few kills on small inputs; ``benchmarks/kill_bench.py`` runs 10 random kills per stage."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest

from reasonlens.io import MANIFEST, check_stage_dir, read_json
from reasonlens.stats import load_inputs

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "traces.jsonl"


def _inputs(tmp_path: Path, copies: int) -> tuple[Path, int]:
    recs = [json.loads(x) for x in EXAMPLE.read_text().splitlines() if x.strip()]
    rows = [{**r, "id": f"{r['id']}#{c}", "problem_id": f"{r['problem_id']}-{c}"}
            for c in range(copies) for r in recs]
    p = tmp_path / f"t{copies}.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p, len(rows)


def _start(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "REASONLENS_RAISE_ERRORS": ""}
    return subprocess.Popen([sys.executable, "-m", "reasonlens", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 120) -> None:
    t0 = time.monotonic()
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"finished before the kill point: {proc.stderr.read()[-500:]!r}")
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _run(args: list[str]) -> None:
    proc = _start(args)
    assert proc.wait(timeout=600) == 0, proc.stderr.read()[-2000:]


@pytest.mark.slow
def test_kill_during_score_keeps_the_previous_output_whole(tmp_path):
    small, n_small = _inputs(tmp_path, 2)
    big, n_big = _inputs(tmp_path, 150)
    out = tmp_path / "out"
    _run(["score", str(small), "--out", str(out), "-q"])
    before = read_json(out / MANIFEST)["run_id"]
    proc = _start(["score", str(big), "--out", str(out), "-q", "--batch-rows", "64"])

    def writing() -> bool:
        return any(p.stat().st_size > 0 for t in tmp_path.glob(".out.tmp-*")
                   for p in t.glob("responses.parquet"))

    _kill_when(proc, writing)
    check_stage_dir(out)
    assert read_json(out / MANIFEST)["run_id"] == before
    assert load_inputs([out]).responses.height == n_small  # what report reads: one whole run
    _run(["score", str(big), "--out", str(out), "-q"])
    ids = pl.read_parquet(out / "responses.parquet", columns=["id"])["id"]
    assert ids.len() == ids.n_unique() == n_big
    assert not list(tmp_path.glob(".out.tmp-*")) and not list(tmp_path.glob(".out.lock"))


@pytest.mark.slow
def test_kill_during_grade_resumes_from_the_journal(tmp_path):
    src, n = _inputs(tmp_path, 60)
    out = tmp_path / "g"
    proc = _start(["grade", str(src), "--out", str(out), "-q", "--n-boot", "0"])
    journal = tmp_path / ".g.resume" / "grades.jsonl"

    def some_graded() -> bool:
        return journal.exists() and journal.stat().st_size > 0

    _kill_when(proc, some_graded)
    assert not out.exists()
    _run(["grade", str(src), "--out", str(out), "-q", "--n-boot", "0"])
    m = read_json(out / "metrics.json")
    assert m["grading"]["resumed"] > 0
    ids = pl.read_parquet(out / "graded.parquet", columns=["id"])["id"]
    assert ids.len() == ids.n_unique() == n
    assert not journal.parent.exists()


@pytest.mark.slow
def test_two_processes_on_one_out_second_refuses(tmp_path):
    """Issue 11: two score runs on one --out both died with tracebacks and could leave a corrupt
    parquet under its final name."""
    big, n_big = _inputs(tmp_path, 400)
    out = tmp_path / "out"
    first = _start(["score", str(big), "--out", str(out), "-q", "--batch-rows", "64"])
    lock = tmp_path / ".out.lock"
    t0 = time.monotonic()
    while not lock.exists() and time.monotonic() - t0 < 60:
        time.sleep(0.005)
    second = subprocess.run([sys.executable, "-m", "reasonlens", "score", str(big), "--out",
                             str(out), "-q"], capture_output=True, text=True,
                            env={**os.environ, "REASONLENS_RAISE_ERRORS": ""})
    assert first.wait(timeout=600) == 0
    assert second.returncode == 2 and "Traceback" not in second.stderr
    assert "is being written by another reasonlens run (pid" in second.stderr
    check_stage_dir(out)
    assert pl.read_parquet(out / "responses.parquet").height == n_big
