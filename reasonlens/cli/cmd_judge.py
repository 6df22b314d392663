"""``reasonlens judge``: count Multi-Perspective Thinking and Metacognitive Awareness per
response, with an LLM judge or (without --base-url) the offline detector."""

from __future__ import annotations

import logging
import time
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
@click.option("--behaviour", "behaviours", multiple=True, metavar="NAME",
              help="Behaviour rubric to judge, by registered name (repeatable). Default: "
                   "multi_perspective and metacognitive.")
@click.option("--rubric", "rubric_paths", multiple=True, type=click.Path(dir_okay=False),
              help="A rubric TOML file (repeatable); replaces the named rubric of the same "
                   "behaviour.")
@click.option("--template", default="judge_behaviour", show_default=True,
              help="Judge prompt template (registered name or TOML path).")
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
    """Count the two flexible-reasoning behaviours in every response, with evidence.

    \b
    With --base-url: an LLM judge over any OpenAI-compatible endpoint, one request per
    behaviour and chunk, cached in SQLite (a rerun, or a run resumed after kill -9, sends only
    what is not finished). Without --base-url: the offline detector (approximate, no API).
    Parse failures and refusals are recorded as missing (null count) with the raw reply kept,
    never as 0.

    \b
    Example:
      reasonlens judge traces.jsonl --out out/judge \\
          --base-url http://127.0.0.1:8000/v1 --model Qwen2.5-32B-Instruct
    """
    from reasonlens.traces.load import LoadReport, load_traces

    opts = load_options(kw)
    if kw.pop("verbose"):
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    _redact_logs(kw["api_key_env"])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = LoadReport(rejects_path=str(out / "rejects.jsonl"))
    try:
        traces = load_traces(list(inputs), opts, report)
    finally:
        report.close()
    if kw["limit"] is not None:
        traces = traces.head(kw["limit"])
    if report.n_rejected:
        _echo_err(f"skipped {report.n_rejected} malformed records (see {report.rejects_path})")
    if not kw["base_urls"]:
        _offline(traces, out, inputs, kw)
    else:
        _llm(traces, out, inputs, kw)


class _RedactKey(logging.Filter):
    """Replace the API key's value in every log record (a server may echo it in an error)."""

    def __init__(self, key: str):
        super().__init__()
        self.key = key

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if self.key in msg:
            record.msg, record.args = msg.replace(self.key, "***"), ()
        return True


def _redact_logs(api_key_env: str) -> None:
    import os

    key = os.environ.get(api_key_env) or ""
    if len(key) < 4:
        return
    for h in [*logging.getLogger().handlers, logging.lastResort]:
        if h is not None and not any(isinstance(f, _RedactKey) for f in h.filters):
            h.addFilter(_RedactKey(key))


def _offline(traces, out: Path, inputs, kw) -> None:
    from reasonlens.io import write_json, write_parquet
    from reasonlens.judge.offline import detect, provenance_record
    from reasonlens.judge.summary import summarise
    from reasonlens.provenance import input_records, provenance

    _echo_err("No --base-url: using the OFFLINE DETECTOR. Its counts are APPROXIMATE (cue "
              "patterns and a small classifier; see docs/judge-validation.md for its agreement "
              "with human labels). Give --base-url and --model for an LLM judge.")
    t0 = time.perf_counter()
    frame = detect(traces)
    judge = frame.get_column("judge")[0] if frame.height else "offline-detector"
    summary = summarise(frame)
    prov = provenance(command="judge", config=provenance_record(),
                      inputs=input_records(list(inputs)))
    summary.update({"judge": judge, "approximate": True,
                    "note": "offline detector: approximate counts, no LLM judge",
                    "elapsed_s": round(time.perf_counter() - t0, 3), "provenance": prov})
    write_parquet(frame, out / "judgments.parquet", prov)
    write_parquet(_instances_from_frame(frame, summary["behaviours"]), out / "instances.parquet",
                  prov)
    write_json(out / "summary.json", summary)
    _print_summary(summary)


def _instances_from_frame(frame, behaviours):
    """instances.parquet (:data:`reasonlens.schema.INSTANCE_SCHEMA`) of an offline-detector frame:
    no explanations or character offsets; every instance is counted (its status is ok)."""
    import orjson
    import polars as pl

    from reasonlens.schema import INSTANCE_SCHEMA

    rows = []
    for r in frame.select(["id"] + [f"{b}_instances" for b in behaviours]).iter_rows(named=True):
        for b in behaviours:
            for m in orjson.loads(r[f"{b}_instances"] or "[]"):
                rows.append({"id": r["id"], "behaviour": b, "quote": m.get("quote"),
                             "sentence": m.get("sentence"), "chunk": m.get("chunk"),
                             "counted": True})
    if not rows:
        return pl.DataFrame(schema=INSTANCE_SCHEMA)
    return pl.DataFrame(rows, schema=INSTANCE_SCHEMA)


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


