"""`reasonlens score` on the same texts in other input layouts, against flat records.

    python benchmarks/layouts_bench.py --mb 50      # quick
    python benchmarks/layouts_bench.py --mb 300     # the figures in benchmarks/scoring.md

The flat input is score_bench's real texts (benchmarks/data/real_<MB>mb.jsonl). From it, in
benchmarks/data/ (gitignored): the same records as vLLM dumps (`outputs[].text`), as OpenAI chat
completions (`choices[].message.content`, `usage`), as chat messages (system, user, assistant
turns; trl's conversational format), as lm-eval-harness samples (`resps.0[]`), and as flat
records with five metadata keys of an RL run (reward 0.0/1.0, advantage, temperature, run
name, KL); the flat records as a parquet file (zstd, as polars writes it; its rates are per MB
of the flat JSONL, the same texts); and the same number of megabytes of short responses
(score_bench.build_responses, ~1 KB each). For each input, in one
run: loading alone through the columnar path and record by record (its ratio), and `reasonlens
score` end to end in a child process, with its ratio to the flat input's (the baseline).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from score_bench import (DATA, build_responses, loading_alone, real_input, reasonlens_cmd,
                         run_child)


def _convert(flat: Path, layout: str) -> Path:
    """The flat file's records in ``layout`` (built once)."""
    out = flat.with_name(f"{flat.stem}_{layout}.jsonl")
    if out.exists():
        return out
    rng = random.Random(0)
    tmp = out.with_suffix(".tmp")
    with flat.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            r = json.loads(line)
            keep = {k: r[k] for k in ("model", "benchmark", "problem_id", "prompt", "gold")}
            if layout == "vllm":
                rec = {"request_id": str(i), **keep, "outputs": [
                    {"index": 0, "text": r["response"], "finish_reason": r["finish_reason"]}]}
            elif layout == "lm-eval":
                rec = {"doc_id": i, "doc": {"problem": r["prompt"], "answer": r["gold"]},
                       "resps": [[r["response"]]], "filtered_resps": [r["gold"]]}
            elif layout == "chat-messages":
                rec = {**{k: keep[k] for k in ("model", "benchmark", "problem_id", "gold")},
                       "messages": [{"role": "system", "content": "Reason step by step."},
                                    {"role": "user", "content": r["prompt"]},
                                    {"role": "assistant", "content": r["response"]}]}
            elif layout == "openai-chat":
                rec = {"id": f"chatcmpl-{i}", "object": "chat.completion", **keep,
                       "choices": [{"index": 0, "finish_reason": r["finish_reason"],
                                    "message": {"role": "assistant", "content": r["response"]}}],
                       "usage": {"prompt_tokens": len(r["prompt"]) // 4,
                                 "completion_tokens": r["completion_tokens"]}}
            else:  # flat records of an RL run, with its per-rollout numbers as metadata
                rec = {**r, "reward": rng.choice([0.0, 1.0]),
                       "advantage": round(rng.gauss(0, 1), 4), "temperature": 0.6,
                       "run": "grpo-seed1", "kl": round(rng.random() / 10, 5)}
            dst.write(json.dumps(rec, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return out


def _parquet(flat: Path) -> Path:
    out = flat.with_suffix(".parquet")
    if not out.exists():
        import polars as pl

        pl.read_ndjson(flat).write_parquet(out.with_suffix(".tmp"))
        out.with_suffix(".tmp").replace(out)
    return out


def _short(mb: int) -> Path:
    out = DATA / f"short_{mb}mb.jsonl"
    if not out.exists():
        build_responses(out, mb * 1000)  # ~1 KB each
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=int, default=50, help="size of the flat input in MB")
    args = ap.parse_args()
    flat = real_input(args.mb)
    inputs = {"flat": flat, "vllm": _convert(flat, "vllm"),
              "openai-chat": _convert(flat, "openai-chat"),
              "chat messages": _convert(flat, "chat-messages"),
              "lm-eval samples": _convert(flat, "lm-eval"),
              "flat + RL metadata": _convert(flat, "rl-metadata"),
              "flat as parquet": _parquet(flat), "short responses": _short(args.mb)}
    base = None
    for name, path in inputs.items():
        mb = (flat if path.suffix == ".parquet" else path).stat().st_size / 1e6
        fast_wall, _, slow_wall, _ = loading_alone(path)
        with tempfile.TemporaryDirectory(dir=DATA) as tmp:
            wall, _rss, _cpu = run_child(reasonlens_cmd("score", str(path), "--out",
                                                        str(Path(tmp) / "o"), "--quiet"))
        rate = mb / wall
        base = base or rate
        print(f"{name}: {mb:.0f} MB; loading {mb / fast_wall:.0f} MB/s (record by record "
              f"{mb / slow_wall:.0f}, ratio {slow_wall / fast_wall:.1f}x); score end to end "
              f"{wall:.2f} s = {rate:.0f} MB/s, ratio to flat {rate / base:.2f}", flush=True)
    print("baseline: the flat input's score MB/s in this run (ratio 1.00)")


if __name__ == "__main__":
    main()
