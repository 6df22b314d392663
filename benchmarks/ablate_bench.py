"""Generation throughput with vs without a ban list, on the same backend, in the same run.

Backends: transformers on CPU (the ban is a logits processor: single ids masked every step,
multi-token sequences checked against the generated tail) and an OpenAI-compatible server
(llama-cpp-python serving SmolLM2-135M; the ban is ``logit_bias``). Runs alternate unbanned and
banned (A B A B ...) so that load drift on a shared machine hits both arms alike; the figure is
the median tokens/s per arm and the ratio banned / unbanned (target >= 0.9), both per
wall-clock second and per CPU second of the generating process (the CPU figure is steadier on a
busy shared machine; for a server it is read from /proc and needs a server this script starts).

    python benchmarks/ablate_bench.py --backend both --tokens 48 --repeats 5

Defaults ban the whole ``anthropomorphic`` and ``connectors`` lexicons (the largest shipped ban:
several hundred ids and sequences). ``--model-path`` defaults to the test suite's SmolLM2
conversion; ``--base-url`` defaults to starting a local llama-cpp-python server.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


PROMPT = ("A train travels 120 km in 1.5 hours and then 80 km in 1 hour. What is its average "
          "speed over the whole trip? Please reason step by step, and put your final answer "
          "within \\boxed{}.")


def _bans(tok, banlist: str):
    from reasonlens.ablate.bans import build_banset
    from reasonlens.ablate.presets import resolve_categories

    cats, _ = resolve_categories(banlist=banlist)
    return build_banset(cats, tok, name="all")


def bench_hf(model_path: str, banlist: str, tokens: int, repeats: int, threads: int) -> dict:
    import torch
    from transformers import LogitsProcessorList

    from reasonlens.ablate.hf_backend import (BanLogitsProcessor, _prompt_ids, load_model,
                                              set_threads)
    from reasonlens.ablate.tokenizers import HFTokenizer

    set_threads(threads)
    bs = _bans(HFTokenizer(model_path), banlist)
    model, tok = load_model(model_path)
    ids = torch.tensor([_prompt_ids(tok, [{"role": "user", "content": PROMPT}])])
    proc = BanLogitsProcessor(bs.single_ids, bs.sequences)

    def one(banned: bool) -> tuple[float, float]:
        kw = {"logits_processor": LogitsProcessorList([proc])} if banned else {}
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                 max_new_tokens=tokens, min_new_tokens=tokens,
                                 pad_token_id=tok.eos_token_id, temperature=None, top_p=None,
                                 top_k=None, **kw)
        n = out.shape[1] - ids.shape[1]
        return n / (time.perf_counter() - t0), n / (time.process_time() - c0)

    return {"backend": "transformers (CPU)", "n_single": len(bs.single_ids),
            "n_sequences": len(bs.sequences), **_alternate(one, repeats)}


def _alternate(one, repeats: int) -> dict:
    one(False)  # warm-up
    runs = {"none": [], "banned": []}
    cpu = {"none": [], "banned": []}
    for _ in range(repeats):
        for arm, banned in (("none", False), ("banned", True)):
            w, c = one(banned)
            runs[arm].append(w)
            if c is not None:
                cpu[arm].append(c)
    return {"runs": runs, "cpu_runs": cpu if cpu["none"] else None}


def _proc_cpu(pid: int) -> float:
    import os

    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def bench_server(base_url: str | None, model: str, model_path: str, banlist: str, tokens: int,
                 repeats: int) -> dict:
    import httpx

    from reasonlens.ablate.tokenizers import HFTokenizer

    server = None
    if base_url is None:
        from reasonlens.devtools.servers import start_llama_server

        server = start_llama_server(Path("/tmp/reasonlens-ablate-bench"))
        base_url, model = server.base_url, server.model
    try:
        bs = _bans(HFTokenizer(model_path), banlist)
        bias = {str(k): v for k, v in bs.logit_bias(sequences_supported=False).items()}

        pid = server.proc.pid if server is not None else None

        def one(banned: bool) -> tuple[float, float | None]:
            body = {"model": model, "messages": [{"role": "user", "content": PROMPT}],
                    "temperature": 0.0, "max_tokens": tokens, "seed": 0}
            if banned:
                body["logit_bias"] = bias
            t0 = time.perf_counter()
            c0 = _proc_cpu(pid) if pid else None
            r = httpx.post(base_url + "/chat/completions", json=body, timeout=600).json()
            n = r["usage"]["completion_tokens"]
            wall = n / (time.perf_counter() - t0)
            return wall, (n / max(_proc_cpu(pid) - c0, 1e-9)) if pid else None

        return {"backend": "llama-cpp-python server (logit_bias)", "n_entries": len(bias),
                **_alternate(one, repeats)}
    finally:
        if server is not None:
            server.stop()


def report(res: dict) -> None:
    extra = {k: v for k, v in res.items() if k not in ("backend", "runs", "cpu_runs")}
    print(f"{res['backend']}: {extra}")
    for label, runs in (("wall", res["runs"]), ("cpu", res.get("cpu_runs"))):
        if not runs:
            continue
        med = {k: statistics.median(v) for k, v in runs.items()}
        for k, v in runs.items():
            print(f"  {label:4s} {k:7s} tokens/s per run: {', '.join(f'{x:.2f}' for x in v)}"
                  f"  median {med[k]:.2f}")
        ratio = med["banned"] / med["none"]
        print(f"  {label:4s} ratio banned/unbanned = {ratio:.3f}  (target >= 0.9: "
              f"{'met' if ratio >= 0.9 else 'NOT met'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=["hf", "server", "both"], default="both")
    ap.add_argument("--model-path", help="transformers SmolLM2 dir (default: test cache)")
    ap.add_argument("--base-url", help="OpenAI-compatible server (default: start one)")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--banlist", default="lexicons_full")
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    model_path = a.model_path
    if model_path is None:
        from reasonlens.devtools.models import smollm2_hf_dir

        model_path = str(smollm2_hf_dir())
    print(f"ban list: {a.banlist}; {a.tokens} new tokens per run; {a.repeats} runs per arm, "
          "alternating")
    if a.backend in ("hf", "both"):
        report(bench_hf(model_path, a.banlist, a.tokens, a.repeats, a.threads))
    if a.backend in ("server", "both"):
        report(bench_server(a.base_url, a.model, model_path, a.banlist, a.tokens, a.repeats))


if __name__ == "__main__":
    main()
