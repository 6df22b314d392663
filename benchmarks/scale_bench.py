"""The Ray Data score path against one process, on a generated file: same outputs, and speed.

    python benchmarks/scale_bench.py --mb 50 --num-cpus 2

Builds (once) benchmarks/data/real_<MB>mb.jsonl from real texts (see score_bench.py), scores it
with `reasonlens.lexcount.run.run_score` (one process) and with
`reasonlens.scale.ray_run.run_score_ray` (a local Ray with --num-cpus CPUs), and checks that
responses, terms (sorted by key) and the summary's per-model figures are identical. Prints
both wall times and the ratio ray / one process (the baseline, measured in the same run; Ray's
start-up is included, and on one 2-core machine it cannot win: the figure shows its overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TERM_KEYS = ["id", "category", "term", "part"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=50)
    ap.add_argument("--num-cpus", type=int, default=2)
    ap.add_argument("--batch-rows", type=int, default=4096)
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()

    import polars as pl

    from reasonlens.lexcount.engine import ScoreConfig
    from reasonlens.lexcount.run import run_score
    from reasonlens.scale.ray_run import RayConfig, run_score_ray
    from score_bench import real_input, real_texts

    inp = real_input(args.mb)
    mb = inp.stat().st_size / 1e6
    print(f"input: {inp} ({mb:.1f} MB; {real_texts()[0]}); load average "
          f"{os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        one, ray_out = Path(tmp) / "one", Path(tmp) / "ray"
        t0 = time.perf_counter()
        single = run_score([str(inp)], one, ScoreConfig())
        t_one = time.perf_counter() - t0
        t0 = time.perf_counter()
        dist = run_score_ray([str(inp)], ray_out, ScoreConfig(),
                             RayConfig(num_cpus=args.num_cpus, batch_rows=args.batch_rows))
        t_ray = time.perf_counter() - t0
        r1 = pl.read_parquet(one / "responses.parquet").sort("id")
        r2 = pl.read_parquet(sorted((ray_out / "responses").glob("*.parquet"))).sort("id")
        k1 = pl.read_parquet(one / "terms.parquet").sort(TERM_KEYS)
        k2 = pl.read_parquet(sorted((ray_out / "terms").glob("*.parquet"))).sort(TERM_KEYS)
        same = {"responses": r1.equals(r2), "terms": k1.equals(k2),
                "summary": single.summary["models"] == dist.summary["models"]}
    print(f"one process: {single.n_responses} responses in {t_one:.1f} s ({mb / t_one:.1f} MB/s)")
    print(f"ray ({args.num_cpus} CPUs, start-up included): {dist.n_responses} responses in "
          f"{t_ray:.1f} s ({mb / t_ray:.1f} MB/s); ratio ray / one process = {t_one / t_ray:.2f}")
    print(f"identical outputs: responses {same['responses']}, terms {same['terms']}, "
          f"summary {same['summary']}")
    if args.json:
        args.json.write_text(json.dumps({"input_mb": mb, "one_s": t_one, "ray_s": t_ray,
                                         "ratio": t_one / t_ray, **same}, indent=1))
    if not all(same.values()):
        raise SystemExit("the Ray path differs from one process")


if __name__ == "__main__":
    main()
