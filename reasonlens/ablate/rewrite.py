"""Style vs strategy: rewrite traces without the marker words, then re-score them.

Reviewers of arXiv 2505.21067 asked whether banning tokens removes a *style* or a *strategy*. This
hook asks an OpenAI-compatible endpoint (temperature 0, versioned template
``prompts/templates/rewrite_without_markers.toml``) to rewrite each trace without the banned
words while keeping every step, then re-scores original and rewrite: lexicon counts per 1k words
before/after, leakage of the banned words, length ratio. If the rewrite keeps accuracy and steps
but drops the markers, the markers are surface style; re-distilling on rewrites (outside this
tool) then tests the strategy.

Output is append-only JSONL (one record per trace, keyed by the trace ``id``; a rerun skips done
ids and repairs a torn last line), plus a summary JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens import registry
from reasonlens.ablate.audit import leakage
from reasonlens.errors import ConfigError, EndpointError
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


def rewrite_traces(traces: pl.DataFrame, endpoint, banned: Sequence[str], out_path: str | Path,
                   *, template: RewriteTemplate | None = None, max_tokens: int | None = None,
                   progress: bool = True) -> dict[str, Any]:
    """Rewrite every trace not yet in ``out_path``; append one record per trace."""
    from reasonlens.endpoint import EndpointPool, build_chat_request

    template = template or RewriteTemplate.load()
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if "id" not in traces.columns or "response" not in traces.columns:
        raise ConfigError("rewrite needs traces with 'id' and 'response'")
    done = _scan_done(out)
    rows = [r for r in traces.iter_rows(named=True) if str(r["id"]) not in done]
    stats = {"requested": traces.height, "skipped_existing": traces.height - len(rows),
             "written": 0, "failed": 0, "errors": []}
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    async def main():
        async with EndpointPool(endpoint) as pool:
            async def one(row):
                text = row["response"] or ""
                body = build_chat_request(endpoint.model, template.messages(text, banned),
                                          temperature=0.0, seed=0,
                                          max_tokens=max_tokens or max(256, len(text) // 2))
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
                       "response": ch.text or "", "original_response": text,
                       "finish_reason": ch.finish_reason,
                       "rewrite": {"template": f"{template.name}@{template.version}",
                                   "template_sha256": template.record["sha256"],
                                   "rewriter": endpoint.model, "banned": list(banned),
                                   "latency_s": round(time.monotonic() - t0, 3)}}
                os.write(fd, orjson.dumps(rec) + b"\n")
                os.fsync(fd)
                stats["written"] += 1
                bar.advance(1, resp.usage.get("completion_tokens", 0))
            await asyncio.gather(*(one(r) for r in rows))

    from reasonlens.generate.progress import GenProgress

    try:
        with GenProgress(len(rows), enabled=progress, description="rewrite") as bar:
            if rows:
                asyncio.run(main())
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


def rescore(rewrites: pl.DataFrame, lexicons: Sequence[str], banned: Sequence[str]
            ) -> dict[str, Any]:
    """Lexicon rates, banned-word leakage and length, original vs rewrite."""
    from reasonlens.lexicon import count_frame, load_lexicons, word_count

    lexs = load_lexicons(list(lexicons))
    out: dict[str, Any] = {"n": rewrites.height, "categories": {}, "leakage": {}, "length": {}}
    if rewrites.height == 0:
        return out
    before, after = rewrites["original_response"].fill_null(""), rewrites["response"].fill_null("")
    wb, wa = word_count(before), word_count(after)
    cb, ca = count_frame(before, lexs), count_frame(after, lexs)
    for lx in lexs:
        nb, na = int(cb[lx.name].sum()), int(ca[lx.name].sum())
        out["categories"][lx.name] = {
            "per_1k_before": 1000 * nb / max(int(wb.sum()), 1),
            "per_1k_after": 1000 * na / max(int(wa.sum()), 1),
            "count_before": nb, "count_after": na}
    for name, texts in (("before", before), ("after", after)):
        per, _ = leakage(pl.DataFrame({"response": texts}), banned)
        out["leakage"][name] = int((per["leak_count"] > 0).sum()) / rewrites.height
        out["leakage"][f"count_{name}"] = int(per["leak_count"].sum())
    out["length"] = {"words_before": int(wb.sum()), "words_after": int(wa.sum()),
                     "ratio": int(wa.sum()) / max(int(wb.sum()), 1)}
    out["empty_rewrites"] = int((after.str.strip_chars() == "").sum())
    return out
