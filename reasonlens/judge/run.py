"""JUDGE: traces -> per-response behaviour counts with evidence, through any OpenAI-compatible
endpoint.

For every trace and behaviour the text is chunked (:mod:`~reasonlens.judge.chunking`), each chunk
is judged by one request (:mod:`~reasonlens.judge.request`, sent through
:class:`reasonlens.endpoint.EndpointPool`: bounded concurrency, retries with backoff and jitter,
Retry-After, several base URLs), each reply is cached the moment it arrives
(:mod:`~reasonlens.judge.cache`), and the chunks' instances are merged. A chunk that fails
(endpoint error after all retries, unparseable reply, refusal) makes the response's count null
with the status and reason recorded: never 0.

Output frame (one row per trace): id, model, benchmark, problem_id, sample, and for each
behaviour B: ``B_count`` (Int64, null = missing), ``B_status`` (ok | parse_error | refusal |
error | skipped), ``B_instances`` (JSON list of {"quote", "sentence", "chunk"}), then ``judge``,
``n_chunks``, and for audit ``B_reason`` and ``B_raw`` (the raw replies of failed chunks).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import polars as pl

from reasonlens.endpoint import EndpointConfig, EndpointPool, Usage
from reasonlens.errors import EndpointError, JudgeError
from reasonlens.judge.cache import JudgeCache, cache_key
from reasonlens.judge.chunking import Chunk, Sentence, chunk_text, merge_instances, \
    split_sentences
from reasonlens.judge.config import JudgeConfig
from reasonlens.judge.request import (Judgment, build_judge_request, build_messages,
                                      cache_key_material, parse_judgment)
from reasonlens.judge.rubrics import Rubric, Template, load_template, resolve_rubrics
from reasonlens.schema import INSTANCE_SCHEMA, judgment_frame

__all__ = ["JudgeConfig", "JudgeRun", "judge_frame", "run_judge", "STATUS_ORDER"]

# When chunks of one response disagree, the response takes the most severe status.
STATUS_ORDER = {"ok": 0, "skipped": 1, "parse_error": 2, "refusal": 3, "error": 4}
_FORMAT_WORDS = re.compile(r"response_format|json_schema|schema|grammar|format", re.I)
_HTTP_STATUS = re.compile(r"HTTP (\d{3})")


@dataclass
class JudgeRun:
    """Everything a run produced: the per-response frame, the long instances frame, and the
    figures for summary.json."""

    frame: pl.DataFrame
    instances: pl.DataFrame
    rubrics: list[Rubric]
    template: Template
    usage: dict[str, Any]
    cache: dict[str, Any]
    chunking: dict[str, Any]
    structured: str
    judge: str
    elapsed_s: float
    status_counts: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class _Job:
    row: int
    behaviour: str
    rubric: Rubric
    chunk: Chunk
    sentences: list[Sentence]
    n_chunks: int
    problem: str | None


class _Structured:
    """The structured-output mode in effect; ``auto`` probes json_schema once, then settles."""

    def __init__(self, configured: str, remembered: str | None):
        self.configured = configured
        if configured == "auto":
            self.mode = remembered or "json_schema"
            self.settled = asyncio.Event()
            if remembered:
                self.settled.set()
        else:
            self.mode = configured
            self.settled = asyncio.Event()
            self.settled.set()
        self.prober: object | None = None
        self.probe: str | None = (f"remembered from an earlier run: {remembered}"
                                  if configured == "auto" and remembered else None)


def _redactor(endpoint: EndpointConfig) -> Callable[[str | None], str | None]:
    key = os.environ.get(endpoint.api_key_env) or ""

    def redact(s: str | None) -> str | None:
        if s is None or len(key) < 4:
            return s
        return s.replace(key, "***")
    return redact


def _token_counter(cfg: JudgeConfig) -> Callable[[str], int] | None:
    if not cfg.tokenizer:
        return None
    from reasonlens._optional import import_optional

    tr = import_optional("transformers")
    tok = tr.AutoTokenizer.from_pretrained(cfg.tokenizer)
    return lambda t: len(tok.encode(t, add_special_tokens=False))


def _jobs(traces: pl.DataFrame, rubrics: list[Rubric], cfg: JudgeConfig,
          count: Callable[[str], int] | None, layout: list[list[Chunk]]):
    """Yield one job per (trace, behaviour, chunk), lazily (traces are chunked as reached).
    ``layout[row]`` receives the row's chunks without their text (for merging)."""
    texts = traces.get_column(cfg.text_field).to_list()
    problems = (traces.get_column("prompt").to_list() if cfg.include_problem
                and "prompt" in traces.columns else [None] * len(texts))
    for row, text in enumerate(texts):
        text = text or ""
        chunks = chunk_text(text, cfg.chunking, count) if text.strip() else []
        layout[row] = [replace(ch, text="") for ch in chunks]
        sentences = split_sentences(text) if chunks else []
        for rubric in rubrics:
            for ch in chunks:
                yield _Job(row, rubric.behaviour, rubric, ch, sentences, len(chunks),
                           problems[row])


