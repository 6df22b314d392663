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
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
import polars as pl

from reasonlens.endpoint import EndpointConfig, EndpointPool, Usage
from reasonlens.errors import EndpointError, JudgeError
from reasonlens.judge import labelling
from reasonlens.judge.cache import JudgeCache, cache_key
from reasonlens.judge.chunking import Chunk, chunk_text, merge_instances
from reasonlens.judge.config import JudgeConfig
from reasonlens.judge.request import (Judgment, build_judge_request, build_messages,
                                      cache_key_material, parse_judgment)
from reasonlens.judge.rubrics import Rubric, Template, load_template, resolve_rubrics
from reasonlens.judge.sentences import Sentence, split_sentences
from reasonlens.judge.taxonomy import Taxonomy, count_indices, load_taxonomy
from reasonlens.redact import Redactor
from reasonlens.schema import INSTANCE_SCHEMA, judgment_frame

__all__ = ["JudgeConfig", "JudgeRun", "judge_frame", "run_judge", "STATUS_ORDER"]

# When chunks of one response disagree, the response takes the most severe status.
STATUS_ORDER = {"ok": 0, "skipped": 1, "parse_error": 2, "refusal": 3, "error": 4}
LABELS_JOB = "__labels__"  # the behaviour slot of a sentence-labelling job
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
    taxonomy: Taxonomy | None = None
    mode: str = "count"
    unit: str = "episodes"


@dataclass
class _Job:
    row: int
    behaviour: str
    rubric: Rubric | None  # None: a sentence-labelling job (one per chunk, all labels)
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


def _redactor(endpoint: EndpointConfig) -> Redactor:
    return Redactor.for_endpoint(endpoint.base_urls, endpoint.api_key_env)


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
        if cfg.mode == "sentences":
            for ch in chunks:
                yield _Job(row, LABELS_JOB, None, ch, sentences, len(chunks), problems[row])
            continue
        for rubric in rubrics:
            for ch in chunks:
                yield _Job(row, rubric.behaviour, rubric, ch, sentences, len(chunks),
                           problems[row])


