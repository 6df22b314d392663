"""Benchmark of `reasonlens score` against the bare polars pipeline, measured in the same run.

    python benchmarks/score_bench.py --mb 100        # quick (~1 min)
    python benchmarks/score_bench.py --mb 1000       # the 1 GB figures in benchmarks/scoring.md

Input (built once, cached in benchmarks/data/, gitignored): real texts repeated to --mb MB of
JSONL. With ../shared/data present: the 19 DeepSeek-R1 reasoning traces of
shared/data/schoenfeld-dev (joined sentences, evaluation-only data: the built file is never
committed) as `<think>` reasoning followed by a MATH-500 reference solution
(shared/data/simplerl-eval/math500) as the answer, for model "r1-traces"; the MATH-500 problem
statements and solutions alone for model "math500-solutions". Without it: the shipped
examples/traces.jsonl repeated. --input FILE measures your own traces.

Figures (MB = 10^6 bytes of JSONL input unless said otherwise):
- bare pipeline (the ceiling): `pl.read_ndjson(FILE)` + one `str.count_matches` of a 60-term
  ASCII-boundary alternation over the response column (timed inside a child process);
- `reasonlens score FILE --out DIR` end to end in a child process (start-up, loading, counting,
  writing the parquet files, hashing the input, the summary): MB/s, ratio to the bare pipeline,
  and the child's peak RSS;
- the same without the compiled counting kernel (REASONLENS_KERNEL=0), as a baseline;
- these three interleaved in --rounds rounds (3): the best of each, and each round's own ratio
  of the bare pipeline to score (its median too);
- counting stage alone (the engine's fast path on texts already in memory: three default
  lexicons, per-term counts and word totals): MB of reasoning+answer text per second, through
  the compiled kernel and through the regex and numpy path (which must give the same hits and
  words);
- start-up: `reasonlens score --help` (best of 5; wall and CPU seconds);
- loading alone (traces into frames): the columnar path against the record-by-record path on
  the same file (ratio).
Targets (issue 12): end to end >= 150 MB/s and >= 0.6 of the bare pipeline; counting >= 300
MB/s; peak RSS < 2 GB for 1 GB in; start-up < 0.3 s. `--json PATH` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data"
SHARED = REPO.parent / "shared" / "data"


def real_texts() -> tuple[str, list[dict]]:
    """(description, records) of real texts to repeat."""
    r1_dir, m5 = SHARED / "schoenfeld-dev", SHARED / "simplerl-eval" / "math500" / "test.jsonl"
    if r1_dir.is_dir() and m5.exists():
        r1 = [" ".join(s["text"] for s in json.loads(f.read_text())["data"])
              for f in sorted(r1_dir.glob("*.json"))]
        probs = [json.loads(x) for x in m5.open(encoding="utf-8")]
        recs = []
        for i, p in enumerate(probs):
            recs.append({"model": "r1-traces", "benchmark": "math500", "problem_id": p["unique_id"],
                         "prompt": p["problem"], "response": f"<think>\n{r1[i % len(r1)]}\n"
                         f"</think>\n\n{p['solution']}", "gold": p["answer"],
                         "finish_reason": "stop"})
            recs.append({"model": "math500-solutions", "benchmark": "math500",
                         "problem_id": p["unique_id"], "prompt": p["problem"],
                         "response": p["solution"], "gold": p["answer"],
                         "finish_reason": "stop"})
        return ("19 DeepSeek-R1 traces (shared/data/schoenfeld-dev) + MATH-500 solutions "
                "(shared/data/simplerl-eval/math500)"), recs
    recs = [json.loads(x) for x in (REPO / "examples" / "traces.jsonl").open(encoding="utf-8")]
    return "the shipped examples/traces.jsonl", recs


def build(path: Path, mb: int, seed: int = 0) -> str:
    """Repeat the real records (sample numbers counting up) to ``mb`` MB of JSONL."""
    what, recs = real_texts()
    rng = random.Random(seed)
    written, n = 0, 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        while written < mb * 1_000_000:
            rec = dict(recs[n % len(recs)])
            rec["sample"] = n // len(recs)
            rec["completion_tokens"] = len(rec["response"]) // 4 + rng.randint(0, 9)
            line = json.dumps(rec, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode())
            n += 1
    tmp.replace(path)
    return what


def build_responses(path: Path, n: int) -> None:
    """``n`` short responses (~0.8 KB) of real text: the MATH-500 solutions (model
    "math500-solutions") and the problem restated in `<think>` then solved (model
    "math500-restated"), gold answers included, samples counting up."""
    m5 = SHARED / "simplerl-eval" / "math500" / "test.jsonl"
    if m5.exists():
        probs = [json.loads(x) for x in m5.open(encoding="utf-8")]
    else:
        probs = [{"unique_id": r["problem_id"], "problem": r["prompt"], "solution": r["response"],
                  "answer": r.get("gold")} for r in real_texts()[1]]
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for i in range(n):
            p = probs[(i // 2) % len(probs)]
            restated = i % 2 == 1
            rec = {"model": "math500-restated" if restated else "math500-solutions",
                   "benchmark": "math500", "problem_id": p["unique_id"],
                   "sample": i // (2 * len(probs)), "prompt": p["problem"],
                   "response": f"<think>\n{p['problem']}\n</think>\n\n{p['solution']}"
                   if restated else p["solution"], "gold": p["answer"], "finish_reason": "stop"}
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(path)


def real_input(mb: int) -> Path:
    """benchmarks/data/real_<mb>mb.jsonl, built on first use."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"real_{mb}mb.jsonl"
    if not path.exists():
        build(path, mb)
    return path


