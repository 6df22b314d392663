"""Pure halves of the behaviour judge: build the chat request for one chunk and one rubric, and
parse the judge's reply into a count with validated evidence. No network, no state.

Trace text is data, not instructions: it is wrapped in ``<trace_XXXXXXXX>`` tags whose name is
derived from a hash of the chunk (so it cannot be guessed by the text, and is stable for the
cache) and never occurs in the text; the system message and a reminder after the trace tell the
judge to ignore instructions inside. Sentences are prefixed ``[S12]`` so the judge can cite them.

The parser accepts JSON, JSON in a code fence, JSON followed or preceded by prose, and a
``<count>N</count>`` tag (with ``<quote>`` tags as evidence). Every quote must be found in the
chunk (whitespace-, case- and quote-mark-insensitive; ``...`` may elide text). A reply whose
``count`` differs from the number of instances it lists, that gives a positive count without
evidence, or whose quotes are mostly not in the trace, is a ``parse_error``; so is a reply with
nothing parseable. Refusals are ``refusal``. Neither is ever a count of 0; the raw reply is kept.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from reasonlens.endpoint import build_chat_request
from reasonlens.errors import ConfigError
from reasonlens.judge.chunking import Chunk
from reasonlens.judge.sentences import Sentence, locate_quote, sentence_at
from reasonlens.judge.rubrics import Rubric, Template, format_examples, render

STRUCTURED_MODES = ("auto", "json_schema", "json_object", "none")
REPLY_SCHEMA_VERSION = "1"

REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "rationale": {"type": "string"},
        "instances": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "quote": {"type": "string"},
                    "sentence": {"type": "integer"},
                    "explanation": {"type": "string"},
                },
                "required": ["quote", "sentence", "explanation"],
                "additionalProperties": False,
            },
        },
        "count": {"type": "integer"},
    },
    "required": ["rationale", "instances", "count"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class RequestParams:
    """Sampling parameters of a judge call. Temperature 0 by default."""

    temperature: float = 0.0
    top_p: float | None = None
    seed: int | None = None
    max_tokens: int = 1024

    @property
    def sampled(self) -> bool:
        """True when two identical requests may legitimately get different replies."""
        return self.temperature > 0 and self.seed is None


def response_format(mode: str) -> dict[str, Any] | None:
    """The ``response_format`` field for a structured-output mode (``auto`` starts as schema)."""
    if mode not in STRUCTURED_MODES:
        raise ConfigError(f"--structured must be one of {', '.join(STRUCTURED_MODES)}, got "
                          f"{mode!r}")
    if mode in ("json_schema", "auto"):
        return {"type": "json_schema",
                "json_schema": {"name": "behaviour_judgment", "strict": True,
                                "schema": REPLY_SCHEMA}}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


def delimiter_tag(*texts: str) -> str:
    """``trace_`` + 8 hex digits from a hash of the texts, re-drawn until no text contains it."""
    salt = 0
    while True:
        h = hashlib.blake2b(digest_size=4)
        for t in texts:
            h.update(t.encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
        h.update(str(salt).encode())
        tag = "trace_" + h.hexdigest()
        if not any(tag in t for t in texts):
            return tag
        salt += 1


def number_sentences(chunk: Chunk, sentences: list[Sentence]) -> str:
    """The chunk text with ``[Sn] `` before each sentence (and at the chunk start when the chunk
    begins mid-sentence). Everything else is left exactly as it is."""
    marks: list[tuple[int, int]] = []
    for s in sentences:
        if s.end <= chunk.start or s.start >= chunk.end:
            continue
        marks.append((max(s.start, chunk.start) - chunk.start, s.index))
    if not marks or marks[0][0] > 0:
        first = sentence_at(sentences, chunk.start) or 1
        marks.insert(0, (0, first))
    out, pos = [], 0
    for off, idx in marks:
        out.append(chunk.text[pos:off])
        out.append(f"[S{idx}] ")
        pos = off
    out.append(chunk.text[pos:])
    return "".join(out)


def chunk_messages(template: Template, chunk: Chunk, sentences: list[Sentence],
                   values: dict[str, str], *, n_chunks: int = 1, problem: str | None = None
                   ) -> list[dict[str, str]]:
    """System and user messages of ``template`` for ``chunk``: the chunk's placeholders (tag,
    numbered trace, sentence range, problem block, chunk note) plus ``values``. Pure."""
    tag = delimiter_tag(chunk.text, problem or "")
    values = {**values, "tag": tag, "trace": number_sentences(chunk, sentences),
              "first_sentence": str(chunk.first_sentence),
              "last_sentence": str(chunk.last_sentence),
              "chunk_number": str(chunk.index + 1), "n_chunks": str(n_chunks), "problem": ""}
    if problem and problem.strip() and template.problem_block:
        values["problem_block"] = render(template.problem_block,
                                         {**values, "problem": problem.strip()})
    else:
        values["problem_block"] = ""
    values["chunk_note"] = render(template.chunk_note, values) if n_chunks > 1 else ""
    return [{"role": "system", "content": render(template.system, values)},
            {"role": "user", "content": render(template.user, values)}]


def build_messages(rubric: Rubric, template: Template, chunk: Chunk, sentences: list[Sentence],
                   *, n_chunks: int = 1, problem: str | None = None) -> list[dict[str, str]]:
    """System and user messages for judging ``rubric`` on ``chunk``. Pure."""
    values = {"title": rubric.title, "definition": rubric.definition,
              "count_rule": rubric.count_rule, "notes": rubric.notes or "(none)",
              "positive_examples": format_examples(rubric.positive_examples),
              "negative_examples": format_examples(rubric.negative_examples)}
    return chunk_messages(template, chunk, sentences, values, n_chunks=n_chunks,
                          problem=problem)


def build_judge_request(model: str, messages: list[dict[str, str]], params: RequestParams,
                        structured: str) -> dict[str, Any]:
    """The chat-completions body (through :func:`reasonlens.endpoint.build_chat_request`)."""
    return build_chat_request(model, messages, temperature=params.temperature,
                              top_p=params.top_p, max_tokens=params.max_tokens,
                              seed=params.seed, response_format=response_format(structured))


def cache_key_material(*, model: str, messages: list[dict[str, str]], rubric: Rubric,
                       template: Template, params: RequestParams, structured: str
                       ) -> dict[str, Any]:
    """The canonical request a cache key is hashed from: model, rubric name/version/hash,
    template version/hash, the messages (which hold the chunk text), the sampling parameters
    and the configured structured-output mode. No base URL, no headers, no key."""
    return {"model": model, "messages": messages,
            "rubric": {"name": rubric.name, "version": rubric.version, "sha256": rubric.sha256},
            "template": {"name": template.name, "version": template.version,
                         "sha256": template.sha256},
            "params": asdict(params), "structured": structured,
            "reply_schema": REPLY_SCHEMA_VERSION}


# --- parsing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ParseConfig:
    """How strict the parser is. ``min_valid_fraction``: share of listed quotes that must be found
    in the chunk; ``require_evidence``: a positive count needs listed instances."""

    min_valid_fraction: float = 0.5
    require_evidence: bool = True


@dataclass(frozen=True)
class Judgment:
    """A parsed reply. ``count`` is None unless ``status == "ok"``. ``instances`` carry
    ``quote``, ``sentence``, ``explanation`` and ``start``/``end`` (offsets in the chunk)."""

    status: str
    count: int | None
    instances: tuple[dict[str, Any], ...] = ()
    reported_count: int | None = None
    rejected: tuple[dict[str, Any], ...] = ()
    rationale: str | None = None
    reason: str | None = None
    raw: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["instances"] = list(self.instances)
        d["rejected"] = list(self.rejected)
        return d


_REFUSAL = re.compile(
    r"^\W*(i'?m sorry|i am sorry|sorry,|i can(?:no|')t (?:help|assist|comply|do that|provide)"
    r"|i cannot (?:help|assist|comply|do that|provide)|i won'?t|i'm not able to|i am not able to"
    r"|as an ai\b|i must decline|i'm unable|i am unable)", re.I)
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.S)
_COUNT_TAG = re.compile(r"<count>\s*(-?\d+)\s*</count>", re.I)
_QUOTE_TAG = re.compile(r"<quote>(.*?)</quote>", re.I | re.S)
def _as_int(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*\d+\s*", v):
        return int(v)
    return None


def _is_judgment(obj: Any) -> dict[str, Any] | None:
    return obj if isinstance(obj, dict) and ("count" in obj or "instances" in obj) else None


def extract_json(text: str, accept: Callable[[Any], dict[str, Any] | None] = _is_judgment
                 ) -> dict[str, Any] | None:
    """The first JSON value in ``text`` that ``accept`` takes (default: an object with ``count``
    or ``instances``): whole text, fenced blocks, then any ``{`` with trailing text ignored."""
    candidates: list[str] = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    for c in candidates:
        try:
            got = accept(json.loads(c))
        except ValueError:
            continue
        if got is not None:
            return got
    dec = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            got = accept(dec.raw_decode(text, m.start())[0])
        except ValueError:
            continue
        if got is not None:
            return got
    return None


def unusable_reply(raw: str, finish_reason: str | None, refusal: str | None
                   ) -> Judgment | None:
    """The judgment for a reply that cannot hold an answer (refusal, content filter, empty),
    else None."""
    if refusal:
        return Judgment("refusal", None, reason=f"refusal: {refusal[:300]}", raw=raw or refusal)
    if finish_reason == "content_filter":
        return Judgment("refusal", None, reason="finish_reason=content_filter", raw=raw)
    if not raw.strip():
        return Judgment("parse_error", None, reason="empty reply", raw=raw)
    return None


def no_answer(raw: str, finish_reason: str | None, expected: str) -> Judgment:
    """The judgment for a reply in which no answer was found."""
    if _REFUSAL.search(raw):
        return Judgment("refusal", None, reason="the judge declined", raw=raw)
    why = ("reply truncated at max_tokens (finish_reason=length)" if finish_reason == "length"
           else f"no {expected}")
    return Judgment("parse_error", None, reason=why, raw=raw)


def _from_tags(text: str) -> dict[str, Any] | None:
    m = _COUNT_TAG.search(text)
    if not m:
        return None
    quotes = [q.strip() for q in _QUOTE_TAG.findall(text) if q.strip()]
    return {"count": int(m.group(1)),
            "instances": [{"quote": q, "sentence": None, "explanation": ""} for q in quotes],
            "_format": "count_tag"}


def parse_judgment(reply: str | None, chunk: Chunk, sentences: list[Sentence], *,
                   finish_reason: str | None = None, refusal: str | None = None,
                   config: ParseConfig | None = None) -> Judgment:
    """Parse one judge reply for ``chunk``. Pure; never raises on bad replies."""
    cfg = config or ParseConfig()
    raw = reply if reply is not None else ""
    bad = unusable_reply(raw, finish_reason, refusal)
    if bad is not None:
        return bad
    obj = extract_json(raw)
    fmt = "json"
    if obj is None:
        obj = _from_tags(raw)
        fmt = "count_tag"
    if obj is None:
        return no_answer(raw, finish_reason, "JSON object with 'count'/'instances' and no "
                                             "<count> tag")
    return _validate(obj, fmt, raw, chunk, sentences, cfg)


def _validate(obj: dict[str, Any], fmt: str, raw: str, chunk: Chunk,
              sentences: list[Sentence], cfg: ParseConfig) -> Judgment:
    rationale = obj.get("rationale") if isinstance(obj.get("rationale"), str) else None
    reported = _as_int(obj.get("count")) if "count" in obj else None
    if "count" in obj and (reported is None or reported < 0):
        return Judgment("parse_error", None, reason=f"count is not a non-negative integer: "
                        f"{obj.get('count')!r}", raw=raw, rationale=rationale)
    listed_raw = obj.get("instances", [])
    if listed_raw is None:
        listed_raw = []
    if not isinstance(listed_raw, list):
        return Judgment("parse_error", None, reason="'instances' is not a list", raw=raw,
                        reported_count=reported, rationale=rationale)
    listed: list[dict[str, Any]] = []
    for it in listed_raw:
        if isinstance(it, str):
            it = {"quote": it}
        if not isinstance(it, dict) or not isinstance(it.get("quote"), str) \
                or not it["quote"].strip():
            return Judgment("parse_error", None, reason=f"instance without a quote: {it!r}"[:300],
                            raw=raw, reported_count=reported, rationale=rationale)
        listed.append(it)
    if reported is None and "instances" not in obj:
        return Judgment("parse_error", None, reason="neither 'count' nor 'instances'", raw=raw)
    if reported is not None and listed and reported != len(listed):
        return Judgment("parse_error", None, reported_count=reported, rationale=rationale,
                        reason=f"count {reported} inconsistent with the {len(listed)} instances "
                               "listed", raw=raw)
    if reported and not listed and cfg.require_evidence:
        return Judgment("parse_error", None, reported_count=reported, rationale=rationale,
                        reason=f"count {reported} given without evidence (no instances)",
                        raw=raw)
    if reported and not listed:  # evidence not required: a bare count
        return Judgment("ok", reported, reported_count=reported, rationale=rationale, raw=raw,
                        extra={"format": fmt, "evidence": False})
    found: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    seen: set[tuple[int, int]] = set()
    cache: dict = {}
    for it in listed:
        claimed = _as_int(it.get("sentence"))
        expl = it.get("explanation") if isinstance(it.get("explanation"), str) else ""
        span = locate_quote(it["quote"], chunk.text, cache)
        if span is None:
            rejected.append({"quote": it["quote"], "sentence": claimed,
                             "reason": "quote not found in the trace"})
            continue
        if span in seen:
            rejected.append({"quote": it["quote"], "sentence": claimed, "reason": "duplicate"})
            continue
        seen.add(span)
        sent = sentence_at(sentences, chunk.start + span[0])
        found.append({"quote": chunk.text[span[0]:span[1]], "sentence": sent,
                      "explanation": expl, "start": span[0], "end": span[1],
                      "claimed_sentence": claimed})
    not_found = sum(1 for r in rejected if r["reason"] != "duplicate")
    if listed and (len(listed) - not_found) < cfg.min_valid_fraction * len(listed):
        return Judgment("parse_error", None, reported_count=reported, rationale=rationale,
                        rejected=tuple(rejected), raw=raw,
                        reason=f"{not_found} of {len(listed)} quoted instances are not in the "
                               "trace")
    found.sort(key=lambda x: x["start"])
    return Judgment("ok", len(found), instances=tuple(found), reported_count=reported,
                    rejected=tuple(rejected), rationale=rationale, raw=raw,
                    extra={"format": fmt})