async def _run(traces: pl.DataFrame, endpoint: EndpointConfig, cfg: JudgeConfig,
               rubrics: list[Rubric], template: Template, cache: JudgeCache | None,
               tax: Taxonomy,
               results: dict[tuple[int, str], dict[int, Judgment]], layout: list[list[Chunk]],
               progress: Callable[[int], None] | None) -> tuple[dict[str, Any], str]:
    redact = _redactor(endpoint)
    setting = redact(f"structured:{endpoint.model}@{','.join(sorted(endpoint.base_urls))}")
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

    def body_for(messages: list[dict[str, str]], mode: str) -> dict[str, Any]:
        if cfg.mode == "sentences":
            return labelling.build_request(endpoint.model, messages, cfg.params, mode, tax)
        return build_judge_request(endpoint.model, messages, cfg.params, mode)

    def parse(job: _Job, text: str | None, finish: str | None, refusal: str | None) -> Judgment:
        if job.rubric is None:
            return labelling.parse_labels(text, job.chunk, job.sentences, tax,
                                          finish_reason=finish, refusal=refusal)
        return parse_judgment(text, job.chunk, job.sentences, finish_reason=finish,
                              refusal=refusal, config=cfg.parse)

    async def send(messages: list[dict[str, str]], job: _Job) -> tuple[Any, str]:
        """Send with the structured mode in effect; in auto mode the first request probes
        json_schema and a 4xx/5xx mentioning the format switches to json_object (once)."""
        if state.configured == "auto" and not state.settled.is_set():
            if state.prober is None:
                state.prober = job
                body = body_for(messages, state.mode)
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
        return await (await get_pool()).chat(body_for(messages, mode)), mode

    async def judge_one(job: _Job) -> Judgment:
        if job.rubric is None:
            messages = labelling.build_messages(tax, template, job.chunk, job.sentences,
                                                n_chunks=job.n_chunks, problem=job.problem)
            material = labelling.cache_key_material(
                model=endpoint.model, messages=messages, tax=tax, template=template,
                params=cfg.params, structured=cfg.structured)
        else:
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
                return parse(job, hit.reply, hit.finish_reason, hit.refusal)
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
                sent = body_for(messages, mode)
                cache.put(key, material=material, body=sent, reply=redact(choice.text),
                          finish_reason=choice.finish_reason, refusal=redact(refusal),
                          usage=resp.usage, latency_s=time.perf_counter() - t0)
            fut.set_result(reply)
            inflight.pop(key, None)
        if isinstance(reply, EndpointError):
            return Judgment("error", None, reason=redact(str(reply))[:1000])
        text, finish, refusal = reply
        return parse(job, text, finish, refusal)

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
           ) -> tuple[str, list[dict[str, Any]], int, str | None, str | None]:
    """(status, merged instances, evidence-less count, reason, raw) of one response and job
    kind (a behaviour, or the sentence-labelling job)."""
    n = len(chunks)
    if n == 0:
        return "skipped", [], 0, "empty text", None
    ordered = [judgments.get(i) or Judgment("error", None, reason="chunk was not judged")
               for i in range(n)]
    status = max((j.status for j in ordered), key=STATUS_ORDER.__getitem__)
    per_chunk = [list(j.instances) if j.status == "ok" else [] for j in ordered]
    merged = merge_instances(chunks, per_chunk)
    if status != "ok":
        bad = [(i, j) for i, j in enumerate(ordered) if j.status != "ok"]
        reason = "; ".join(f"chunk {i}: {j.status}: {j.reason}" for i, j in bad)
        raw = orjson.dumps([{"chunk": i, "raw": j.raw} for i, j in bad]).decode()
        return status, merged, 0, reason, raw
    bare = sum((j.count or 0) - len(j.instances) for j in ordered
               if not j.extra.get("labels"))  # evidence-less counts (count mode only)
    return "ok", merged, max(bare, 0), None, None


def taxonomy_rubrics(tax: Taxonomy, names: tuple[str, ...] = ()) -> list[Rubric]:
    """Counting-mode rubrics for the labels of ``tax`` (or the named ones): a label's registered
    rubric when it names one, else a rubric made from the label's definition and examples."""
    from reasonlens.judge.rubrics import Example, load_rubric

    keys = names or tax.keys
    bad = [k for k in keys if k not in tax.keys]
    if bad:
        raise JudgeError(f"taxonomy {tax.name!r} has no label {', '.join(bad)}; labels: "
                         f"{', '.join(tax.keys)}")
    out = []
    for lb in (lb for lb in tax.labels if lb.key in keys):
        if lb.rubric:
            out.append(load_rubric(lb.rubric))
            continue
        out.append(Rubric(
            name=f"{tax.name}:{lb.key}", version=tax.version, behaviour=lb.key, title=lb.title,
            definition=lb.definition,
            count_rule="Count each distinct episode once: a run of consecutive sentences that "
                       "show this behaviour is one instance. Mark the sentence that begins it.",
            notes="", positive_examples=tuple(Example(e) for e in lb.examples),
            negative_examples=tuple(Example(e) for e in lb.negative_examples), path=tax.path,
            sha256=tax.sha256))
    return out


def _plan(cfg: JudgeConfig) -> tuple[Taxonomy, list[Rubric], Template]:
    tax = load_taxonomy(cfg.taxonomy)
    if cfg.mode == "sentences":
        if cfg.rubric_paths:
            raise JudgeError("--rubric is for the counting mode (--mode count); the sentence-"
                             "labelling mode uses the taxonomy's definitions")
        if cfg.behaviours:
            raise JudgeError("--behaviour is for the counting mode; the sentence-labelling "
                             "mode labels every label of the taxonomy in one call")
        return tax, [], load_template(cfg.template or "judge_sentences")
    if cfg.rubric_paths or (cfg.behaviours and tax.name == "paper"
                            and not set(cfg.behaviours) <= set(tax.keys)):
        rubrics = resolve_rubrics(cfg.behaviours, cfg.rubric_paths)
        if cfg.taxonomy:
            raise JudgeError("--rubric (or a --behaviour outside the taxonomy) replaces the "
                             "taxonomy; give one or the other")
        # an ad-hoc set of rubrics: no taxonomy (recorded as "rubrics"), no mapping
        tax = Taxonomy("rubrics", "", "ad-hoc rubrics", ())
    else:
        rubrics = taxonomy_rubrics(tax, cfg.behaviours)
    return tax, rubrics, load_template(cfg.template or "judge_behaviour")


