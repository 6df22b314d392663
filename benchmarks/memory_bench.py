"""Peak memory of every stage on the same input, against holding the input in memory.

    python benchmarks/memory_bench.py --mb 100              # quick
    python benchmarks/memory_bench.py --mb 1000             # 1 GB in (the figures in memory.md)
    python benchmarks/memory_bench.py --mb 1000 --report-responses 1000000

Input: benchmarks/data/real_<MB>mb.jsonl, real texts repeated (see score_bench.py; MATH-500
gold answers included, so grade has something to check). Each stage runs as its own child
process and its peak RSS is read from os.wait4 (the child and the processes it waited for):

- baseline, in the same run: `polars.read_ndjson(IN)`, i.e. the whole input held in memory;
- score, grade, judge (offline detector: no --base-url) on IN;
- rewrite: its loading path, with `--dry-run` when the command has one, otherwise what
  `reasonlens rewrite` does before its first request (`load_traces(IN)`), said so in the output;
- stats over the score, grade and judge outputs;
- report over --report-responses short real responses (MATH-500 solutions, two models; see
  score_bench.build_responses), with score, grade and judge run on them first (their peak RSS
  at that many responses is printed too, and stats over them: STAGE@N). A child above
  MEM_CAP_MB is stopped (shared machine).
Targets (issue 12): each stage < 2 GB for 1 GB in; report over 10^6 responses < 4 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


MEM_CAP_MB = 6144   # a child above this is stopped (the machine is shared): reported as such


def _rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child(cmd: list[str], timeout: float) -> dict:
    """Run one child; its wall seconds, peak RSS (MB), exit code and the tail of stderr."""
    t0 = time.perf_counter()
    capped = timed_out = False
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + timeout
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            capped = _rss_mb(proc.pid) > MEM_CAP_MB
            timed_out = time.time() > deadline
            if capped or timed_out:
                proc.kill()
                _, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        err.seek(0)
        tail = err.read().decode(errors="replace")[-600:]
    proc.returncode = os.waitstatus_to_exitcode(status)
    if capped:
        tail = f"stopped above the {MEM_CAP_MB} MB cap of this benchmark"
    elif timed_out:
        tail = f"stopped after the {timeout:.0f} s timeout"
    return {"wall_s": time.perf_counter() - t0, "rss_mb": ru.ru_maxrss / 1024,
            "rc": proc.returncode, "stderr": tail.strip(), "capped": capped,
            "timed_out": timed_out}


def rl(*args: str) -> list[str]:
    return [sys.executable, "-m", "reasonlens", *args]


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def rewrite_cmd(inp: Path, out: Path) -> tuple[list[str], str]:
    helptext = subprocess.run(rl("rewrite", "--help"), capture_output=True, text=True).stdout
    if "--dry-run" in helptext:
        return rl("rewrite", str(inp), "--dry-run", "--ban", "anthropomorphic", "--out",
                  str(out / "rewrite.jsonl")), "reasonlens rewrite --dry-run --ban anthropomorphic"
    return py(f"from reasonlens.traces import load_traces; load_traces({str(inp)!r})"), \
        "rewrite has no --dry-run: its loading path, load_traces(IN) (all traces in memory)"


def report_input(root: Path, n_responses: int, timeout: float) -> tuple[list[Path], dict]:
    """Stage outputs over ``n_responses`` short real responses (score, grade, judge run as
    children: their peak RSS at that many responses is reported too)."""
    from score_bench import build_responses

    root.mkdir(parents=True, exist_ok=True)
    inp = root / f"responses_{n_responses}.jsonl"
    build_responses(inp, n_responses)
    dirs, runs = [], {}
    for stage in ("score", "grade", "judge"):
        out = root / stage
        extra = ["--quiet"] if stage in ("score", "grade") else []
        runs[f"{stage}@{n_responses}"] = r = child(rl(stage, str(inp), "--out", str(out),
                                                      *extra), timeout)
        r["mb"] = inp.stat().st_size / 1e6
        r["what"] = f"reasonlens {stage} over the report's {n_responses} responses " \
                    f"({r['mb']:.0f} MB)"
        if r["rc"] == 0:
            dirs.append(out)
    return dirs, runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=100)
    ap.add_argument("--report-responses", type=int, default=100_000)
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per stage")
    ap.add_argument("--stages", default="score,grade,judge,rewrite,stats,report")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    from score_bench import DATA, real_input, real_texts

    inp = real_input(args.mb)
    mb = inp.stat().st_size / 1e6
    stages = args.stages.split(",")
    print(f"input: {inp} ({mb:.0f} MB; {real_texts()[0]}); load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    res: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(dir=DATA) as tmp:
        out = Path(tmp)
        res["baseline"] = child(py(f"import polars as pl; pl.read_ndjson({str(inp)!r})"),
                                args.timeout)
        res["baseline"]["what"] = "polars.read_ndjson(IN): the input held in memory"
        runs = {
            "score": (rl("score", str(inp), "--out", str(out / "score"), "--quiet"), None),
            "grade": (rl("grade", str(inp), "--out", str(out / "grade"), "--quiet"), None),
            "judge": (rl("judge", str(inp), "--out", str(out / "judge")), "offline detector"),
            "rewrite": rewrite_cmd(inp, out),
            "stats": (rl("stats", *[str(out / s) for s in ("score", "grade", "judge")
                                    if (s in stages)], "--out", str(out / "stats")), None),
        }
        for name in [s for s in stages if s in runs]:
            cmd, what = runs[name]
            res[name] = child(cmd, args.timeout)
            res[name]["what"] = what or f"reasonlens {name}"
            _print(name, res[name], res["baseline"], mb)
        if "report" in stages:
            dirs, runs = report_input(out / "report-input", args.report_responses, args.timeout)
            for name, r in runs.items():
                res[name] = r
                _print(name, r, res["baseline"], mb)
            n = args.report_responses
            res[f"stats@{n}"] = child(rl("stats", *map(str, dirs), "--out",
                                         str(out / "stats-report-input")), args.timeout)
            res[f"stats@{n}"]["what"] = f"reasonlens stats over the report's {n} responses"
            _print(f"stats@{n}", res[f"stats@{n}"], res["baseline"], mb)
            res["report"] = child(rl("report", *map(str, dirs), "-o", str(out / "report.html")),
                                  args.timeout)
            res["report"]["what"] = (f"report over {args.report_responses} responses "
                                     f"({', '.join(d.name for d in dirs)})")
            _print("report", res["report"], res["baseline"], mb)
    base = res["baseline"]
    print(f"baseline  {base['rss_mb']:7.0f} MB peak RSS  ({base['what']})")
    print("targets: each stage < 2048 MB at 1 GB in (STAGE@N: over the report's N responses); "
          "report over 10^6 responses < 4096 MB")
    for name, r in res.items():
        if name == "baseline":
            continue
        limit = 4096 if name == "report" else 2048
        ok = r["rc"] == 0 and r["rss_mb"] < limit
        print(f"  {name:8s} {r['rss_mb']:7.0f} MB  {'met' if ok else 'MISSED'}"
              f"{'' if r['rc'] == 0 else ' (exit ' + str(r['rc']) + ')'}")
    if args.json:
        args.json.write_text(json.dumps({"input_mb": mb, **res}, indent=1))


def _print(name: str, r: dict, base: dict, mb: float) -> None:
    status = "ok" if r["rc"] == 0 else f"exit {r['rc']}: {r['stderr'][-300:]}"
    mb = r.get("mb", mb)
    print(f"{name:8s} {r['rss_mb']:7.0f} MB peak RSS, {r['wall_s']:7.1f} s "
          f"({mb / r['wall_s']:.1f} MB/s); ratio to baseline RSS "
          f"{r['rss_mb'] / base['rss_mb']:.2f}; {r['what']}; {status}", flush=True)


if __name__ == "__main__":
    main()
