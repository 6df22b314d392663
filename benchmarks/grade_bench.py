"""Grading throughput: the strict integer path, the Math-Verify path, and the worst case.

Run:  python benchmarks/grade_bench.py [--data ../shared/data] [--n-strict 5000] [--n-mv 2000]

Prints answers/s for
  1. the strict path (AIME-style integer answers in ~300-word responses) through
     reasonlens.grade.grade_values, against a baseline measured in the same run: Math-Verify
     parse + verify in-process on the same responses (what lighteval-style graders do);
  2. the Math-Verify path (MATH-500 expressions; answers differ from the gold as text, so every
     item goes to the worker pool), against the same in-process baseline;
  3. the worst case: pathological answers (9^9^9^9, (10^10)!) bounded by --timeout.
Target: >= 1,000 answers/s on the strict path.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import time
from pathlib import Path

from reasonlens.grade import GradeConfig, grade_values
from reasonlens.grade.verify import shared_pool

FILLER = ("We consider the cases one by one and count carefully, checking each step against the "
          "constraints of the problem before moving on. ")


def _golds(data: Path | None, bench: str, fallback: list[str]) -> list[str]:
    if data is not None and data.is_dir():
        from reasonlens.problems import load_benchmark

        return load_benchmark(bench, data)["gold"].to_list()
    return fallback


def strict_items(n: int, data: Path | None, rng: random.Random):
    golds = _golds(data, "aime_1983_2023", [f"{i:03d}" for i in range(0, 1000, 7)])
    golds = [g.split(" or ")[0] for g in golds]
    styles = ["<think>{f}</think>\nThe final answer is $\\boxed{{{a}}}$.",
              "{f}\nSo the answer is \\boxed{{{a:03d}}}.",
              "{f}\n**Answer:** **{a}**",
              "{f}\nThe final answer is {a}.0",
              "<think>{f} maybe \\boxed{{1}}</think> Therefore \\boxed{{ {a} }}"]
    responses, gold_list = [], []
    for i in range(n):
        g = golds[i % len(golds)]
        a = int(g) if rng.random() < 0.6 else (int(g) + rng.randint(1, 50)) % 1000
        filler = FILLER * rng.randint(10, 30)
        responses.append(styles[i % len(styles)].format(f=filler, a=a))
        gold_list.append(g)
    return responses, gold_list, ["integer"] * n


def mv_items(n: int, data: Path | None, rng: random.Random):
    golds = _golds(data, "math500", ["\\frac{1}{2}", "\\sqrt{2}", "(1,2]", "\\{1,2,3\\}",
                                     "2\\pi", "x^2+1", "\\frac{14}{3}", "3\\sqrt{5}"])
    responses, gold_list = [], []
    for i in range(n):
        g = golds[i % len(golds)]
        other = golds[(i * 7 + 3) % len(golds)] if rng.random() < 0.5 else g
        # "x = ..." keeps right answers from matching as plain text, so all go to Math-Verify
        responses.append(f"{FILLER * 5}\nThus $\\boxed{{y = {other}}}$.")
        gold_list.append(g)
    return responses, gold_list, ["expression"] * n


def inprocess_baseline(responses, golds, limit_s: float) -> tuple[float, int]:
    """Math-Verify parse + verify in this process (signal timeouts, main thread)."""
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    cfg = [LatexExtractionConfig(), ExprExtractionConfig()]
    t0 = time.perf_counter()
    done = 0
    for r, g in zip(responses, golds):
        verify(parse(f"${g}$", extraction_config=cfg), parse(r, extraction_config=cfg))
        done += 1
        if time.perf_counter() - t0 > limit_s:
            break
    return done / (time.perf_counter() - t0), done


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
                    / "data", help="../shared/data (real golds); synthetic golds when absent")
    ap.add_argument("--n-strict", type=int, default=5000)
    ap.add_argument("--n-mv", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--baseline-seconds", type=float, default=20.0,
                    help="time budget for each in-process baseline measurement")
    args = ap.parse_args()
    logging.disable(logging.WARNING)
    rng = random.Random(0)
    data = args.data if args.data.is_dir() else None
    cfg = GradeConfig(timeout=args.timeout, workers=args.workers)
    print(f"cpus={os.cpu_count()} workers={args.workers} timeout={args.timeout}s "
          f"data={'real golds from ' + str(data) if data else 'synthetic golds'}")

    # warm the pool so start-up is not counted as grading time
    shared_pool(cfg.workers, cfg.timeout, cfg.mem_mb).verify_many([])
    grade_values(["\\boxed{x+1}"], ["x+1"], ["expression"], config=cfg)

    r, g, t = strict_items(args.n_strict, data, rng)
    t0 = time.perf_counter()
    res = grade_values(r, g, t, config=cfg)
    strict_s = time.perf_counter() - t0
    strict_rate = len(r) / strict_s
    acc = sum(bool(x.correct) for x in res) / len(res)
    base_rate, base_n = inprocess_baseline(r, g, args.baseline_seconds)
    print(f"strict path : {len(r)} answers in {strict_s:.2f} s = {strict_rate:,.0f} answers/s "
          f"(accuracy {acc:.3f}; reasons {sorted({x.reason for x in res})})")
    print(f"  baseline  : Math-Verify in-process {base_rate:,.1f} answers/s ({base_n} items); "
          f"ratio {strict_rate / base_rate:,.1f}x; target >= 1,000/s: "
          f"{'MET' if strict_rate >= 1000 else 'NOT MET'}")

    r, g, t = mv_items(args.n_mv, data, rng)
    t0 = time.perf_counter()
    res = grade_values(r, g, t, config=cfg)
    mv_s = time.perf_counter() - t0
    mv_rate = len(r) / mv_s
    n_unique = len({(a, b) for a, b in zip(r, g)})
    reasons = {x.reason: 0 for x in res}
    for x in res:
        reasons[x.reason] += 1
    base_rate, base_n = inprocess_baseline(r, g, args.baseline_seconds)
    print(f"Math-Verify : {len(r)} answers ({n_unique} distinct) in {mv_s:.2f} s = "
          f"{mv_rate:,.0f} answers/s; reasons {reasons}")
    print(f"  baseline  : Math-Verify in-process {base_rate:,.1f} answers/s ({base_n} items); "
          f"ratio {mv_rate / base_rate:,.2f}x")

    bad = ["9^{9^{9^{9}}}", "(10^{10})!", "9^9^9^9", "(10^{100})!", "2^{2^{2^{2^{2^{2}}}}}"]
    worst_cfg = GradeConfig(timeout=args.timeout, workers=args.workers)
    items = [f"\\boxed{{{b}}}" for b in bad] * 2
    t0 = time.perf_counter()
    res = grade_values(items, ["5"] * len(items), ["expression"] * len(items), config=worst_cfg)
    worst_s = time.perf_counter() - t0
    print(f"worst case  : {len(items)} pathological answers in {worst_s:.2f} s "
          f"(timeout {args.timeout}s each, {args.workers} workers); reasons "
          f"{[x.reason for x in res]}; bound = ceil(n/workers) * (timeout + worker restart)")


if __name__ == "__main__":
    main()
