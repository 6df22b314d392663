"""``reasonlens generate``: sample a model on a benchmark into a resumable trace file."""

from __future__ import annotations

from typing import Any

import click


def _parse_bias(items: tuple[str, ...]) -> dict[int, float] | None:
    from reasonlens.errors import ConfigError

    out: dict[int, float] = {}
    for it in items:
        try:
            k, v = it.split("=", 1)
            out[int(k)] = float(v)
        except ValueError as exc:
            raise ConfigError(f"--logit-bias takes TOKEN_ID=BIAS, got {it!r}") from exc
    return out or None


@click.command("generate")
@click.option("--benchmark", "benchmark", required=True,
              help="Registered benchmark to sample (see `reasonlens benchmarks`).")
@click.option("--benchmark-source", type=click.Path(exists=True),
              help="Local file or directory with the benchmark (default: its hub dataset).")
@click.option("--model", required=True,
              help="Model name sent to the server (for --backend vllm: a local path or hub id).")
@click.option("--model-name", help="Name recorded in the traces (default: --model).")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1 (repeatable: "
                   "requests are spread over all of them). The key is read from the variable "
                   "named by --api-key-env.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key (never pass the key itself).")
@click.option("-n", "n", type=click.IntRange(1), default=1, show_default=True,
              help="Samples per problem.")
@click.option("--temperature", type=click.FloatRange(0, 2), default=0.6, show_default=True,
              help="Sampling temperature.")
@click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), default=0.95,
              show_default=True, help="Nucleus sampling top_p.")
@click.option("--max-tokens", type=click.IntRange(1), default=32768, show_default=True,
              help="Maximum new tokens per sample.")
@click.option("--seed", type=int, default=None,
              help="Base seed; sample s of each problem uses seed + s (distinct seeds).")
@click.option("--stop", "stop", multiple=True, help="Stop string (repeatable).")
@click.option("--logit-bias", "logit_bias", multiple=True, metavar="ID=BIAS",
              help="Token logit bias in [-100, 100] (repeatable).")
@click.option("--template", default=None, metavar="NAME|PATH",
              help="Prompt template (prompts/templates; default: the benchmark's, boxed_cot or "
                   "gpqa_letter; r1_think forces the response to start with <think>).")
@click.option("--n-mode", type=click.Choice(["auto", "separate", "server"]), default="auto",
              show_default=True,
              help="How to get n samples: probe whether the server honours n (auto), always "
                   "one request per sample (separate), or ask for n choices (server).")
@click.option("--out", "-o", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Output JSONL. An existing file is resumed: finished samples are skipped.")
@click.option("--limit", type=click.IntRange(1), default=None,
              help="Only the first N problems.")
@click.option("--concurrency", type=click.IntRange(1), default=8, show_default=True,
              help="Requests in flight at once, over all base URLs.")
@click.option("--timeout", "request_timeout", type=click.FloatRange(min=1), default=600.0,
              show_default=True, help="Seconds per HTTP request before it is retried.")
@click.option("--max-retries", type=click.IntRange(0), default=6, show_default=True,
              help="Retries per request on 429/5xx/timeouts/bad bodies (exponential backoff "
                   "with jitter, Retry-After honoured).")
@click.option("--backend", type=click.Choice(["openai", "vllm"]), default="openai",
              show_default=True,
              help="openai: any OpenAI-compatible server at --base-url; vllm: vLLM's offline "
                   "engine in this process (needs a GPU and the gpu extra).")
@click.option("--tensor-parallel-size", type=click.IntRange(1), default=1, show_default=True,
              help="vLLM offline engine: GPUs per model.")
@click.option("--max-model-len", type=click.IntRange(1), default=None,
              help="vLLM offline engine: context length.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def command(benchmark: str, benchmark_source: str | None, model: str, model_name: str | None,
            base_urls: tuple[str, ...], api_key_env: str, n: int, temperature: float,
            top_p: float, max_tokens: int, seed: int | None, stop: tuple[str, ...],
            logit_bias: tuple[str, ...], template: str | None, n_mode: str, out_path: str,
            limit: int | None, concurrency: int, request_timeout: float, max_retries: int,
            backend: str, tensor_parallel_size: int, max_model_len: int | None,
            quiet: bool, **_: Any) -> None:
    """Sample a model on a benchmark and write traces (JSONL) that survive interruption.

    \b
    Each line is one sample: id, model, benchmark, problem_id, sample, prompt,
    response, gold, answer_type, finish_reason, prompt_tokens,
    completion_tokens, condition, plus template/seed/latency. Records are
    appended and fsynced one by one; rerunning the same command after a crash
    or kill -9 repairs a torn last line and only generates what is missing.
    Settings go to OUT.provenance.json; a rerun with other settings is refused.
    Example (the paper's settings):
      reasonlens generate --benchmark aime24 --model my-model \\
        --base-url http://localhost:8000/v1 -n 16 --temperature 0.6 \\
        --top-p 0.95 --max-tokens 32768 --out runs/aime24.jsonl
    """
    from reasonlens.problems import get_spec, load_benchmark
    from reasonlens.errors import ConfigError, EndpointError
    from reasonlens.generate import SamplingConfig

    spec = get_spec(benchmark)
    sampling = SamplingConfig(temperature=temperature, top_p=top_p, max_tokens=max_tokens, n=n,
                              seed=seed, stop=tuple(stop) or None,
                              logit_bias=_parse_bias(logit_bias),
                              template=template or spec.template, n_mode=n_mode)
    problems = load_benchmark(spec.name, benchmark_source, limit=limit)
    if backend == "vllm":
        if base_urls:
            raise ConfigError("--backend vllm runs the model in this process; drop --base-url")
        from reasonlens.generate import run_generation_vllm

        engine = {"tensor_parallel_size": tensor_parallel_size}
        if max_model_len:
            engine["max_model_len"] = max_model_len
        summary = run_generation_vllm(problems, model, sampling, out_path,
                                      model_name=model_name, engine_kwargs=engine,
                                      progress=not quiet)
    else:
        if not base_urls:
            raise ConfigError("--base-url is required with --backend openai (e.g. "
                              "http://localhost:8000/v1)")
        from reasonlens.endpoint import EndpointConfig
        from reasonlens.generate import run_generation

        endpoint = EndpointConfig(base_urls=tuple(u.rstrip("/") for u in base_urls),
                                  model=model, api_key_env=api_key_env,
                                  timeout=request_timeout, max_retries=max_retries,
                                  concurrency=concurrency)
        summary = run_generation(problems, endpoint, sampling, out_path, model_name=model_name,
                                 progress=not quiet)
    click.echo(f"{summary['written']} sample(s) written, {summary['skipped_existing']} already "
               f"done, {summary['failed']} failed -> {summary['output']} "
               f"({summary['seconds']:.1f} s, {summary.get('tokens_per_s') or 0:.1f} tok/s)",
               err=True)
    if summary.get("repaired_bytes"):
        click.echo(f"Repaired a torn last line ({summary['repaired_bytes']} bytes cut) left by "
                   "an interrupted run", err=True)
    if summary["failed"]:
        for e in summary["errors"][:3]:
            click.echo(f"  {e}", err=True)
        raise EndpointError(f"{summary['failed']} sample(s) failed after retries; rerun the "
                            "same command to retry only those")
