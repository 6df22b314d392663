"""Offline behaviour detector speed: training at first use, and detection throughput.

    python benchmarks/offline_detector.py [--copies 20] [--repeats 3]

Goals: training on the gold train split takes well under a second; detection costs at most a few
times the bare baseline measured in the same run (sentence segmentation plus the cue regexes,
no classifier), so --behaviours stays cheap next to lexicon scoring. Prints the figures and the
ratio detect / baseline. Best of --repeats runs.
"""

from __future__ import annotations

import argparse
import sys
import time

import polars as pl

from reasonlens.judge import offline
from reasonlens.judge.gold import load_gold
from reasonlens.schema import BEHAVIOURS
from reasonlens.judge.sentences import split_sentences


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=20, help="copies of the 70 gold responses")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    train = load_gold(split="train")
    texts = [r["response"] for r in load_gold()] * args.copies
    frame = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "response": texts})
    n_sent = sum(len(split_sentences(t)) for t in texts[:70]) * args.copies
    words = sum(len(t.split()) for t in texts)

    t_fit = _best(lambda: offline.fit_models(train, C=offline.OfflineConfig().C), args.repeats)
    offline.detect(frame.head(1))  # warm the in-process model cache

    def baseline():
        for t in texts:
            for s in split_sentences(t):
                for b in BEHAVIOURS:
                    offline._ANY_CUE[b].search(s.text)

    t_base = _best(baseline, args.repeats)
    t_detect = _best(lambda: offline.detect(frame), args.repeats)
    print(f"train split: {len(train)} responses; fit both classifiers: {t_fit * 1000:.0f} ms")
    print(f"detect: {len(texts)} responses, {n_sent} sentences, {words} words")
    print(f"  baseline (segment + cue regexes): {t_base:.3f} s "
          f"({len(texts) / t_base:,.0f} responses/s)")
    print(f"  offline.detect (full):            {t_detect:.3f} s "
          f"({len(texts) / t_detect:,.0f} responses/s, {words / t_detect / 1e6:.2f} M words/s)")
    print(f"  ratio detect / baseline: {t_detect / t_base:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