async def _run(traces: pl.DataFrame, endpoint: EndpointConfig, cfg: JudgeConfig,
               rubrics: list[Rubric], template: Template, cache: JudgeCache | None,
               results: dict[tuple[int, str], dict[int, Judgment]], layout: list[list[Chunk]],
               progress: Callable[[int], None] | None) -> tuple[dict[str, Any], str]:
    redact = _redactor(endpoint)
    setting = f"structured:{endpoint.model}@{','.join(sorted(endpoint.base_urls))}"
    state = _Structured(cfg.structured, cache.get_setting(setting) if cache else None)
    serve_from_cache = cache is not None and (not cfg.params.sampled or cfg.cache_sampled)
    count = _token_counter(cfg)
    jobs = _jobs(traces, rubrics, cfg, count, layout)
    inflight: dict[str, asyncio.Future] = {}
    cached_tokens = {"prompt_tokens": 0, "completion_tokens": 0}

    # The HTTP client is opened on the first cache miss only: a run served entirely from the
    # cache opens no connection (and skips the TLS set-up, which dominates a cached rerun).
    pools: list[EndpointPool] = []
    pool_lock = asyncio.Lock()

    async def get_pool() -> EndpointPool:
        if not pools:
            async with pool_lock:
                if not pools:
                    pool = EndpointPool(endpoint)
                    await pool.__aenter__()
                    pools.append(pool)
        return pools[0]

    async def send(messages: list[dict[str, str]], job: _Job) -> tuple[Any, str]:
        """Send with the structured mode in effect; in auto mode the first request probes
        json_schema and a 4xx/5xx mentioning the format switches to json_object (once)."""
        if state.configured == "auto" and not state.settled.is_set():
            if state.prober is None:
                state.prober = job
                body = build_judge_request(endpoint.model, messages, cfg.params, state.mode)
                try:
                    resp = await (await get_pool()).chat(body, max_retries=0)
                    state.settled.set()
                    return resp, state.mode
                except EndpointError as exc:
                    m = _HTTP_STATUS.search(str(exc))
                    if m and 400 <= int(m.group(1)) < 600 and _FORMAT_WORDS.search(
                            str(exc).split(m.group(0), 1)[-1]):
                        state.mode = "json_object"
                        state.probe = f"json_schema rejected ({m.group(0)}); using json_object"
                        pool = await get_pool()
                        pool.usage.failures -= 1  # an expected answer, not a failure
                        if cache is not None:
                            cache.set_setting(setting, "json_object")
                    state.settled.set()
            else:
                await state.settled.wait()
        mode = state.mode
        body = build_judge_request(endpoint.model, messages, cfg.params, mode)
        return await (await get_pool()).chat(body), mode

    async def judge_one(job: _Job) -> Judgment:
        messages = build_messages(job.rubric, template, job.chunk, job.sentences,
                                  n_chunks=job.n_chunks, problem=job.problem)
        material = cache_key_material(model=endpoint.model, messages=messages,
                                      rubric=job.rubric, template=template,
                                      params=cfg.params, structured=cfg.structured)
        key = cache_key(material)
        if serve_from_cache:
            hit = cache.get(key)
            if hit is not None:
                cached_tokens["prompt_tokens"] += hit.prompt_tokens
                cached_tokens["completion_tokens"] += hit.completion_tokens
                return parse_judgment(hit.reply, job.chunk, job.sentences,
                                      finish_reason=hit.finish_reason,
                                      refusal=hit.refusal, config=cfg.parse)
        elif cache is not None:
            cache.stats.bypassed += 1
        if key in inflight and not cfg.params.sampled:  # same request already on its way
            reply = await asyncio.shield(inflight[key])
        else:
            fut = asyncio.get_running_loop().create_future()
            if not cfg.params.sampled:
                inflight[key] = fut
            t0 = time.perf_counter()
            try:
                resp, mode = await send(messages, job)
            except EndpointError as exc:
                fut.set_result(exc)
                inflight.pop(key, None)
                return Judgment("error", None, reason=redact(str(exc))[:1000])
            choice = resp.choices[0]
            refusal = None
            raw_choice = (resp.raw.get("choices") or [{}])[0]
            if isinstance(raw_choice, dict) and isinstance(raw_choice.get("message"), dict):
                r = raw_choice["message"].get("refusal")
                refusal = r if isinstance(r, str) and r.strip() else None
            reply = (choice.text, choice.finish_reason, refusal)
            if cache is not None:
                sent = build_judge_request(endpoint.model, messages, cfg.params, mode)
                cache.put(key, material=material, body=sent, reply=redact(choice.text),
                          finish_reason=choice.finish_reason, refusal=redact(refusal),
                          usage=resp.usage, latency_s=time.perf_counter() - t0)
            fut.set_result(reply)
            inflight.pop(key, None)
        if isinstance(reply, EndpointError):
            return Judgment("error", None, reason=redact(str(reply))[:1000])
        text, finish, refusal = reply
        j = parse_judgment(text, job.chunk, job.sentences, finish_reason=finish,
                           refusal=refusal, config=cfg.parse)
        return j

    async def worker() -> None:
        for job in jobs:  # a shared generator: each job is taken by exactly one worker
            j = await judge_one(job)
            if j.raw is not None:
                j = Judgment(j.status, j.count, j.instances, j.reported_count, j.rejected,
                             j.rationale, redact(j.reason), redact(j.raw), j.extra)
            results.setdefault((job.row, job.behaviour), {})[job.chunk.index] = j
            if progress is not None:
                progress(1)

    workers = [asyncio.create_task(worker()) for _ in range(endpoint.concurrency)]
    try:
        await asyncio.gather(*workers)
    except BaseException:
        for w in workers:
            w.cancel()
        raise
    finally:
        if pools:
            await pools[0].__aexit__(None, None, None)
    usage = pools[0].usage.as_dict() if pools else Usage().as_dict()
    usage["structured_probe"] = state.probe
    usage["cost_usd"] = round((usage["prompt_tokens"] * cfg.price_in
                               + usage["completion_tokens"] * cfg.price_out) / 1e6, 6)
    usage["price_in_per_mtok"] = cfg.price_in
    usage["price_out_per_mtok"] = cfg.price_out
    usage["cached_prompt_tokens"] = cached_tokens["prompt_tokens"]
    usage["cached_completion_tokens"] = cached_tokens["completion_tokens"]
    usage["cost_saved_by_cache_usd"] = round(
        (cached_tokens["prompt_tokens"] * cfg.price_in
         + cached_tokens["completion_tokens"] * cfg.price_out) / 1e6, 6)
    return usage, state.mode