def baseline_pattern() -> str:
    """60 word terms of the default lexicons (the first 20 of each) as one ASCII-boundary
    alternation, longest first: the bare pipeline's regex."""
    from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS, load_lexicon

    terms = []
    for name in DEFAULT_LEXICONS:
        terms += [t for t in load_lexicon(name).terms if not t.startswith("\\")][:20]
    alts = [re.escape(t).replace(r"\ ", r"\s+") for t in sorted(terms, key=len, reverse=True)]
    return r"(?i)(?-u:\b)(?:" + "|".join(alts) + r")(?-u:\b)"


_BARE = """
import sys, time
import polars as pl
t0 = time.perf_counter()
hits = pl.read_ndjson(sys.argv[1]).select(pl.col("response").str.count_matches(sys.argv[2]).sum())
print(time.perf_counter() - t0, hits.item())
"""


def bare_pipeline(path: Path) -> tuple[float, int]:
    """Wall seconds and hits of read_ndjson + one count_matches over the response column, in a
    child process (so this process stays small: a child forked from a large parent would count
    the parent's pages in its peak RSS)."""
    out = subprocess.run([sys.executable, "-c", _BARE, str(path), baseline_pattern()],
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1])


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of one child process (``env``: added to
    this process's environment)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, **(env or {})})
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    return wall, ru.ru_maxrss / 1024, ru.ru_utime + ru.ru_stime


def reasonlens_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "reasonlens", *args]


def startup() -> tuple[float, float]:
    """Best wall and best CPU seconds of `reasonlens score --help` over 5 runs."""
    runs = [run_child(reasonlens_cmd("score", "--help")) for _ in range(5)]
    return min(r[0] for r in runs), min(r[2] for r in runs)


def counting_alone(inp: Path, max_mb: int) -> dict[str, tuple[float, float, int, int]]:
    """MB of text and, per engine (the compiled kernel, the regex and numpy path), (wall s,
    CPU s, hits, words) of the fast path over the same texts in memory."""
    import polars as pl

    from reasonlens.lexicon import compile_lexicons
    from reasonlens.lexicon import count as count_mod
    from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS
    from reasonlens.traces import iter_trace_batches

    chunks, size = [], 0
    for batch in iter_trace_batches(str(inp)):
        t = pl.concat([batch["reasoning"], batch["answer"]])
        chunks.append(t)
        size += int(t.str.len_bytes().sum())
        if size >= max_mb * 1_000_000:
            break
    texts = pl.concat(chunks).rechunk()
    matcher = compile_lexicons(DEFAULT_LEXICONS)
    out = {}
    for use_kernel in (True, False):
        count_mod.USE_KERNEL = use_kernel
        name = count_mod.counting_engine(matcher)
        count_mod.fast_count(texts.head(50), matcher, words=True)  # warm-up (compilation)
        c0, t0 = time.process_time(), time.perf_counter()
        long, words = count_mod.fast_count(texts, matcher, words=True)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out[name] = (wall, cpu, int(long["count"].sum()), int(words.sum()))
    count_mod.USE_KERNEL = True
    return size / 1e6, out