def _llm(traces, out: Path, inputs, kw) -> None:
    from dataclasses import replace

    from reasonlens.cli._common import progress
    from reasonlens.endpoint import EndpointConfig
    from reasonlens.io import write_json, write_parquet
    from reasonlens.judge.chunking import ChunkConfig
    from reasonlens.judge.config import JudgeConfig
    from reasonlens.judge.request import RequestParams
    from reasonlens.schema import BEHAVIOURS
    from reasonlens.judge.run import run_judge
    from reasonlens.judge.summary import summarise
    from reasonlens.provenance import input_records, provenance

    endpoint = EndpointConfig(base_urls=tuple(kw["base_urls"]), model=kw["model"] or "?",
                              api_key_env=kw["api_key_env"], timeout=kw["timeout"],
                              max_retries=kw["max_retries"], concurrency=kw["concurrency"],
                              backoff_base=kw["backoff_base"])
    if not kw["model"]:
        endpoint = replace(endpoint, model=_resolve_model(endpoint))
    behaviours = tuple(kw["behaviours"]) or (() if kw["rubric_paths"] else BEHAVIOURS)
    cfg = JudgeConfig(
        behaviours=behaviours, rubric_paths=tuple(kw["rubric_paths"]), template=kw["template"],
        text_field=kw["text_field"], include_problem=not kw["no_problem"],
        params=RequestParams(temperature=kw["temperature"], top_p=kw["top_p"], seed=kw["seed"],
                             max_tokens=kw["max_tokens"]),
        structured=kw["structured"],
        chunking=ChunkConfig(max_chunk_tokens=kw["max_chunk_tokens"],
                             overlap_tokens=kw["overlap"],
                             chars_per_token=kw["chars_per_token"]),
        tokenizer=kw["tokenizer"], cache=not kw["no_cache"], cache_path=kw["cache_path"],
        cache_sampled=kw["cache_sampled"], price_in=kw["price_in"], price_out=kw["price_out"])
    if cfg.params.sampled and cfg.cache and not cfg.cache_sampled:
        _echo_err("temperature > 0 without --seed: replies are sampled, so they are not served "
                  "from the cache (pass --cache-sampled to reuse them)")
    with progress("judging", None, unit="judgments") as bar:
        task = bar.add_task("judging", total=None)
        run = run_judge(traces, endpoint, cfg,
                        progress=lambda n: bar.advance(task, n),
                        on_total=lambda t: bar.update(task, total=t))
    data_files = [r.record() for r in run.rubrics] + [run.template.record()]
    prov = provenance(command="judge", inputs=input_records(list(inputs)), data_files=data_files,
                      config={"judge": run.judge, "endpoint": endpoint.public(),
                              **cfg.record()})
    summary = summarise(run.frame, [r.behaviour for r in run.rubrics])
    summary.update({
        "judge": run.judge, "approximate": False, "model": endpoint.model,
        "rubrics": {r.behaviour: r.record() for r in run.rubrics},
        "template": run.template.record(), "structured_output": run.structured,
        "usage": run.usage, "cache": run.cache, "chunking": run.chunking,
        "elapsed_s": round(run.elapsed_s, 3), "provenance": prov})
    write_parquet(run.frame, out / "judgments.parquet", prov)
    write_parquet(run.instances, out / "instances.parquet", prov)
    write_json(out / "summary.json", summary)
    u, c = run.usage, run.cache
    _echo_err(f"judge {run.judge}: {u['requests']} requests ({u['retries']} retries, "
              f"{u['failures']} failed), {u['prompt_tokens']} prompt + {u['completion_tokens']} "
              f"completion tokens, cost ${u['cost_usd']:.4f}; cache: {c.get('hits', 0)} hits, "
              f"{c.get('writes', 0)} new; {run.chunking['n_chunks_total']} chunks "
              f"({run.chunking['n_responses_chunked']} responses split); structured output: "
              f"{run.structured}; {run.elapsed_s:.1f}s")
    _print_summary(summary)


def _print_summary(summary: dict) -> None:
    from reasonlens.cli._common import echo_table

    rows = []
    for model, mb in summary["models"].items():
        for bench, bb in mb.get("benchmarks", {}).items():
            for b, st in bb["behaviours"].items():
                rows.append([model, bench, b, st["mean_count"], st["share_with_any"], st["n"],
                             st["n_missing"]])
    approx = ", APPROXIMATE" if summary.get("approximate") else ""
    title = f"behaviour counts ({summary['judge']}{approx})"
    echo_table(title, ["model", "benchmark", "behaviour", "mean count", "share >= 1", "n",
                       "missing"], rows)