def _merge(judgments: dict[int, Judgment], chunks: list[Chunk]
           ) -> tuple[int | None, str, list[dict[str, Any]], str | None, str | None]:
    """(count, status, instances, reason, raw) of one response and behaviour."""
    n = len(chunks)
    if n == 0:
        return None, "skipped", [], "empty text", None
    ordered = [judgments.get(i) or Judgment("error", None, reason="chunk was not judged")
               for i in range(n)]
    status = max((j.status for j in ordered), key=STATUS_ORDER.__getitem__)
    per_chunk = [list(j.instances) if j.status == "ok" else [] for j in ordered]
    merged = merge_instances(chunks, per_chunk)
    if status != "ok":
        bad = [(i, j) for i, j in enumerate(ordered) if j.status != "ok"]
        reason = "; ".join(f"chunk {i}: {j.status}: {j.reason}" for i, j in bad)
        raw = orjson.dumps([{"chunk": i, "raw": j.raw} for i, j in bad]).decode()
        return None, status, merged, reason, raw
    bare = sum((j.count or 0) - len(j.instances) for j in ordered)  # evidence-less counts
    return len(merged) + bare, "ok", merged, None, None


def run_judge(traces: pl.DataFrame, endpoint: EndpointConfig, config: JudgeConfig | None = None,
              *, progress: Callable[[int], None] | None = None,
              on_total: Callable[[int], None] | None = None) -> JudgeRun:
    """Judge every trace for every configured behaviour. ``on_total`` receives the number of
    chunk judgments before the work starts; ``progress`` is called once per finished one."""
    cfg = config or JudgeConfig()
    if cfg.text_field not in traces.columns:
        raise JudgeError(f"the traces have no {cfg.text_field!r} column")
    rubrics = resolve_rubrics(cfg.behaviours, cfg.rubric_paths)
    template = load_template(cfg.template)
    count = _token_counter(cfg)
    n_rows = traces.height
    if on_total is not None:  # a cheap pre-pass so the progress bar knows its total
        total = 0
        for t in traces.get_column(cfg.text_field).to_list():
            if t and t.strip():
                total += len(chunk_text(t, cfg.chunking, count))
        on_total(total * len(rubrics))
    cache = (JudgeCache(cfg.cache_path) if cfg.cache else None)
    results: dict[tuple[int, str], dict[int, Judgment]] = {}
    layout: list[list[Chunk]] = [[] for _ in range(n_rows)]
    t0 = time.perf_counter()
    try:
        usage, mode = asyncio.run(_run(traces, endpoint, cfg, rubrics, template, cache,
                                       results, layout, progress))
        cache_stats = cache.stats.as_dict() if cache else {}
        cache_info = {"enabled": cache is not None, "path": str(cache.path) if cache else None,
                      "sampled": cfg.params.sampled, "cache_sampled": cfg.cache_sampled,
                      **cache_stats}
    finally:
        if cache is not None:
            cache.close()
    elapsed = time.perf_counter() - t0
    n_chunks = [len(x) for x in layout]
    frame, inst, status_counts = _build_frames(traces, rubrics, results, layout,
                                               judge=f"llm:{endpoint.model}")
    chunking = {**cfg.chunking.record(), "tokenizer": cfg.tokenizer,
                "token_estimate": "tokenizer" if cfg.tokenizer else "chars_per_token",
                "n_chunks_total": int(sum(n_chunks)),
                "n_responses_chunked": int(sum(1 for n in n_chunks if n > 1)),
                "max_chunks_per_response": int(max(n_chunks, default=0))}
    return JudgeRun(frame=frame, instances=inst, rubrics=rubrics, template=template,
                    usage=usage, cache=cache_info, chunking=chunking, structured=mode,
                    judge=f"llm:{endpoint.model}", elapsed_s=elapsed,
                    status_counts=status_counts)