def loading_alone(inp: Path) -> tuple[float, float, float, float]:
    """(wall s, CPU s) of loading the traces into frames, through the columnar path and
    record by record (the columnar path switched off), in this process."""
    from reasonlens.traces import columnar, iter_trace_batches

    out = []
    for fast in (True, False):
        real = columnar.eligible
        if not fast:
            columnar.eligible = lambda builder: False
        try:
            c0, t0 = time.process_time(), time.perf_counter()
            for _ in iter_trace_batches(str(inp)):
                pass
            out += [time.perf_counter() - t0, time.process_time() - c0]
        finally:
            columnar.eligible = real
    return tuple(out)


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=100, help="size of the built input in MB")
    ap.add_argument("--input", type=Path, help="use this trace file instead of building one")
    ap.add_argument("--count-max-mb", type=int, default=300,
                    help="MB of text held in memory for the counting-alone figure")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of the bare pipeline and score (best of each)")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    inp = args.input or real_input(args.mb)
    what = "--input" if args.input else real_texts()[0]
    mb = inp.stat().st_size / 1e6
    print(f"input: {inp} ({mb:.1f} MB; {what}); CPUs: {len(os.sched_getaffinity(0))}; "
          f"load average {os.getloadavg()[0]:.2f}")
    bare_pipeline(inp)  # warm the page cache and the regex
    start, start_cpu = startup()   # while this process is small (forking a big one is slow)
    print(f"start-up (`reasonlens score --help`, best of 5): {start:.3f} s wall, "
          f"{start_cpu:.3f} s CPU")
    score = reasonlens_cmd("score", str(inp), "--out", str(DATA / "score_out"), "--quiet")
    # rounds of the bare pipeline, score and score without the compiled kernel, interleaved:
    # the best of each, and each round's own ratio (the VM's speed drifts by more than 10%
    # from minute to minute, and a round's three runs see about the same machine)
    bares, runs = [], []
    for i in range(args.rounds):
        bare_s, bare_hits = bare_pipeline(inp)
        bares.append(bare_s)
        runs.append((run_child(score), run_child(score, {"REASONLENS_KERNEL": "0"})))
        print(f"round {i + 1}: bare pipeline (read_ndjson + 60-term count_matches) {bare_s:.2f} s "
              f"({bare_hits} hits); score {runs[-1][0][0]:.2f} s; without the kernel "
              f"{runs[-1][1][0]:.2f} s; ratio {bare_s / runs[-1][0][0]:.2f}")
    wall, rss, cpu = min((k for k, _ in runs), key=lambda r: r[0])
    rwall_e2e, _, rcpu_e2e = min((r for _, r in runs), key=lambda r: r[0])
    e2e = mb / wall
    bare = mb / min(bares)
    paired = sorted(b / k[0] for b, (k, _) in zip(bares, runs))
    print(f"bare pipeline, best of {args.rounds}: {min(bares):.2f} s = {bare:.0f} MB/s")
    print(f"`reasonlens score` end to end, best of {args.rounds}: {wall:.2f} s = {e2e:.0f} MB/s "
          f"({mb / cpu:.0f} MB per CPU-s); ratio to bare pipeline {e2e / bare:.2f} (best to "
          f"best; per round {', '.join(f'{r:.2f}' for r in paired)}, median "
          f"{statistics.median(paired):.2f}); peak RSS {rss:.0f} MB")
    print(f"  ... without the compiled kernel (REASONLENS_KERNEL=0): {rwall_e2e:.2f} s = "
          f"{mb / rwall_e2e:.0f} MB/s ({mb / rcpu_e2e:.0f} MB per CPU-s); the kernel "
          f"{rwall_e2e / wall:.2f}x")
    text_mb, engines = counting_alone(inp, args.count_max_mb)
    if len(set((h, w) for _, _, h, w in engines.values())) != 1:
        raise SystemExit(f"the engines disagree: {engines}")
    for name, (cwall, ccpu, hits, words) in engines.items():
        print(f"counting alone ({name}; 3 lexicons, per-term counts + words): {text_mb:.1f} MB "
              f"of text in {cwall:.2f} s = {text_mb / cwall:.0f} MB/s ({text_mb / ccpu:.0f} MB "
              f"per CPU-s); {hits} hits, {words} words")
    first = next(iter(engines))
    count = text_mb / engines[first][0]
    if len(engines) > 1:
        print(f"  counting: {first} {engines['regex'][0] / engines[first][0]:.2f}x the regex "
              "and numpy path")
    lwall, lcpu, rwall, rcpu = loading_alone(inp)
    print(f"loading alone (traces into frames): {mb / lwall:.0f} MB/s ({mb / lcpu:.0f} MB per "
          f"CPU-s); record by record {mb / rwall:.0f} MB/s ({mb / rcpu:.0f} MB per CPU-s); "
          f"ratio {rwall / lwall:.1f}x")
    figures = {
        "input_mb": mb, "bare_mb_s": bare, "score_mb_s": e2e, "score_ratio_to_bare": e2e / bare,
        "score_ratio_per_round": paired, "rounds": args.rounds, "score_peak_rss_mb": rss,
        "score_without_kernel_mb_s": mb / rwall_e2e,
        "counting_mb_s": count, "counting_engine": first,
        "counting_regex_path_mb_s": text_mb / engines["regex"][0], "startup_s": start,
        "startup_cpu_s": start_cpu, "loading_mb_s": mb / lwall,
        "loading_row_path_mb_s": mb / rwall,
        "load_average": os.getloadavg()[0]}
    print("targets:")
    print(f"  end to end >= 150 MB/s: {e2e:.0f} ({verdict(e2e >= 150)})")
    print(f"  end to end >= 0.6 of bare: {e2e / bare:.2f} ({verdict(e2e / bare >= 0.6)})")
    print(f"  counting >= 300 MB/s: {count:.0f} ({verdict(count >= 300)})")
    print(f"  peak RSS < 2 GB (at {mb:.0f} MB in): {rss:.0f} MB ({verdict(rss < 2048)})")
    print(f"  start-up < 0.3 s: {start:.3f} wall ({verdict(start < 0.3)}), {start_cpu:.3f} CPU")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
