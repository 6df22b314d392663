"""``reasonlens judge``: count Multi-Perspective Thinking and Metacognitive Awareness per
response, with an LLM judge or (without --base-url) the offline detector."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from reasonlens.cli._common import load_options, trace_input_options


def _echo_err(msg: str) -> None:
    click.echo(msg, err=True)


@click.command(name="judge")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output directory: judgments.parquet, instances.parquet, summary.json.")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (repeatable: "
                   "requests are spread over all of them). Without it the offline detector "
                   "runs (approximate, no API).")
@click.option("--model", help="Judge model name. Default: the only model the server lists.")
@click.option("--taxonomy", metavar="NAME|PATH",
              help="Behaviour taxonomy (registered: paper, schoenfeld, gandhi; or a TOML file). "
                   "Default: paper (multi_perspective, metacognitive), or the --detector's.")
@click.option("--mode", type=click.Choice(["count", "sentences"]), default="count",
              show_default=True,
              help="LLM judge: count = one call per behaviour and chunk counting instances with "
                   "quoted evidence; sentences = one call per chunk labelling every sentence "
                   "with the taxonomy's labels.")
@click.option("--unit", type=click.Choice(["episodes", "sentences"]),
              help="Count unit: episodes (maximal runs of consecutive labelled sentences; the "
                   "default) or labelled sentences. Recorded in every output.")
@click.option("--detector", "detector_path", type=click.Path(dir_okay=False),
              help="Offline detector file from `reasonlens detector train` (default: the "
                   "shipped one). Not with --base-url.")
@click.option("--allow-failures", is_flag=True,
              help="Exit 0 even when some judgments failed (their counts stay missing).")
@click.option("--behaviour", "behaviours", multiple=True, metavar="NAME",
              help="Behaviour to judge: a label of the taxonomy or a registered rubric "
                   "(repeatable). Default: every label. The offline detector honours it too.")
@click.option("--rubric", "rubric_paths", multiple=True, type=click.Path(dir_okay=False),
              help="A rubric TOML file (repeatable); replaces the named rubric of the same "
                   "behaviour.")
@click.option("--template",
              help="Judge prompt template (registered name or TOML path). Default: "
                   "judge_behaviour (--mode count) or judge_sentences (--mode sentences).")
@click.option("--text-field", type=click.Choice(["response", "reasoning"]), default="response",
              show_default=True, help="Which text to judge: the whole response or only the "
                                      "reasoning part.")
@click.option("--no-problem", is_flag=True,
              help="Do not show the judge the problem statement (the trace's prompt).")
@click.option("--concurrency", type=int, default=8, show_default=True,
              help="Requests in flight at once (over all base URLs).")
@click.option("--max-chunk-tokens", type=int, default=6000, show_default=True,
              help="Longest piece of trace one request holds; longer traces are split by "
                   "paragraphs with overlap.")
@click.option("--overlap", type=int, default=300, show_default=True,
              help="Tokens of whole sentences shared by consecutive chunks.")
@click.option("--chars-per-token", type=float, default=3.5, show_default=True,
              help="Token estimate used for chunking when no --tokenizer is given.")
@click.option("--tokenizer", help="Count chunk tokens with this transformers tokenizer "
                                  "(name or directory; needs reasonlens[train]).")
@click.option("--temperature", type=float, default=0.0, show_default=True,
              help="Sampling temperature of the judge.")
@click.option("--top-p", type=float, help="Nucleus sampling of the judge (server default).")
@click.option("--seed", type=int, help="Sampling seed sent to the server; a seeded sampled "
                                       "request may be served from the cache.")
@click.option("--max-tokens", type=int, default=1024, show_default=True,
              help="Longest judge reply.")
@click.option("--structured", type=click.Choice(["auto", "json_schema", "json_object", "none"]),
              default="auto", show_default=True,
              help="Structured output: JSON schema, JSON object, or none. auto tries the schema "
                   "and falls back once to JSON object when the server rejects it.")
@click.option("--cache", "cache_path", type=click.Path(dir_okay=False),
              help="Cache file (default: $REASONLENS_HOME/judge-cache.sqlite, "
                   "REASONLENS_HOME=~/.cache/reasonlens).")
@click.option("--no-cache", is_flag=True, help="Neither read nor write the cache (no resume).")
@click.option("--cache-sampled", is_flag=True,
              help="Serve sampled requests (temperature > 0 without --seed) from the cache too.")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key (the key itself is never an "
                   "option and never written anywhere).")
@click.option("--price-in", type=float, default=0.0, show_default=True,
              help="US dollars per million prompt tokens, for the cost report.")
@click.option("--price-out", type=float, default=0.0, show_default=True,
              help="US dollars per million completion tokens, for the cost report.")
@click.option("--timeout", type=float, default=600.0, show_default=True,
              help="Seconds to wait for one reply before retrying.")
@click.option("--max-retries", type=int, default=6, show_default=True,
              help="Retries per request on 429/5xx/timeouts (exponential backoff with jitter, "
                   "Retry-After honoured).")
@click.option("--backoff-base", type=float, default=1.0, show_default=True,
              help="Seconds: retry k waits a random time up to base * 2^k (capped at 60 s), "
                   "and never less than the server's Retry-After.")
@click.option("--limit", type=int, help="Judge only the first N traces.")
@click.option("-v", "--verbose", is_flag=True, help="Log retries and requests to stderr.")
@trace_input_options
def command(inputs, out_dir, **kw):
    """Count reasoning behaviours in every response, with evidence.

    \b
    With --base-url: an LLM judge over any OpenAI-compatible endpoint (--mode count: one
    request per behaviour and chunk; --mode sentences: one request per chunk labelling every
    sentence), cached in SQLite (a rerun, or a run resumed after kill -9, sends only what is
    not finished). Without --base-url: the offline detector (approximate, no API; --detector
    for a trained one). Failed judgments are missing (null count, raw reply kept), never 0;
    the command then exits non-zero unless --allow-failures.

    \b
    Example:
      reasonlens judge traces.jsonl --out out/judge \\
          --base-url http://127.0.0.1:8000/v1 --model Qwen2.5-32B-Instruct
    """
    from reasonlens.redact import Redactor, install_log_redaction

    opts = load_options(kw)
    if kw.pop("verbose"):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_log_redaction(Redactor.for_endpoint(kw["base_urls"], kw["api_key_env"]))
    cfg = _stage_config(kw, _given(kw))
    if cfg.endpoint is None:
        _echo_err("No --base-url: using the OFFLINE DETECTOR. Its counts are APPROXIMATE (see "
                  "docs/judge-validation.md and benchmarks/offline-detector.md for its "
                  "agreement with human labels). Give --base-url and --model for an LLM judge.")
    result = _run(list(inputs), Path(out_dir), cfg, opts, kw["limit"])
    rej = result.summary.get("rejected")
    if rej:
        _echo_err(f"skipped {rej['n']} malformed records (see {rej['file']})")
    _print_summary(result.summary)


_LLM_ONLY = ("model", "rubric_paths", "template", "no_problem", "concurrency",
             "max_chunk_tokens", "overlap", "chars_per_token", "tokenizer", "temperature",
             "top_p", "seed", "max_tokens", "structured", "cache_path", "no_cache",
             "cache_sampled", "price_in", "price_out", "timeout", "max_retries", "backoff_base",
             "mode")


def _given(kw) -> dict:
    """Options given on the command line (not defaults), by parameter name."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return {k: kw[k] for k in kw if k in ctx.params
            and ctx.get_parameter_source(k) not in (ParameterSource.DEFAULT, None)}


