"""The sentence-labelling judge mode (pure halves): ONE request per chunk asks, for every label of
a taxonomy, which numbered sentences carry it; the reply is parsed into sentence indices per label.

Cheaper than the per-behaviour counting mode (one call per chunk instead of one per behaviour and
chunk) and directly comparable with sentence-level human labels. The prompt numbers sentences as
the counting mode does (:func:`reasonlens.judge.request.number_sentences`), and the trace stays
data inside unguessable delimiters.

Parsing: the first JSON object with a ``labels`` object (or whose keys are label keys), taken from
the whole reply, a code fence or the first ``{`` on. Sentence numbers must be integers inside the
chunk; numbers outside it are rejected, and a reply where more than half the numbers are rejected,
or that names no label key at all, is a ``parse_error`` (never an empty labelling).
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from reasonlens.endpoint import build_chat_request
from reasonlens.judge.chunking import Chunk
from reasonlens.judge.request import (Judgment, RequestParams, chunk_messages, extract_json,
                                      no_answer, unusable_reply)
from reasonlens.judge.rubrics import Template
from reasonlens.judge.sentences import Sentence
from reasonlens.judge.taxonomy import Taxonomy

LABEL_REPLY_VERSION = "1"


def reply_schema(tax: Taxonomy) -> dict[str, Any]:
    arr = {"type": "array", "items": {"type": "integer"}}
    return {"type": "object", "properties": {"labels": {
        "type": "object", "properties": {k: arr for k in tax.keys}, "required": list(tax.keys),
        "additionalProperties": False}}, "required": ["labels"], "additionalProperties": False}


def response_format(mode: str, tax: Taxonomy) -> dict[str, Any] | None:
    if mode in ("json_schema", "auto"):
        return {"type": "json_schema", "json_schema": {"name": "sentence_labels", "strict": True,
                                                       "schema": reply_schema(tax)}}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def _labels_block(tax: Taxonomy) -> str:
    parts = []
    for lb in tax.labels:
        ex = "; ".join(f'"{e}"' for e in lb.examples) or "(none)"
        parts.append(f"- {lb.key} ({lb.title}): {lb.definition}\n  Examples: {ex}")
    return "\n".join(parts)


def build_messages(tax: Taxonomy, template: Template, chunk: Chunk, sentences: list[Sentence],
                   *, n_chunks: int = 1, problem: str | None = None) -> list[dict[str, str]]:
    """System and user messages for labelling ``chunk`` with ``tax``. Pure."""
    values = {"taxonomy_title": tax.title, "labels": _labels_block(tax),
              "label_keys": ", ".join(tax.keys)}
    return chunk_messages(template, chunk, sentences, values, n_chunks=n_chunks,
                          problem=problem)


def build_request(model: str, messages: list[dict[str, str]], params: RequestParams,
                  structured: str, tax: Taxonomy) -> dict[str, Any]:
    return build_chat_request(model, messages, temperature=params.temperature,
                              top_p=params.top_p, max_tokens=params.max_tokens, seed=params.seed,
                              response_format=response_format(structured, tax))


def cache_key_material(*, model: str, messages: list[dict[str, str]], tax: Taxonomy,
                       template: Template, params: RequestParams, structured: str
                       ) -> dict[str, Any]:
    return {"mode": "sentences", "model": model, "messages": messages,
            "taxonomy": {"name": tax.name, "version": tax.version, "sha256": tax.sha256},
            "template": {"name": template.name, "version": template.version,
                         "sha256": template.sha256},
            "params": asdict(params), "structured": structured,
            "reply_schema": LABEL_REPLY_VERSION}


def _accept(keys: tuple[str, ...]):
    def usable(obj: Any) -> dict[str, Any] | None:
        if not isinstance(obj, dict):
            return None
        if isinstance(obj.get("labels"), dict):
            return obj["labels"]
        return obj if any(k in obj for k in keys) else None
    return usable


def parse_labels(reply: str | None, chunk: Chunk, sentences: list[Sentence], tax: Taxonomy, *,
                 finish_reason: str | None = None, refusal: str | None = None) -> Judgment:
    """Parse one sentence-labelling reply. ``extra["labels"]``: label -> sorted sentence
    numbers; ``instances``: one per (label, sentence) with the sentence text as quote."""
    raw = reply or ""
    bad = unusable_reply(raw, finish_reason, refusal)
    if bad is not None:
        return bad
    obj = extract_json(raw, _accept(tax.keys))
    if obj is None:
        return no_answer(raw, finish_reason, "JSON object with 'labels' or label keys")
    by_index = {s.index: s for s in sentences}
    lo, hi = chunk.first_sentence, chunk.last_sentence
    labels: dict[str, list[int]] = {}
    rejected: list[dict[str, Any]] = []
    n_given = 0
    for k in tax.keys:
        vals = obj.get(k, [])
        if not isinstance(vals, list):
            vals = [vals]
        good = set()
        for v in vals:
            n_given += 1
            i = v if isinstance(v, int) and not isinstance(v, bool) else None
            if isinstance(v, str) and re.fullmatch(r"\s*\[?S?(\d+)\]?\s*", v):
                i = int(re.sub(r"\D", "", v))
            if i is None or not lo <= i <= hi or i not in by_index:
                rejected.append({"label": k, "sentence": v, "reason": "not a sentence number "
                                 "of this chunk"})
            else:
                good.add(i)
        labels[k] = sorted(good)
    unknown = sorted(set(obj) - set(tax.keys))
    if not any(k in obj for k in tax.keys):
        return Judgment("parse_error", None, reason="the reply names none of the label keys",
                        raw=raw)
    if n_given and len(rejected) > n_given / 2:
        return Judgment("parse_error", None, rejected=tuple(rejected), raw=raw,
                        reason=f"{len(rejected)} of {n_given} sentence numbers are not in the "
                               "chunk")
    insts = []
    for k, idx in labels.items():
        for i in idx:
            s = by_index[i]
            a, b = max(s.start, chunk.start) - chunk.start, min(s.end, chunk.end) - chunk.start
            insts.append({"label": k, "quote": s.text, "sentence": i, "explanation": "",
                          "start": a, "end": b})
    return Judgment("ok", sum(len(v) for v in labels.values()), instances=tuple(insts),
                    rejected=tuple(rejected), raw=raw,
                    extra={"labels": labels, "unknown_keys": unknown,
                           "missing_keys": [k for k in tax.keys if k not in obj]})