def _build_frames(traces: pl.DataFrame, rubrics: list[Rubric],
                  results: dict[tuple[int, str], dict[int, Judgment]],
                  layout: list[list[Chunk]], *, judge: str
                  ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, int]]]:
    n_rows = traces.height
    ids = traces.get_column("id").to_list() if "id" in traces.columns else [None] * n_rows
    per_b: dict[str, dict[str, list]] = {}
    n_chunks = [len(x) for x in layout]
    long_rows: list[dict[str, Any]] = []
    status_counts: dict[str, dict[str, int]] = {}
    for r in rubrics:
        b = r.behaviour
        counts, statuses, insts, reasons, raws = [], [], [], [], []
        sc: dict[str, int] = {}
        for row in range(n_rows):
            c, s, merged, reason, raw = _merge(results.get((row, b), {}), layout[row])
            counts.append(c)
            statuses.append(s)
            reasons.append(reason)
            raws.append(raw)
            sc[s] = sc.get(s, 0) + 1
            insts.append(orjson.dumps([{"quote": m["quote"], "sentence": m.get("sentence"),
                                        "chunk": m["chunk"]} for m in merged]).decode())
            for m in merged:
                long_rows.append({"id": ids[row], "behaviour": b, "quote": m["quote"],
                                  "sentence": m.get("sentence"), "chunk": m["chunk"],
                                  "explanation": m.get("explanation"),
                                  "char_start": m.get("start"), "char_end": m.get("end"),
                                  "counted": s == "ok"})
        per_b[b] = {"count": counts, "status": statuses, "instances": insts,
                    "reason": reasons, "raw": raws}
        status_counts[b] = sc
    frame = judgment_frame(traces, per_b, judge=judge, n_chunks=n_chunks, audit=True)
    inst = pl.DataFrame(long_rows, schema=INSTANCE_SCHEMA) if long_rows else \
        pl.DataFrame(schema=INSTANCE_SCHEMA)
    return frame, inst, status_counts


def judge_frame(traces: pl.DataFrame, endpoint: EndpointConfig,
                config: JudgeConfig | None = None) -> pl.DataFrame:
    """The per-response judgment frame (see the module docstring)."""
    return run_judge(traces, endpoint, config).frame
