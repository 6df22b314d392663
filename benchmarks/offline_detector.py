"""Offline behaviour detector throughput on real trace text, against `score` in the same run.

    python benchmarks/offline_detector.py [--mb 10] [--repeats 3] [--out FILE.md]

Input: real DeepSeek-R1 traces and MATH-500 solutions from ../shared/data, repeated to --mb MB of
JSONL (benchmarks/score_bench.real_input, shared with the scoring benchmark), loaded once. Timed,
best of --repeats, on the loaded frame (loading excluded from all three):

- the detector: `offline.detect_frames` (sentence splitting, features, scores, thresholds, the
  judgments and instances frames), i.e. `judge` / `score --behaviours` without I/O;
- its sentence splitter alone (`sentences.split_many`);
- baseline: the `score` stage's lexicon counting (`lexcount.engine.score_batch`, default
  lexicons) on the same frame.

Target (issue 10): >= 10 MB/s of trace text for the detector. Prints MB/s and the ratio
detector / score; --out writes the table as Markdown.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=10, help="MB of JSONL trace input")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, help="write the results table (Markdown) here")
    args = ap.parse_args(argv)

    from reasonlens.judge import offline
    from reasonlens.judge.sentences import split_many
    from reasonlens.lexcount.engine import ScoreConfig, score_batch
    from reasonlens.traces.load import load_traces
    from score_bench import real_input, real_texts

    path = real_input(args.mb)
    traces = load_traces(str(path))
    text_mb = traces.get_column("response").str.len_bytes().sum() / 1e6
    cfg = ScoreConfig()
    matcher = cfg.matcher()
    offline.detect_frames(traces.head(4))  # build the default detector once (~0.1 s)
    t_fit = _best(lambda: (offline._default.cache_clear(), offline.load(offline.OfflineConfig())),
                  1)
    t_det = _best(lambda: offline.detect_frames(traces), args.repeats)
    t_split = _best(lambda: split_many(traces.get_column("response"), paragraphs=False),
                    args.repeats)
    t_score = _best(lambda: score_batch(traces, matcher, cfg), args.repeats)
    n_sent = split_many(traces.get_column("response"), paragraphs=False).height
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = [("offline detector (`offline.detect_frames`)", t_det),
            ("  of which: sentence splitting (`split_many`)", t_split),
            ("baseline: `score` lexicon counting (`score_batch`)", t_score)]
    lines = [f"input: {real_texts()[0]}, {traces.height:,} responses, {text_mb:.1f} MB of "
             f"response text, {n_sent:,} sentences; {os.cpu_count()} CPUs, load average "
             f"{load:.1f}; best of {args.repeats}", "",
             "| what | seconds | MB/s of trace text |", "|---|---|---|"]
    lines += [f"| {name} | {t:.2f} | {text_mb / t:.1f} |" for name, t in rows]
    lines += ["", f"detector / score time ratio: **{t_det / t_score:.2f}x**; default detector "
                  f"built in {t_fit:.2f} s; target >= 10 MB/s: "
                  f"**{'met' if text_mb / t_det >= 10 else 'MISSED'}** "
                  f"({text_mb / t_det:.1f} MB/s)"]
    print("\n".join(lines))
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