def _stage_config(kw, given):
    from reasonlens.errors import ConfigError
    from reasonlens.judge.offline import OfflineConfig
    from reasonlens.judge.stage import JudgeStageConfig, check_offline_options

    if not kw["base_urls"]:
        check_offline_options({"--" + k.replace("_paths", "").replace("_path", "")
                               .replace("_", "-"): v for k, v in given.items()
                               if k in _LLM_ONLY})
        return JudgeStageConfig(offline=OfflineConfig(
            detector=kw["detector_path"], taxonomy=kw["taxonomy"], unit=kw["unit"],
            text_field=kw["text_field"], behaviours=tuple(kw["behaviours"])),
            allow_failures=kw["allow_failures"])
    if kw["detector_path"]:
        raise ConfigError("--detector is the offline detector; it cannot be combined with "
                          "--base-url (an LLM judge)")
    return JudgeStageConfig(endpoint=_endpoint(kw), llm=_llm_config(kw),
                            allow_failures=kw["allow_failures"])


def _endpoint(kw):
    from dataclasses import replace

    from reasonlens.endpoint import EndpointConfig

    endpoint = EndpointConfig(base_urls=tuple(kw["base_urls"]), model=kw["model"] or "?",
                              api_key_env=kw["api_key_env"], timeout=kw["timeout"],
                              max_retries=kw["max_retries"], concurrency=kw["concurrency"],
                              backoff_base=kw["backoff_base"])
    if not kw["model"]:
        endpoint = replace(endpoint, model=_resolve_model(endpoint))
    return endpoint


