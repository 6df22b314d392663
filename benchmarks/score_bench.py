"""Benchmark of `reasonlens score`: end to end, the counting stage alone, peak memory, and a
plain Python `re` loop measured in the same run on a sample.

    python benchmarks/score_bench.py --mb 100        # quick
    python benchmarks/score_bench.py --mb 1000       # the 1 GB figure in benchmarks/scoring.md

Builds (once, cached) benchmarks/data/traces_<MB>mb.jsonl: synthetic R1-style traces made from
real MATH-500 problem and solution text (../shared/data, when present; otherwise from the
shipped example traces) interleaved with self-talk and connector sentences, ~8-30 KB per
response, two models. Or pass --input FILE to measure your own traces.

Printed figures:
- end to end: input MB / wall seconds of `reasonlens score IN --out DIR` in a child process,
  and the child's peak RSS (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss);
- counting alone: MB of reasoning+answer text / seconds for the engine's counting of the default
  three lexicons plus word counts (fast path), on texts already in memory; also per CPU-second;
- the `re` baseline: one compiled alternation of the same terms with \\b, findall per text,
  tallied in a dict, on a sample; and the ratio counting / re.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DATA = HERE / "data"
SHARED = REPO.parent / "shared" / "data" / "simplerl-eval" / "math500" / "test.jsonl"

TALK = [
    "Wait, let me double-check that.", "Hmm, maybe I made a mistake here.", "Let me think.",
    "But wait, is that right?", "Alternatively, I could approach this differently.",
    "Okay, so that gives us the value.", "So I think the answer is correct.",
    "Hold on, let's see.", "On the other hand, maybe the other case works too.",
    "I'm not sure, let me verify again.", "Therefore, the result follows.",
    "Actually, I need to reconsider.", "Right, so we substitute back.", "Oh, I see.",
    "Hmm, that seems off.", "Let's compute it step by step.", "However, we also need x > 0.",
]


def _texts() -> list[tuple[str, str, str]]:
    if SHARED.exists():
        rows = [json.loads(x) for x in SHARED.open(encoding="utf-8")]
        return [(r["unique_id"], r["problem"], r["solution"]) for r in rows]
    rows = [json.loads(x) for x in (REPO / "examples" / "traces.jsonl").open(encoding="utf-8")]
    return [(r["problem_id"], r["prompt"], r["response"].replace("<think>", "")
             .replace("</think>", "")) for r in rows]


def build(path: Path, mb: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    probs = _texts()
    target = mb * 1_000_000
    written = 0
    n = 0
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        while written < target:
            pid, problem, solution = probs[n % len(probs)]
            model = ("distilled-32b-bench", "zero-rl-32b-bench")[n % 2]
            parts = []
            for _ in range(rng.randint(6, 24)):
                parts.append(solution if rng.random() < 0.5 else problem)
                if model.startswith("distilled"):
                    parts += rng.sample(TALK, rng.randint(1, 4))
            reasoning = "\n\n".join(parts)
            rec = {"model": model, "benchmark": "math500", "problem_id": pid, "prompt": problem,
                   "response": f"<think>\n{reasoning}\n</think>\n\nThe answer is "
                               f"$\\boxed{{{rng.randint(0, 999)}}}$.",
                   "finish_reason": "stop" if rng.random() < 0.9 else "length",
                   "completion_tokens": len(reasoning) // 4}
            line = json.dumps(rec, ensure_ascii=False) + "\n"
            fh.write(line)
            written += len(line.encode())
            n += 1
    tmp.replace(path)


def run_cli(inp: Path, out: Path) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds of `reasonlens score` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    exe = Path(sys.executable).with_name("reasonlens")
    cmd = [str(exe), "score", str(inp), "--out", str(out), "--quiet"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, after.ru_maxrss / 1024, cpu


def real_file_check(tmp: Path) -> None:
    """~300 MATH-500 problems x 2 models of real text: `reasonlens score` wall time."""
    if not SHARED.exists():
        print("real-file check skipped: ../shared/data is absent")
        return
    recs = []
    for i, d in enumerate(map(json.loads, SHARED.open(encoding="utf-8"))):
        if i == 300:
            break
        recs.append({"model": "solution-terse", "benchmark": "math500",
                     "problem_id": d["unique_id"], "response": d["solution"]})
        recs.append({"model": "solution-thinking", "benchmark": "math500",
                     "problem_id": d["unique_id"],
                     "response": f"<think>\nOkay, let me restate it. {d['problem']}\nHmm, wait. "
                                 f"Maybe I should just solve it.\n{d['solution']}\n</think>\n\n"
                                 f"The answer is $\\boxed{{{d['answer']}}}$."})
    path = tmp / "math500_300x2.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    wall, _, cpu = run_cli(path, tmp / "real_out")
    print(f"real file (300 MATH-500 problems x 2 models, {path.stat().st_size / 1e6:.2f} MB): "
          f"`reasonlens score` {wall:.2f} s wall ({cpu:.2f} s CPU), start-up included")


def counting_alone(inp: Path, max_mb: int):
    import polars as pl

    from reasonlens.lexicon import compile_lexicons
    from reasonlens.lexicon.count import fast_count
    from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS
    from reasonlens.traces import iter_trace_batches

    chunks, size = [], 0
    for batch in iter_trace_batches(str(inp)):  # keep only the texts, up to max_mb
        t = pl.concat([batch["reasoning"], batch["answer"]])
        chunks.append(t)
        size += int(t.str.len_bytes().sum())
        if size >= max_mb * 1_000_000:
            break
    texts = pl.concat(chunks).rechunk()
    matcher = compile_lexicons(DEFAULT_LEXICONS)
    fast_count(texts.head(50), matcher, words=True)  # warm-up (regex compilation)
    c0, t0 = time.process_time(), time.perf_counter()
    long, words = fast_count(texts, matcher, words=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return texts, size, wall, cpu, int(long["count"].sum()), int(words.sum()), matcher


def re_loop(texts, matcher, sample_mb: float):
    terms = sorted({t for lx in matcher.lexicons for t in lx.terms}, key=len, reverse=True)
    alts = "|".join(r"\s+".join(re.escape(w) for w in t.split(" ")) for t in terms)
    rx = re.compile(r"(?<![\w\\])(?:" + alts + r")\b", re.IGNORECASE)
    sample, size = [], 0
    for t in texts.to_list():
        sample.append(t or "")
        size += len((t or "").encode())
        if size >= sample_mb * 1_000_000:
            break
    c0, t0 = time.process_time(), time.perf_counter()
    tally: dict[str, int] = {}
    for t in sample:
        for m in rx.findall(t):
            k = m.lower()
            tally[k] = tally.get(k, 0) + 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return sample, size, wall, cpu, sum(tally.values())


def same_sample(sample: list[str], matcher) -> tuple[float, float]:
    """The engine's counting on exactly the re loop's sample: wall and CPU seconds."""
    import polars as pl

    from reasonlens.lexicon.count import fast_count

    s = pl.Series(sample)
    c0, t0 = time.process_time(), time.perf_counter()
    fast_count(s, matcher, words=True)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=100, help="size of the built input in MB")
    ap.add_argument("--input", type=Path, help="use this trace file instead of building one")
    ap.add_argument("--re-sample-mb", type=float, default=20.0,
                    help="MB of text for the Python re baseline")
    ap.add_argument("--count-max-mb", type=int, default=1200,
                    help="cap on text held in memory for the counting-alone measurement")
    ap.add_argument("--skip-cli", action="store_true", help="skip the end-to-end run")
    args = ap.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    inp = args.input or DATA / f"traces_{args.mb}mb.jsonl"
    if not inp.exists():
        t0 = time.perf_counter()
        build(inp, args.mb)
        print(f"built {inp} in {time.perf_counter() - t0:.1f} s")
    in_mb = inp.stat().st_size / 1e6
    print(f"input: {inp} ({in_mb:.1f} MB); CPUs available: {len(os.sched_getaffinity(0))}; "
          f"load average: {os.getloadavg()[0]:.2f}")
    if not args.skip_cli:
        real_file_check(DATA)
        wall, peak, cpu = run_cli(inp, DATA / "score_out")
        print(f"end to end `reasonlens score`: {wall:.2f} s, {in_mb / wall:.1f} MB/s of JSONL "
              f"({in_mb / cpu:.1f} MB per CPU-s); peak RSS {peak:.0f} MB")
    texts, size, wall, cpu, hits, words, matcher = counting_alone(inp, args.count_max_mb)
    print(f"counting alone (fast path, 3 lexicons + words): {size / 1e6:.1f} MB of text in "
          f"{wall:.2f} s = {size / 1e6 / wall:.1f} MB/s ({size / 1e6 / cpu:.1f} MB per CPU-s); "
          f"{hits} hits, {words} words")
    sample, rsize, rwall, rcpu, rhits = re_loop(texts, matcher, args.re_sample_mb)
    swall, scpu = same_sample(sample, matcher)
    mb = rsize / 1e6
    print(f"python re loop: {mb:.1f} MB in {rwall:.2f} s = {mb / rwall:.2f} MB/s "
          f"({mb / rcpu:.2f} MB per CPU-s; {rhits} hits)")
    print(f"counting the same {mb:.1f} MB right after: {swall:.2f} s = {mb / swall:.1f} MB/s "
          f"({mb / scpu:.1f} MB per CPU-s)")
    print(f"ratio counting / re: {(size / wall) / (rsize / rwall):.1f}x (full counting run vs re "
          f"sample, wall); {rwall / swall:.1f}x (same sample, wall); {rcpu / scpu:.1f}x (same "
          "sample, CPU time)")


if __name__ == "__main__":
    main()
