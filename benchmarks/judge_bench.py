"""Judge-client throughput vs a bare concurrent httpx client, and the cached-rerun speed-up.

Both clients send the SAME chat-completion bodies (the judge's own requests, built by
reasonlens.judge.request) to the same OpenAI-compatible server with the same concurrency; passes
alternate (bare, judge, bare, judge, ...) so neither side profits from a warmer server, and the
best pass of each is compared. The judge pass is the full path: chunking, request building, cache
writes (one commit per judgment), parsing and frame building. The cached rerun then repeats the
judge pass against the filled cache.

Targets (issue 4): throughput ratio judge/bare >= 0.95; cached rerun >= 1000x faster.

    python benchmarks/judge_bench.py                 # starts SmolLM2-135M (llama-cpp) itself
    python benchmarks/judge_bench.py --base-url http://127.0.0.1:8000/v1 --model NAME
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx
import polars as pl

from reasonlens.devtools.rubrics import write_doubt_rubric
from reasonlens.endpoint import EndpointConfig
from reasonlens.judge.chunking import chunk_text, split_sentences
from reasonlens.judge.config import JudgeConfig
from reasonlens.judge.request import (RequestParams, build_judge_request,
                                      build_messages)
from reasonlens.judge.run import _plan, run_judge


def make_traces(n: int) -> pl.DataFrame:
    return pl.DataFrame({
        "id": [f"t{i}" for i in range(n)], "model": ["m"] * n, "benchmark": ["b"] * n,
        "problem_id": [str(i) for i in range(n)], "sample": [0] * n,
        "prompt": [f"What is {i} + 2?" for i in range(n)],
        "response": [f"We add {i} and 2. That gives {i + 2}. Wait, that seems wrong. "
                     f"Let me check: {i} + 2 = {i + 2}. So it is {i + 2}." for i in range(n)]})


def bodies_for(traces: pl.DataFrame, cfg: JudgeConfig, model: str) -> list[dict]:
    _, rubrics, template = _plan(cfg)   # the judge's own rubrics and template
    out = []
    for text, prompt in zip(traces["response"], traces["prompt"]):
        sents = split_sentences(text)
        chunks = chunk_text(text, cfg.chunking)
        for r in rubrics:
            for ch in chunks:
                msgs = build_messages(r, template, ch, sents, n_chunks=len(chunks),
                                      problem=prompt)
                out.append(build_judge_request(model, msgs, cfg.params, cfg.structured))
    return out


async def bare(base_url: str, bodies: list[dict], concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(timeout=600, limits=limits) as client:
        async def one(b):
            async with sem:
                r = await client.post(base_url + "/chat/completions", json=b)
                r.raise_for_status()
                r.json()
        t0 = time.perf_counter()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", help="server to use (default: start SmolLM2-135M locally)")
    ap.add_argument("--model", default=None)
    ap.add_argument("-n", type=int, default=24, help="traces (one request each)")
    ap.add_argument("--passes", type=int, default=2, help="alternating passes per client")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    args = ap.parse_args()

    server = None
    if args.base_url is None:
        from reasonlens.devtools.servers import start_llama_server
        server = start_llama_server(Path(tempfile.mkdtemp(prefix="judge-bench-")))
        base_url, model = server.base_url, server.model
    else:
        base_url, model = args.base_url.rstrip("/"), args.model
    try:
        tmp = Path(tempfile.mkdtemp(prefix="judge-bench-"))
        rubric = write_doubt_rubric(tmp, "bench_doubt")
        traces = make_traces(args.n)
        endpoint = EndpointConfig(base_urls=(base_url,), model=model,
                                  concurrency=args.concurrency)
        cfg = JudgeConfig(behaviours=(), rubric_paths=(str(rubric),), structured="json_object",
                          params=RequestParams(max_tokens=args.max_tokens))
        bodies = bodies_for(traces, cfg, model)
        asyncio.run(bare(base_url, bodies[:2], 1))  # warm-up (model load, prompt cache)
        bare_times, judge_times = [], []
        for p in range(args.passes):
            bare_times.append(asyncio.run(bare(base_url, bodies, args.concurrency)))
            c = replace(cfg, cache_path=str(tmp / f"cache{p}.sqlite"))
            t0 = time.perf_counter()
            run = run_judge(traces, endpoint, c)
            judge_times.append(time.perf_counter() - t0)
            assert run.usage["requests"] == len(bodies), run.usage
        # cached rerun of the last judge pass (the whole run_judge call, cache full)
        cached = []
        for _ in range(5):
            t0 = time.perf_counter()
            run = run_judge(traces, endpoint, c)
            cached.append(time.perf_counter() - t0)
            assert run.usage["requests"] == 0 and run.cache["hits"] == len(bodies)
        b, j, cch = min(bare_times), min(judge_times), min(cached)
        n = len(bodies)
        print(f"server: {base_url} model={model} requests/pass={n} "
              f"concurrency={args.concurrency} max_tokens={args.max_tokens}")
        print(f"bare httpx client : best {b:.3f}s  ({n / b:.2f} req/s)  passes "
              f"{[round(x, 3) for x in bare_times]}")
        print(f"reasonlens judge  : best {j:.3f}s  ({n / j:.2f} req/s)  passes "
              f"{[round(x, 3) for x in judge_times]}")
        print(f"throughput ratio judge/bare = {b / j:.3f}  (target >= 0.95)")
        print(f"cached rerun      : best {cch * 1000:.2f} ms  ({n / cch:.0f} judgments/s)")
        print(f"cached speed-up   = {j / cch:.0f}x  (target >= 1000x)")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