def run_judge(traces: pl.DataFrame, endpoint: EndpointConfig, config: JudgeConfig | None = None,
              *, progress: Callable[[int], None] | None = None,
              on_total: Callable[[int], None] | None = None) -> JudgeRun:
    """Judge every trace: per behaviour and chunk (counting mode) or per chunk for every label
    of the taxonomy (sentence-labelling mode). ``on_total`` receives the number of chunk
    judgments before the work starts; ``progress`` is called once per finished one."""
    cfg = config or JudgeConfig()
    if cfg.text_field not in traces.columns:
        raise JudgeError(f"the traces have no {cfg.text_field!r} column")
    tax, rubrics, template = _plan(cfg)
    unit = cfg.unit or tax.default_unit
    count = _token_counter(cfg)
    n_rows = traces.height
    if on_total is not None:  # a cheap pre-pass so the progress bar knows its total
        total = 0
        for t in traces.get_column(cfg.text_field).to_list():
            if t and t.strip():
                total += len(chunk_text(t, cfg.chunking, count))
        on_total(total * (len(rubrics) if cfg.mode == "count" else 1))
    cache = (JudgeCache(cfg.cache_path) if cfg.cache else None)
    results: dict[tuple[int, str], dict[int, Judgment]] = {}
    layout: list[list[Chunk]] = [[] for _ in range(n_rows)]
    t0 = time.perf_counter()
    try:
        usage, mode = asyncio.run(_run(traces, endpoint, cfg, rubrics, template, cache, tax,
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
    judge = f"llm:{endpoint.model}"
    kinds = [LABELS_JOB] if cfg.mode == "sentences" else [r.behaviour for r in rubrics]
    frame, inst, status_counts = build_frames(
        traces, kinds, results, layout, judge=judge, tax=tax, mode=cfg.mode, unit=unit)
    chunking = {**cfg.chunking.record(), "tokenizer": cfg.tokenizer,
                "token_estimate": "tokenizer" if cfg.tokenizer else "chars_per_token",
                "n_chunks_total": int(sum(n_chunks)),
                "n_responses_chunked": int(sum(1 for n in n_chunks if n > 1)),
                "max_chunks_per_response": int(max(n_chunks, default=0))}
    return JudgeRun(frame=frame, instances=inst, rubrics=rubrics, template=template,
                    usage=usage, cache=cache_info, chunking=chunking, structured=mode,
                    judge=judge, elapsed_s=elapsed, status_counts=status_counts, taxonomy=tax,
                    mode=cfg.mode, unit=unit)


def _episodes(indices: list[int | None]) -> list[int | None]:
    """1-based episode number of each sentence index (runs of consecutive indices)."""
    order = sorted({i for i in indices if i is not None})
    ep, num = {}, 0
    for k, i in enumerate(order):
        if k == 0 or order[k - 1] != i - 1:
            num += 1
        ep[i] = num
    return [ep.get(i) if i is not None else None for i in indices]


def build_frames(traces: pl.DataFrame, kinds: list[str],
                 results: dict[tuple[int, str], dict[int, Judgment]],
                 layout: list[list[Chunk]], *, judge: str, tax: Taxonomy, mode: str, unit: str
                 ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, int]]]:
    """The judgments frame (:func:`reasonlens.schema.judgment_schema`, with audit columns) and
    the instances frame (:data:`reasonlens.schema.INSTANCE_SCHEMA`). Counts are in ``unit``;
    behaviours mapped by the taxonomy onto the paper's (e.g. metacognitive = monitor | verify)
    get their own columns, from the union of their labels' sentences."""
    n_rows = traces.height
    ids = traces.get_column("id").to_list() if "id" in traces.columns else [None] * n_rows
    labels = list(tax.keys) if mode == "sentences" else list(kinds)
    mapped = {b: m for b, m in tax.mapped.items() if b not in labels and set(m) & set(labels)}
    outputs = labels + list(mapped)
    per: dict[str, dict[str, list]] = {o: {k: [] for k in ("count", "sentences", "status",
                                                           "instances", "reason", "raw")}
                                       for o in outputs}
    long_rows: list[dict[str, Any]] = []
    for row in range(n_rows):
        sets: dict[str, list[dict[str, Any]]] = {}
        state: dict[str, tuple[str, int, str | None, str | None]] = {}
        for kind in kinds:
            status, merged, bare, reason, raw = _merge(results.get((row, kind), {}), layout[row])
            if kind == LABELS_JOB:
                for lb in labels:
                    sets[lb] = [m for m in merged if m.get("label") == lb]
                    state[lb] = (status, 0, reason, raw)
            else:
                sets[kind] = merged
                state[kind] = (status, bare, reason, raw)
        for b, members in mapped.items():
            st = max((state[m][0] for m in members if m in state), key=STATUS_ORDER.__getitem__)
            seen, insts = set(), []
            for m in members:
                for x in sets.get(m, []):
                    if x.get("sentence") not in seen:
                        seen.add(x.get("sentence"))
                        insts.append(x)
            sets[b] = sorted(insts, key=lambda x: (x.get("sentence") is None,
                                                   x.get("sentence") or 0))
            state[b] = (st, 0, None, None)
        for o in outputs:
            status, bare, reason, raw = state[o]
            insts = sets[o]
            sent_idx = [x.get("sentence") for x in insts]
            n_unloc = sum(1 for i in sent_idx if i is None)
            ok = status == "ok"
            p = per[o]
            p["count"].append(count_indices(sent_idx, unit) + n_unloc + bare if ok else None)
            p["sentences"].append(len({i for i in sent_idx if i is not None}) if ok else None)
            p["status"].append(status)
            p["reason"].append(reason)
            p["raw"].append(raw)
            p["instances"].append(orjson.dumps([{"quote": m["quote"], "sentence": m.get(
                "sentence"), "chunk": m["chunk"]} for m in insts]).decode())
            for m, ep in zip(insts, _episodes(sent_idx)):
                long_rows.append({"id": ids[row], "behaviour": o, "quote": m["quote"],
                                  "sentence": m.get("sentence"), "episode": ep,
                                  "chunk": m["chunk"], "explanation": m.get("explanation"),
                                  "char_start": m.get("start"), "char_end": m.get("end"),
                                  "counted": ok})
    status_counts: dict[str, dict[str, int]] = {}
    for o in outputs:
        sc: dict[str, int] = {}
        for st in per[o]["status"]:
            sc[st] = sc.get(st, 0) + 1
        status_counts[o] = sc
    frame = judgment_frame(traces, per, judge=judge, n_chunks=[len(x) for x in layout],
                           audit=True, taxonomy=tax.name, mode=mode, unit=unit,
                           n_sentences=[x[-1].last_sentence if x else 0 for x in layout])
    inst = pl.DataFrame(long_rows, schema=INSTANCE_SCHEMA) if long_rows else \
        pl.DataFrame(schema=INSTANCE_SCHEMA)
    return frame, inst, status_counts


def judge_frame(traces: pl.DataFrame, endpoint: EndpointConfig,
                config: JudgeConfig | None = None) -> pl.DataFrame:
    """The per-response judgment frame (see the module docstring)."""
    return run_judge(traces, endpoint, config).frame
