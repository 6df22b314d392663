"""After training: benchmark traces from a checkpoint through the generation path.

The checkpoint is served behind an OpenAI-compatible API and sampled with
:func:`reasonlens.generate.run_generation`, so the traces have the usual schema (resumable JSONL
with a provenance sidecar) and go straight into ``reasonlens score``, ``judge``, ``grade`` and
``report``. Backends:

- ``url``: a server you started (``vllm serve CKPT --served-model-name NAME``); pass --base-url.
- ``vllm``: start ``vllm serve`` on the checkpoint here, sample, stop it (needs a GPU and vLLM).
- ``hf``: an in-process transformers server (:mod:`training.serve_hf`), for tiny models on CPU.

    python -m training.eval_hook --checkpoint out/sft_tiny --backend hf --benchmark aime24 \\
        --source ../shared/data --limit 2 --max-tokens 32 --out out/eval/sft_tiny.jsonl
    reasonlens score out/eval/sft_tiny.jsonl --out out/score-tiny
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from reasonlens.errors import ConfigError, MissingDependencyError, ReasonlensError


@contextlib.contextmanager
def vllm_server(checkpoint: str, name: str, *, port: int, tensor_parallel: int,
                max_model_len: int | None, log_path: Path, timeout: float = 1200.0
                ) -> Iterator[str]:
    """Run ``vllm serve`` on the checkpoint until the block ends; yields the base URL."""
    import httpx

    exe = shutil.which("vllm")
    if exe is None:
        raise MissingDependencyError("the vllm command is not installed (pip install "
                                     "'reasonlens[gpu]' on a GPU machine), or start a server "
                                     "yourself and use --backend url --base-url URL")
    cmd = [exe, "serve", checkpoint, "--served-model-name", name, "--host", "127.0.0.1",
           "--port", str(port), "--tensor-parallel-size", str(tensor_parallel)]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}/v1"
        try:
            deadline = time.time() + timeout
            while True:
                if proc.poll() is not None:
                    raise ReasonlensError(f"vllm serve exited with {proc.returncode}; see "
                                          f"{log_path}")
                try:
                    if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.time() > deadline:
                    raise ReasonlensError(f"vllm serve did not answer in {timeout:.0f}s; see "
                                          f"{log_path}")
                time.sleep(2)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextlib.contextmanager
def hf_server(checkpoint: str, name: str) -> Iterator[str]:
    from training.serve_hf import HFChatModel, HFServer

    with HFServer(HFChatModel(checkpoint, name)) as server:
        yield server.base_url


def evaluate(checkpoint: str | None, problems, out: Path, *, backend: str, name: str,
             sampling, base_url: str | None = None, concurrency: int = 1, port: int = 8000,
             tensor_parallel: int = 1, max_model_len: int | None = None,
             progress: bool = True) -> dict[str, Any]:
    """Serve (per ``backend``), sample ``problems`` into ``out`` and check the traces load."""
    from reasonlens.endpoint import EndpointConfig
    from reasonlens.generate import run_generation
    from reasonlens.provenance import weights_fingerprint
    from reasonlens.traces import load_traces

    if backend == "url":
        if not base_url:
            raise ConfigError("--backend url needs --base-url")
        ctx: contextlib.AbstractContextManager = contextlib.nullcontext(base_url)
    elif checkpoint is None:
        raise ConfigError(f"--backend {backend} needs --checkpoint")
    elif backend == "hf":
        ctx = hf_server(checkpoint, name)
    elif backend == "vllm":
        ctx = vllm_server(checkpoint, name, port=port, tensor_parallel=tensor_parallel,
                          max_model_len=max_model_len,
                          log_path=out.with_name(out.name + ".vllm.log"))
    else:
        raise ConfigError(f"unknown backend {backend!r}; valid: hf, vllm, url")
    with ctx as url:
        endpoint = EndpointConfig(base_urls=(url,), model=name, concurrency=concurrency,
                                  max_retries=2 if backend == "hf" else 6)
        summary = run_generation(problems, endpoint, sampling, out, model_name=name,
                                 condition={"name": "eval", "checkpoint": checkpoint,
                                            "backend": backend,
                                            "weights": weights_fingerprint(checkpoint)
                                            if checkpoint else None}, progress=progress)
    traces = load_traces(str(out))
    summary["n_traces_loaded"] = traces.height
    summary["finish_reasons"] = dict(traces.group_by("finish_reason").len().rows())
    return summary


@click.command(help="Generate benchmark traces from a trained checkpoint through the reasonlens "
                    "generation path (OpenAI-compatible server + run_generation), ready for "
                    "`reasonlens score`, `judge`, `grade` and `report`.")
@click.option("--checkpoint", type=click.Path(exists=True, file_okay=False),
              help="Model directory written by training.sft / training.grpo.")
@click.option("--backend", type=click.Choice(["hf", "vllm", "url"]), default="hf",
              show_default=True, help="hf: in-process transformers server (tiny models, CPU); "
                                      "vllm: start `vllm serve` here (GPU); url: a running "
                                      "server at --base-url.")
@click.option("--base-url", help="With --backend url: the server's /v1 base URL.")
@click.option("--model-name", help="Model name in the traces (default: checkpoint folder name).")
@click.option("--benchmark", "benchmarks", multiple=True, default=("aime24",), show_default=True,
              help="Registered benchmark(s) (repeatable).")
@click.option("--source", help="Local file or data root for the benchmarks (default: the hub).")
@click.option("--limit", type=int, help="Only the first N problems per benchmark.")
@click.option("-n", "n", default=1, show_default=True, help="Samples per problem.")
@click.option("--temperature", default=0.6, show_default=True, help="Sampling temperature.")
@click.option("--top-p", default=0.95, show_default=True, help="Nucleus sampling.")
@click.option("--max-tokens", default=32768, show_default=True, help="New-token limit.")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed.")
@click.option("--template", default="boxed_cot", show_default=True, help="Prompt template.")
@click.option("--concurrency", default=1, show_default=True, help="Requests in flight.")
@click.option("--port", default=8000, show_default=True, help="Port for --backend vllm.")
@click.option("--tensor-parallel", default=1, show_default=True,
              help="vLLM tensor parallel size (32B: 2-4 on 80 GB GPUs).")
@click.option("--max-model-len", type=int, help="vLLM context length.")
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Trace JSONL to write (resumed when it exists).")
def main(checkpoint, backend, base_url, model_name, benchmarks, source, limit, n, temperature,
         top_p, max_tokens, seed, template, concurrency, port, tensor_parallel, max_model_len,
         out):
    import polars as pl

    from reasonlens.problems import load_benchmark
    from reasonlens.generate import SamplingConfig

    try:
        name = model_name or (Path(checkpoint).name if checkpoint else None)
        if not name:
            raise ConfigError("--model-name is required without --checkpoint")
        problems = pl.concat([load_benchmark(b, source, limit=limit) for b in benchmarks],
                             how="vertical")
        sampling = SamplingConfig(temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                  n=n, seed=seed, template=template)
        outp = Path(out)
        summary = evaluate(checkpoint, problems, outp, backend=backend, name=name,
                           sampling=sampling, base_url=base_url, concurrency=concurrency,
                           port=port, tensor_parallel=tensor_parallel,
                           max_model_len=max_model_len)
    except ReasonlensError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 1))
    click.echo(f"{summary['n_traces_loaded']} traces in {outp} (written {summary['written']}, "
               f"failed {summary['failed']}, finish reasons {summary['finish_reasons']})")
    click.echo(f"next: reasonlens score {outp} --out {outp.with_suffix('')}-score; "
               f"reasonlens grade {outp}; reasonlens judge {outp}; reasonlens report ...")
    if summary["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
