"""Style vs strategy: rewrite traces without the marker words, then re-score them.

Reviewers of arXiv 2505.21067 asked whether banning tokens removes a *style* or a *strategy*. This
hook asks an OpenAI-compatible endpoint (temperature 0, versioned template
``prompts/templates/rewrite_without_markers.toml``) to rewrite each trace without the banned
words while keeping every step, then re-scores original and rewrite: lexicon counts per 1k words
before/after, leakage of the banned words, length ratio. If the rewrite keeps accuracy and steps
but drops the markers, the markers are surface style; re-distilling on rewrites (outside this
tool) then tests the strategy.

Output is append-only JSONL (one record per trace, keyed by the trace ``id``; a rerun skips done
ids and repairs a torn last line), plus a summary JSON. Traces are read, sent and re-scored in
batches (``iter_trace_batches``, :func:`iter_rewrite_batches`), so memory holds one batch and the
ids already done, whatever the input size; ``--dry-run`` does the loading and request building
without an endpoint.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens import registry
from reasonlens.ablate.audit import leakage
from reasonlens.errors import ConfigError, EndpointError, InputError
from reasonlens.records import read_json_records, scan_append_log

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_FIELDS = ("banned", "tag", "trace")


@dataclass(frozen=True)
class RewriteTemplate:
    name: str
    version: str
    system: str
    user: str
    record: dict[str, str]

    @classmethod
    def load(cls, ref: str = "rewrite_without_markers") -> RewriteTemplate:
        df = registry.load("template", ref)
        c = df.content
        for key in ("system", "user"):
            if not isinstance(c.get(key), str) or not c[key].strip():
                raise ConfigError(f"{df.path}: field {key!r} is required (a string)")
        for key in ("system", "user"):
            unknown = set(_PLACEHOLDER.findall(c[key])) - set(_FIELDS)
            if unknown:
                raise ConfigError(f"{df.path}: field {key!r} uses unknown placeholder(s) "
                                  f"{sorted(unknown)}; allowed: {', '.join(_FIELDS)}")
        if "{{trace}}" not in c["user"]:
            raise ConfigError(f"{df.path}: field 'user' must contain {{{{trace}}}}")
        return cls(df.name, df.version, c["system"], c["user"], df.record())

    def messages(self, trace: str, banned: Sequence[str]) -> list[dict[str, str]]:
        tag = "trace_" + hashlib.blake2b(trace.encode(), digest_size=4).hexdigest()
        while tag in trace:
            tag += "x"
        values = {"banned": ", ".join(f'"{w}"' for w in banned), "tag": tag, "trace": trace}

        def fill(s: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m.group(1)], s)
        return [{"role": "system", "content": fill(self.system)},
                {"role": "user", "content": fill(self.user)}]


def _scan_done(path: Path) -> set[str]:
    """Ids already rewritten; a torn last line (crash mid-write) is cut off."""
    done, _info = scan_append_log(path, lambda rec: str(rec["source_id"]), what="rewrite")
    return set(done)


def _batches(traces: pl.DataFrame | Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    if isinstance(traces, pl.DataFrame):
        yield traces
    else:
        yield from traces


def rewrite_jobs(traces: pl.DataFrame | Iterable[pl.DataFrame], banned: Sequence[str],
                 done: set[str], template: RewriteTemplate, *, max_tokens: int | None = None,
                 limit: int | None = None, stats: dict[str, Any] | None = None
                 ) -> Iterator[list[RewriteJob]]:
    """The requests still to send, one list per input batch (so memory holds one batch).

    ``limit`` counts traces from the start of the input, done or not (``--limit N``: the first N
    traces). ``stats`` receives ``requested`` and ``skipped_existing`` as batches go by."""
    stats = stats if stats is not None else {}
    stats.setdefault("requested", 0)
    stats.setdefault("skipped_existing", 0)
    seen = 0
    for batch in _batches(traces):
        if "id" not in batch.columns or "response" not in batch.columns:
            raise ConfigError("rewrite needs traces with 'id' and 'response'")
        if limit is not None:
            if seen >= limit:
                return
            batch = batch.head(limit - seen)
        seen += batch.height
        jobs = []
        for row in batch.select([c for c in _KEEP if c in batch.columns]).iter_rows(named=True):
            stats["requested"] += 1
            if str(row["id"]) in done:
                stats["skipped_existing"] += 1
                continue
            text = row["response"] or ""
            jobs.append(RewriteJob(row, template.messages(text, banned),
                                   max_tokens or max(256, len(text) // 2)))
        yield jobs


@dataclass(frozen=True)
class RewriteJob:
    """One trace to rewrite: its fields, the chat messages and the token limit."""

    row: dict[str, Any]
    messages: list[dict[str, str]]
    max_tokens: int


_KEEP = ("id", "model", "benchmark", "problem_id", "sample", "gold", "prompt", "response")


def plan_rewrites(traces: pl.DataFrame | Iterable[pl.DataFrame], banned: Sequence[str],
                  out_path: str | Path, *, template: RewriteTemplate | None = None,
                  max_tokens: int | None = None, limit: int | None = None) -> dict[str, Any]:
    """``--dry-run``: every request that would be sent, counted batch by batch; sends and writes
    nothing (no endpoint needed)."""
    template = template or RewriteTemplate.load()
    done = _scan_done(Path(out_path))
    stats: dict[str, Any] = {"dry_run": True}
    n = chars = tokens = 0
    for jobs in rewrite_jobs(traces, banned, done, template, max_tokens=max_tokens,
                             limit=limit, stats=stats):
        n += len(jobs)
        chars += sum(len(m["content"]) for j in jobs for m in j.messages)
        tokens += sum(j.max_tokens for j in jobs)
    stats.update(would_send=n, prompt_chars=chars, max_tokens_total=tokens)
    return stats


def rewrite_traces(traces: pl.DataFrame | Iterable[pl.DataFrame], endpoint,
                   banned: Sequence[str], out_path: str | Path, *,
                   template: RewriteTemplate | None = None, max_tokens: int | None = None,
                   limit: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Rewrite every trace not yet in ``out_path``; append one record per trace.

    ``traces``: a frame or an iterable of frames (``iter_trace_batches``): one batch is in
    memory at a time, its requests in flight together (the endpoint's concurrency bounds them).
    """
    from reasonlens.endpoint import EndpointPool, build_chat_request
    from reasonlens.generate.progress import GenProgress

    template = template or RewriteTemplate.load()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    done = _scan_done(out)
    stats: dict[str, Any] = {"written": 0, "failed": 0, "errors": []}
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def one(pool, job: RewriteJob, bar) -> None:
        row = job.row
        body = build_chat_request(endpoint.model, job.messages, temperature=0.0, seed=0,
                                  max_tokens=job.max_tokens)
        t0 = time.monotonic()
        try:
            resp = await pool.chat(body)
        except EndpointError as exc:
            stats["failed"] += 1
            if len(stats["errors"]) < 10:
                stats["errors"].append(f"{row['id']}: {exc}")
            return
        ch = resp.choices[0]
        rec = {"id": f"{row['id']}#rewrite", "source_id": str(row["id"]),
               "model": row.get("model"), "benchmark": row.get("benchmark"),
               "problem_id": row.get("problem_id"), "sample": row.get("sample"),
               "gold": row.get("gold"), "prompt": row.get("prompt"),
               "response": ch.text or "", "original_response": row["response"] or "",
               "finish_reason": ch.finish_reason,
               "rewrite": {"template": f"{template.name}@{template.version}",
                           "template_sha256": template.record["sha256"],
                           "rewriter": endpoint.model, "banned": list(banned),
                           "latency_s": round(time.monotonic() - t0, 3)}}
        os.write(fd, orjson.dumps(rec) + b"\n")
        os.fsync(fd)
        stats["written"] += 1
        bar.advance(1, resp.usage.get("completion_tokens", 0))

    async def main(bar) -> None:
        async with EndpointPool(endpoint) as pool:
            for jobs in rewrite_jobs(traces, banned, done, template, max_tokens=max_tokens,
                                     limit=limit, stats=stats):
                await asyncio.gather(*(one(pool, j, bar) for j in jobs))

    try:
        total = traces.height if isinstance(traces, pl.DataFrame) else None
        with GenProgress(total, enabled=progress, description="rewrite") as bar:
            asyncio.run(main(bar))
    finally:
        os.close(fd)
    return stats


