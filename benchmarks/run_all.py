"""Run every benchmark (quick sizes by default) and print each one's figures and ratios.

    python benchmarks/run_all.py            # quick sizes (make bench)
    python benchmarks/run_all.py --full     # the sizes of the figures in benchmarks/*.md
    python benchmarks/run_all.py --only score,memory

Each benchmark measures its baseline in the same run and prints its ratio against it; this
script runs them one after another as child processes, shows their output, and ends with a
summary: every line that carries a ratio or a target verdict, per benchmark, and its exit code.
Benchmarks that need a local model server start one themselves (SmolLM2-135M through
llama-cpp-python, from the test cache); one that fails is reported and the others still run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# name: (script, quick arguments, full arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "score": ("score_bench.py", ["--mb", "100"], ["--mb", "1000"]),
    "layouts": ("layouts_bench.py", ["--mb", "20"], ["--mb", "300"]),
    "lexicon-size": ("lexicon_size_bench.py", ["--mb", "5", "--sizes", "167,2000,20000"],
                     ["--mb", "20"]),
    "memory": ("memory_bench.py", ["--mb", "50", "--report-responses", "20000"],
               ["--mb", "1000", "--report-responses", "1000000"]),
    "scale": ("scale_bench.py", ["--mb", "20"], ["--mb", "50"]),
    "grade": ("grade_bench.py", ["--n-strict", "1000", "--n-mv", "200",
                                 "--baseline-seconds", "5"], []),
    "judge": ("judge_bench.py", ["-n", "4", "--passes", "1"], ["-n", "24", "--passes", "3"]),
    "offline-detector": ("offline_detector.py", ["--mb", "2", "--repeats", "1"], []),
    "ablate": ("ablate_bench.py", ["--backend", "hf", "--tokens", "16", "--repeats", "2"],
               ["--backend", "both", "--tokens", "32", "--repeats", "5"]),
    "report": ("report_bench.py", ["--small"], []),
}
_FIGURE = re.compile(r"ratio|target|baseline|identical|\b(met|MISSED)\b", re.IGNORECASE)


def run(name: str, full: bool) -> tuple[int, float, list[str]]:
    script, quick_args, full_args = BENCHMARKS[name]
    cmd = [sys.executable, str(HERE / script), *(full_args if full else quick_args)]
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    figures = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(line, end="", flush=True)
        if _FIGURE.search(line):
            figures.append(line.rstrip())
    return proc.wait(), time.perf_counter() - t0, figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--full", action="store_true", help="full sizes (slow: tens of minutes)")
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    args = ap.parse_args()
    names = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        ap.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    print(f"{'full' if args.full else 'quick'} sizes; CPUs {len(os.sched_getaffinity(0))}; "
          f"load average {os.getloadavg()[0]:.2f}")
    results = {n: run(n, args.full) for n in names}
    print("\n=== summary (each figure against the baseline measured in the same run)")
    failed = 0
    for name, (rc, wall, figures) in results.items():
        print(f"{name} ({wall:.0f} s){'' if rc == 0 else f'  FAILED (exit {rc})'}")
        failed += rc != 0
        for f in figures:
            print(f"    {f.strip()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
