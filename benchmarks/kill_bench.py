"""kill -9 at random points: outputs are never mixed, reruns finish with every id exactly once.

Run:  python benchmarks/kill_bench.py [--kills 10] [--stages score,grade,judge] [--copies 60]

For each stage, the output directory first holds a complete run over input A. Then, ``--kills``
times: the stage is started on input B (or A, alternating) and killed with SIGKILL at a random
moment between 5% and 95% of the time a full run takes (measured first, in the same run). After
each kill:

1. the output directory is either absent or one run's complete output, never a mix:
   ``reasonlens.io.check_stage_dir`` accepts it and all its files carry one run id, and
   ``reasonlens.stats.load_inputs`` (what ``report`` / ``stats`` read) accepts it with the row count
   of exactly one of the two inputs -- or refuses it;
2. a rerun on the same input (no kill) finishes, and its output holds every response id exactly
   once (n unique ids == n rows == the input's responses). For ``grade`` the rerun's journal
   reuse is counted (how much of the killed run was kept).

Inputs: examples/traces.jsonl repeated ``--copies`` times with distinct problem ids (real model
text), B = A minus its last 10% of records. Prints one line per kill and a summary; exits 1 on any
violation.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "traces.jsonl"
OUTPUT_FILE = {"score": "responses.parquet", "grade": "graded.parquet",
               "judge": "judgments.parquet"}


def repeated(copies: int | None = None, max_bytes: int | None = None):
    """examples/traces.jsonl repeated with distinct ids and problem ids (lines, as bytes)."""
    recs = [json.loads(x) for x in EXAMPLE.read_text().splitlines() if x.strip()]
    size, c = 0, 0
    while (copies is None or c < copies) and (max_bytes is None or size < max_bytes):
        for r in recs:
            line = json.dumps({**r, "id": f"{r['id']}#{c}",
                               "problem_id": f"{r['problem_id']}-{c}"}) + "\n"
            size += len(line)
            yield line
        c += 1


def make_inputs(d: Path, copies: int) -> tuple[Path, Path, int, int]:
    rows = [json.loads(x) for x in repeated(copies)]
    a, b = d / "a.jsonl", d / "b.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cut = len(rows) - len(rows) // 10
    b.write_text("".join(json.dumps(r) + "\n" for r in rows[:cut]))
    return a, b, len(rows), cut


def command(stage: str, src: Path, out: Path) -> list[str]:
    cmd = [sys.executable, "-m", "reasonlens", stage, str(src), "--out", str(out)]
    if stage in ("score", "grade"):
        cmd.append("-q")
    if stage == "grade":
        cmd += ["--n-boot", "0", "--workers", "2"]
    return cmd


def run(stage: str, src: Path, out: Path) -> float:
    t0 = time.perf_counter()
    res = subprocess.run(command(stage, src, out), capture_output=True, text=True,
                         env={**os.environ, "REASONLENS_RAISE_ERRORS": ""})
    if res.returncode != 0:
        raise SystemExit(f"{stage} failed: {res.stderr[-2000:]}")
    return time.perf_counter() - t0


def killed_run(stage: str, src: Path, out: Path, after: float) -> bool:
    """Start the stage and SIGKILL its process group after ``after`` s; True if it was killed
    before it finished on its own."""
    proc = subprocess.Popen(command(stage, src, out), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "REASONLENS_RAISE_ERRORS": ""})
    try:
        proc.wait(timeout=after)
        return False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the stage and its Math-Verify workers
        proc.wait()
        return True


def check_after_kill(stage: str, out: Path, sizes: set[int]) -> str:
    """Problems with the directory a kill left (empty string: none)."""
    from reasonlens.errors import InputError
    from reasonlens.io import check_stage_dir, parquet_provenance
    from reasonlens.stats import load_inputs

    if not out.exists():
        return ""
    try:
        check_stage_dir(out)
    except InputError as exc:
        return f"mixed directory left: {exc}"
    f = out / OUTPUT_FILE[stage]
    if not f.exists():
        return f"{f.name} missing from a directory without a refusal"
    runs = {(parquet_provenance(p) or {}).get("run_id") for p in out.glob("*.parquet")}
    if len(runs) > 1:
        return f"files of {len(runs)} runs"
    try:
        loaded = load_inputs([out])
    except InputError:
        return ""  # refused: fine
    frame = {"score": loaded.responses, "grade": loaded.graded,
             "judge": loaded.judgments}[stage]
    if frame is None or frame.height not in sizes:
        return f"report reads {None if frame is None else frame.height} rows, not one run's"
    return ""


def check_rerun(stage: str, out: Path, n: int) -> str:
    df = pl.read_parquet(out / OUTPUT_FILE[stage], columns=["id"])
    if df.height != n or df["id"].n_unique() != n:
        return f"rerun holds {df.height} rows, {df['id'].n_unique()} unique ids, expected {n}"
    return ""


def resumed(out: Path) -> int | None:
    try:
        m = json.loads((out / "metrics.json").read_text())
        return int(m["grading"]["resumed"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--stages", default="score,grade,judge")
    ap.add_argument("--copies", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write-input", metavar="PATH",
                    help="Only write the example repeated to --mb megabytes into PATH and exit "
                         "(the input of the 1 GB grade memory figure).")
    ap.add_argument("--mb", type=float, default=1000)
    args = ap.parse_args(argv)
    if args.write_input:
        with open(args.write_input, "w") as fh:
            fh.writelines(repeated(max_bytes=int(args.mb * 1e6)))
        print(f"wrote {args.write_input} ({Path(args.write_input).stat().st_size} bytes)")
        return 0
    rng = random.Random(args.seed)
    bad = 0
    with tempfile.TemporaryDirectory(prefix="reasonlens-kill-") as tmp:
        d = Path(tmp)
        a, b, na, nb = make_inputs(d, args.copies)
        print(f"inputs: A {na} responses ({a.stat().st_size / 1e6:.1f} MB), B {nb}")
        for stage in args.stages.split(","):
            out = d / f"out-{stage}"
            full = run(stage, a, out)
            print(f"{stage}: full run {full:.1f} s")
            kept = []
            for k in range(args.kills):
                src, n = (b, nb) if k % 2 == 0 else (a, na)
                at = rng.uniform(0.05, 0.95) * full
                was_killed = killed_run(stage, src, out, at)
                problem = check_after_kill(stage, out, {na, nb})
                t = run(stage, src, out)
                problem = problem or check_rerun(stage, out, n)
                r = resumed(out) if stage == "grade" else None
                if r is not None:
                    kept.append(r / n)
                status = "ok" if not problem else f"VIOLATION: {problem}"
                bad += bool(problem)
                print(f"  kill {k + 1:2d} at {at:5.1f} s ({'killed' if was_killed else 'had finished'}"
                      f"): {status}; rerun {t:.1f} s"
                      + (f", {r} of {n} grades reused from the journal" if r is not None else ""))
            if kept:
                print(f"  {stage}: mean share of the killed run's grades reused: "
                      f"{sum(kept) / len(kept):.2f}")
    print(f"violations: {bad}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