def read_rewrites(path: str | Path) -> pl.DataFrame:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"not found: {p}")
    recs = read_json_records(p)
    return pl.DataFrame([{k: v for k, v in r.items() if k != "rewrite"} for r in recs],
                        infer_schema_length=None)


def iter_rewrite_batches(path: str | Path, batch_rows: int = 2048) -> Iterator[pl.DataFrame]:
    """The rewrite journal as frames of ``original_response`` and ``response`` (one batch in
    memory at a time)."""
    from reasonlens.records import iter_json_records

    p = Path(path)
    if not p.exists():
        raise ConfigError(f"not found: {p}")
    buf: list[tuple[str, str]] = []
    for _line, rec, _raw in iter_json_records(p):
        if isinstance(rec, InputError):
            raise rec
        buf.append((rec.get("original_response") or "", rec.get("response") or ""))
        if len(buf) >= batch_rows:
            yield _pairs_frame(buf)
            buf = []
    if buf:
        yield _pairs_frame(buf)


def _pairs_frame(pairs: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame({"original_response": [a for a, _ in pairs],
                         "response": [b for _, b in pairs]},
                        schema={"original_response": pl.String, "response": pl.String})


def rescore(rewrites: pl.DataFrame | Iterable[pl.DataFrame], lexicons: Sequence[str],
            banned: Sequence[str]) -> dict[str, Any]:
    """Lexicon rates, banned-word leakage and length, original vs rewrite. ``rewrites``: a frame
    or batches of one (:func:`iter_rewrite_batches`); counts add over batches, rates are taken
    after the sum."""
    from reasonlens.lexicon import load_lexicons

    lexs = load_lexicons(list(lexicons))
    tot: dict[str, int] = {}
    for batch in _batches(rewrites):
        for k, v in _rescore_counts(batch, lexs, banned).items():
            tot[k] = tot.get(k, 0) + v
    n = tot.get("n", 0)
    out: dict[str, Any] = {"n": n, "categories": {}, "leakage": {}, "length": {}}
    if n == 0:
        return out
    wb, wa = tot["words_before"], tot["words_after"]
    for lx in lexs:
        nb, na = tot[f"cat_before:{lx.name}"], tot[f"cat_after:{lx.name}"]
        out["categories"][lx.name] = {"per_1k_before": 1000 * nb / max(wb, 1),
                                      "per_1k_after": 1000 * na / max(wa, 1),
                                      "count_before": nb, "count_after": na}
    for name in ("before", "after"):
        out["leakage"][name] = tot[f"leaky_{name}"] / n
        out["leakage"][f"count_{name}"] = tot[f"leaks_{name}"]
    out["length"] = {"words_before": wb, "words_after": wa, "ratio": wa / max(wb, 1)}
    out["empty_rewrites"] = tot["empty"]
    return out


def _rescore_counts(batch: pl.DataFrame, lexs, banned: Sequence[str]) -> dict[str, int]:
    from reasonlens.lexicon import count_frame, word_count

    if batch.height == 0:
        return {}
    before = batch["original_response"].fill_null("")
    after = batch["response"].fill_null("")
    out = {"n": batch.height, "words_before": int(word_count(before).sum()),
           "words_after": int(word_count(after).sum()),
           "empty": int((after.str.strip_chars() == "").sum())}
    for name, texts in (("before", before), ("after", after)):
        counts = count_frame(texts, lexs)
        for lx in lexs:
            out[f"cat_{name}:{lx.name}"] = int(counts[lx.name].sum())
        per, _ = leakage(pl.DataFrame({"response": texts}), banned)
        out[f"leaky_{name}"] = int((per["leak_count"] > 0).sum())
        out[f"leaks_{name}"] = int(per["leak_count"].sum())
    return out
