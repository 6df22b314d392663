"""Sampling through OpenAI-compatible servers (vLLM, SGLang, llama.cpp, OpenAI).

Async with bounded concurrency over :class:`reasonlens.endpoint.EndpointPool` (retries, backoff,
Retry-After and several base URLs live there). Output is append-only JSONL, one record per
sample, flushed and fsynced; a rerun with the same output skips finished samples and repairs a
torn last line, so ``kill -9`` at any moment loses or duplicates nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.problems.prompts import Template, load_template, render_prompt
from reasonlens.endpoint import EndpointConfig, EndpointPool, build_chat_request
from reasonlens.errors import ConfigError, EndpointError
from reasonlens.generate.config import (SamplingConfig, WorkUnit, build_record, plan_work,
                                        response_text)
from reasonlens.generate.progress import GenProgress
from reasonlens.generate.store import JsonlAppender, repair_and_scan
from reasonlens.io import read_json, write_json
from reasonlens.provenance import content_hash, provenance, weights_fingerprint

log = logging.getLogger(__name__)


def sidecar_path(out_path: str | Path) -> Path:
    p = Path(out_path)
    return p.with_name(p.name + ".provenance.json")


def fingerprint_of(model: str, served_model: str, sampling: SamplingConfig, template: Template,
                   condition: dict | None) -> dict[str, Any]:
    """What a resumed output must have been generated with (every backend records the same).
    A served model that is a local checkpoint adds its weights (file sizes and times)."""
    out = {"model": model, "served_model": served_model, "sampling": sampling.fingerprint(),
           "template": template.record()["sha256"],
           "condition": content_hash(condition) if condition else None}
    weights = weights_fingerprint(served_model)
    if weights is not None:
        out["weights"] = weights
    return out


def check_resume(out_path: Path, fingerprint: dict[str, Any]) -> None:
    """Refuse to append samples made with different settings to an existing output."""
    side = sidecar_path(out_path)
    if not (out_path.exists() and out_path.stat().st_size and side.exists()):
        return
    try:
        old = read_json(side).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        return
    if old is not None and old != fingerprint:
        diff = sorted(k for k in set(old) | set(fingerprint) if old.get(k) != fingerprint.get(k))
        raise ConfigError(f"{out_path} was generated with different settings ({', '.join(diff)}); "
                          "resume only with the same model, template, sampling and condition, "
                          "or write to a new --out")


def request_body(model: str, messages: list[dict[str, str]], sampling: SamplingConfig, *,
                 n: int, seed: int | None) -> dict[str, Any]:
    """The chat request for one sample (n=1) or several (n>1). A trailing assistant message is
    a prefix to continue (vLLM's continue_final_message)."""
    extra = dict(sampling.extra_body or {})
    if messages and messages[-1]["role"] == "assistant":
        extra.setdefault("continue_final_message", True)
        extra.setdefault("add_generation_prompt", False)
    return build_chat_request(model, messages, temperature=sampling.temperature,
                              top_p=sampling.top_p, max_tokens=sampling.max_tokens, seed=seed,
                              n=n, stop=list(sampling.stop) if sampling.stop else None,
                              logit_bias=sampling.logit_bias, extra=extra or None)


class _Generator:
    def __init__(self, pool: EndpointPool, endpoint: EndpointConfig, sampling: SamplingConfig,
                 template: Template, model_name: str, condition: dict | None,
                 writer: JsonlAppender, bar: GenProgress):
        self.pool, self.endpoint, self.sampling = pool, endpoint, sampling
        self.template, self.model_name, self.condition = template, model_name, condition
        self.writer, self.bar = writer, bar
        self.honours_n: bool | None = {"separate": False, "server": True}.get(sampling.n_mode)
        self.failed: list[str] = []
        self.n_failed = 0

    async def _request(self, unit: WorkUnit, samples: tuple[int, ...]) -> int:
        """Request ``samples`` of one problem in one call; write what comes back. Returns the
        number of choices written."""
        msgs = render_prompt(unit.row, self.template)
        seed = self.sampling.seed_for(samples[0])
        body = request_body(self.endpoint.model, msgs, self.sampling, n=len(samples), seed=seed)
        t0 = time.monotonic()
        resp = await self.pool.chat(body)
        latency = time.monotonic() - t0
        user = next(m["content"] for m in msgs if m["role"] == "user")
        choices = sorted(resp.choices, key=lambda c: c.index)[:len(samples)]
        one = len(choices) == 1   # usage then belongs to this one choice
        written = 0
        for s, ch in zip(samples, choices):
            text = response_text(ch.text, ch.reasoning, self.template.assistant_prefix)
            rec = build_record(
                unit.row, s, model=self.model_name, prompt=user, response=text,
                finish_reason=ch.finish_reason, prompt_tokens=resp.usage.get("prompt_tokens"),
                completion_tokens=resp.usage.get("completion_tokens") if one else None,
                condition=self.condition,
                extra={"template": f"{self.template.name}@{self.template.version}",
                       "seed": seed, "request_n": len(samples), "choice_index": ch.index,
                       "served_model": resp.model, "latency_s": round(latency, 3),
                       "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
            self.writer.write(rec)
            written += 1
            self.bar.advance(1, resp.usage.get("completion_tokens", 0) if one else 0)
        if not one and written:
            self.bar.advance(0, resp.usage.get("completion_tokens", 0))
        return written

    async def _separate(self, unit: WorkUnit, s: int) -> None:
        try:
            await self._request(unit, (s,))
        except EndpointError as exc:
            self._fail(unit, s, exc)

    def _fail(self, unit: WorkUnit, s: int, exc: Exception) -> None:
        self.n_failed += 1
        self.bar.fail()
        if len(self.failed) < 10:
            self.failed.append(f"{unit.row['benchmark']}/{unit.row['problem_id']}#{s}: {exc}")
        log.warning("sample %s/%s#%d failed: %s", unit.row["benchmark"],
                    unit.row["problem_id"], s, exc)

    async def unit(self, unit: WorkUnit) -> None:
        """All missing samples of one problem."""
        samples = unit.samples
        if len(samples) > 1 and self.honours_n is not False:
            try:
                got = await self._request(unit, samples)
            except EndpointError as exc:
                # some servers reject n > 1 outright: fall back to one request per sample
                log.info("n=%d request failed (%s); sending separate requests", len(samples), exc)
                got = 0
                if self.honours_n is None:
                    self.honours_n = False
            if self.honours_n is None:
                self.honours_n = got == len(samples)
                log.info("server %s n>1 (%d of %d choices)", "honours" if self.honours_n
                         else "ignores", got, len(samples))
            samples = samples[got:]
        for s in samples:
            await self._separate(unit, s)


async def _run(units: list[WorkUnit], gen: _Generator, concurrency: int) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    first = None
    if gen.honours_n is None:
        first = next((u for u in units if len(u.samples) > 1), None)
        if first is not None:   # probe once whether the server honours n
            await gen.unit(first)
    tasks: list[tuple[str, Any]] = []
    for u in units:
        if u is first:
            continue
        if len(u.samples) > 1 and gen.honours_n:
            tasks.append(("unit", u))
        else:
            tasks.extend(("one", (u, s)) for s in u.samples)
    for t in tasks:
        queue.put_nowait(t)

    async def worker() -> None:
        while True:
            try:
                kind, item = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if kind == "unit":
                await gen.unit(item)
            else:
                await gen._separate(*item)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))


def run_generation(problems: pl.DataFrame, endpoint: EndpointConfig, sampling: SamplingConfig,
                   out_path: str | Path, *, model_name: str | None = None,
                   condition: dict | None = None, progress: bool = True) -> dict[str, Any]:
    """Generate ``sampling.n`` samples per problem into ``out_path`` (JSONL, resumable).

    Args:
        problems: a problem frame (:func:`reasonlens.problems.load_benchmark`): problem_id, problem,
            and optionally benchmark, gold, answer_type, choices.
        endpoint: where to send (one or more base URLs, concurrency, retries).
        sampling: a :class:`SamplingConfig`.
        out_path: the JSONL output; existing finished samples are kept and skipped.
        model_name: the name recorded in traces (default: ``endpoint.model``).
        condition: free description of the run condition (ablation), stored in every record.
        progress: show a progress bar with throughput on stderr.

    Returns:
        A summary: requested, skipped_existing, written, failed, errors, usage, seconds,
        samples_per_s, tokens_per_s, repaired_bytes, output.
    """
    out = Path(out_path)
    template = load_template(sampling.template)
    model = model_name or endpoint.model
    fingerprint = fingerprint_of(model, endpoint.model, sampling, template, condition)
    check_resume(out, fingerprint)
    done, info = repair_and_scan(out)
    units, skipped = plan_work(problems, sampling.n, done)
    todo = sum(len(u.samples) for u in units)
    prov = provenance(command="generate", config={
        "sampling": sampling.as_dict(), "endpoint": endpoint.public(), "model": model,
        "condition": condition, "n_problems": problems.height},
        data_files=[template.record()])
    side = {"fingerprint": fingerprint, "provenance": prov, "status": "running"}
    write_json(sidecar_path(out), side)
    t0 = time.monotonic()
    with JsonlAppender(out) as writer, GenProgress(todo, enabled=progress) as bar:
        async def main() -> _Generator:
            async with EndpointPool(endpoint, seed=sampling.seed) as pool:
                gen = _Generator(pool, endpoint, sampling, template, model, condition, writer,
                                 bar)
                await _run(units, gen, endpoint.concurrency)
                gen.usage = pool.usage.as_dict()  # type: ignore[attr-defined]
                return gen
        gen = asyncio.run(main()) if todo else None
    secs = time.monotonic() - t0
    usage = getattr(gen, "usage", {}) if gen else {}
    summary = {
        "output": str(out), "requested": todo + skipped, "skipped_existing": skipped,
        "written": writer.n_written, "failed": gen.n_failed if gen else 0,
        "errors": gen.failed if gen else [], "repaired_bytes": info["repaired_bytes"],
        "duplicates_found": info["duplicates"], "usage": usage, "seconds": round(secs, 3),
        "samples_per_s": round(writer.n_written / secs, 3) if secs > 0 else None,
        "tokens_per_s": round(usage.get("completion_tokens", 0) / secs, 2) if secs > 0
        else None,
        "server_honours_n": gen.honours_n if gen else None,
    }
    side.update(status="complete" if summary["failed"] == 0 else "incomplete", summary=summary)
    write_json(sidecar_path(out), side)
    return summary