def _llm_config(kw):
    from reasonlens.judge.chunking import ChunkConfig
    from reasonlens.judge.config import JudgeConfig
    from reasonlens.judge.request import RequestParams

    return JudgeConfig(
        behaviours=tuple(kw["behaviours"]), rubric_paths=tuple(kw["rubric_paths"]),
        template=kw["template"], taxonomy=kw["taxonomy"], mode=kw["mode"], unit=kw["unit"],
        text_field=kw["text_field"], include_problem=not kw["no_problem"],
        params=RequestParams(temperature=kw["temperature"], top_p=kw["top_p"], seed=kw["seed"],
                             max_tokens=kw["max_tokens"]),
        structured=kw["structured"],
        chunking=ChunkConfig(max_chunk_tokens=kw["max_chunk_tokens"],
                             overlap_tokens=kw["overlap"],
                             chars_per_token=kw["chars_per_token"]),
        tokenizer=kw["tokenizer"], cache=not kw["no_cache"], cache_path=kw["cache_path"],
        cache_sampled=kw["cache_sampled"], price_in=kw["price_in"], price_out=kw["price_out"])


def _run(inputs, out: Path, cfg, opts, limit):
    from reasonlens.cli._common import progress
    from reasonlens.judge.stage import failure_line, run_judge_stage

    unit = "judgments" if cfg.endpoint is not None else "responses"
    with progress("judging", None, unit=unit) as bar:
        task = bar.add_task("judging", total=None)
        result = run_judge_stage(None, out, cfg, inputs=inputs, load_options=opts, limit=limit,
                                 progress=lambda n: bar.advance(task, n),
                                 on_total=lambda t: bar.update(task, total=t))
    if cfg.endpoint is not None:
        s = result.summary
        u, c = s["usage"], s["cache"]
        _echo_err(f"judge {s['judge']} ({s['mode']} mode, taxonomy {s['taxonomy']}, unit "
                  f"{s['unit']}): {u['requests']} requests ({u['retries']} retries, "
                  f"{u['failures']} failed), {u['prompt_tokens']} prompt + "
                  f"{u['completion_tokens']} completion tokens, cost ${u['cost_usd']:.4f}; "
                  f"cache: {c.get('hits', 0)} hits, {c.get('writes', 0)} new; "
                  f"{s['chunking']['n_chunks_total']} chunks "
                  f"({s['chunking']['n_responses_chunked']} responses split); structured "
                  f"output: {s['structured_output']}; {s['elapsed_s']:.1f}s")
    line = failure_line(result.summary, result.frame)
    if line:
        _echo_err(f"WARNING: {line} (accepted: --allow-failures)")
    return result


def _resolve_model(endpoint_cfg) -> str:
    from reasonlens.endpoint import EndpointPool, run_async
    from reasonlens.errors import ConfigError

    async def ask():
        async with EndpointPool(endpoint_cfg) as pool:
            return await pool.get_json("/models")

    data = run_async(ask())
    names = [m.get("id") for m in (data.get("data") or []) if isinstance(m, dict)]
    if len(names) != 1:
        raise ConfigError(f"give --model; the server lists {len(names)} models: "
                          f"{', '.join(map(str, names)) or '(none)'}")
    return names[0]


def _print_summary(summary: dict) -> None:
    from reasonlens.cli._common import echo_table

    rows = []
    for model, mb in summary["models"].items():
        for bench, bb in mb.get("benchmarks", {}).items():
            for b, st in bb["behaviours"].items():
                rows.append([model, bench, b, st["mean_count"], st["share_with_any"], st["n"],
                             st["n_missing"]])
    approx = ", APPROXIMATE" if summary.get("approximate") else ""
    title = (f"behaviour {summary.get('unit') or 'count'} per response ({summary['judge']}"
             f"{approx}; taxonomy {summary.get('taxonomy')}, {summary.get('mode')} mode)")
    echo_table(title, ["model", "benchmark", "behaviour", f"mean {summary.get('unit')}",
                       "share >= 1", "n", "missing"], rows)


def _instances_from_frame(frame, behaviours):
    """Kept for reasonlens.api (which will call reasonlens.judge.stage.judge_traces)."""
    from reasonlens.judge.stage import instances_from_frame

    return instances_from_frame(frame, behaviours)
