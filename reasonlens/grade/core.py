"""Grading: extraction, the strict integer path, letter matching and Math-Verify in workers.

``grade_one`` grades one response (safe to call in-process, e.g. as an RL reward: Math-Verify runs
in worker processes with a hard wall-clock timeout). ``grade_frame`` grades a trace frame, sending
only the items that need symbolic checking to the worker pool, de-duplicated.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

import orjson
import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.grade.extract import (canonical_text, exact_number, extract_answer,
                                      normalize_integer, normalize_letter, split_answer)
from reasonlens.grade.verify import VerifyItem, VerifyOutcome, shared_pool

log = logging.getLogger(__name__)

ANSWER_TYPES = ("integer", "expression", "choice")
REASONS = ("ok", "no_answer", "truncated", "parse_error", "timeout", "no_gold")


@dataclass(frozen=True)
class GradeConfig:
    """How to grade.

    Attributes:
        timeout: wall-clock seconds per symbolic (Math-Verify) item; the worker is killed after it.
        workers: Math-Verify worker processes.
        include_reasoning: grade the whole response, not only the part after ``</think>``.
        integer_fallback: for integer answers that are not plain integers ("\\frac{50}{2}"), ask
            Math-Verify; when False such answers are simply wrong.
        raw_fallback: for expression answers with nothing extracted and not cut off, let
            Math-Verify search the last ``raw_chars`` characters of the answer.
        tail_chars: how much of the end of a long answer the phrase/bold/letter fallbacks search.
        max_answer_chars: longer extracted answers are not sent to Math-Verify (parse_error).
        mem_mb: address-space limit per worker process (0: none).
        letters: valid multiple-choice letters.
    """

    timeout: float = 5.0
    workers: int = 2
    include_reasoning: bool = False
    integer_fallback: bool = True
    raw_fallback: bool = True
    raw_chars: int = 2000
    tail_chars: int = 20000
    max_answer_chars: int = 2000
    mem_mb: int = 4096
    letters: str = "ABCD"

    def __post_init__(self):
        if self.timeout <= 0:
            raise ConfigError("--timeout must be > 0 seconds")
        if self.workers < 1:
            raise ConfigError("--workers must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GradeResult:
    extracted: str | None
    correct: bool | None
    reason: str
    detail: str = ""


@dataclass(frozen=True)
class _Pending:
    extracted: str | None
    item: VerifyItem
    truncated: bool


def integer_alternatives(gold: str) -> list[int]:
    """Several accepted integers ("080 or 081"), else []."""
    parts = re.split(r"\s+or\s+|\s*;\s*", gold.strip())
    if len(parts) < 2:
        return []
    vals = [normalize_integer(p) for p in parts]
    return [v for v in vals if v is not None] if all(v is not None for v in vals) else []


def _ungradable(finish_reason: str | None, think_closed: bool | None) -> str:
    if finish_reason == "length" or think_closed is False:
        return "truncated"
    return "no_answer"


def prepare(response: str | None, gold: str | None, answer_type: str, *,
            finish_reason: str | None = None, config: GradeConfig) -> GradeResult | _Pending:
    """Everything that can be decided without Math-Verify; else the item to send to a worker."""
    if answer_type not in ANSWER_TYPES:
        raise ConfigError(f"unknown answer type {answer_type!r}; valid: {', '.join(ANSWER_TYPES)}")
    part = split_answer(response or "", include_reasoning=config.include_reasoning)
    extracted = extract_answer(part.text, answer_type, tail_chars=config.tail_chars,
                               letters=config.letters) if part.text else None
    truncated = finish_reason == "length" or part.think_closed is False
    if gold is None or not str(gold).strip():
        return GradeResult(extracted, None, "no_gold")
    gold = str(gold).strip()
    if extracted is None:
        # Math-Verify's own search of the text, for complete expression answers only: in a cut-off
        # response (or an integer one) it would pick up any number of the reasoning
        if answer_type == "expression" and config.raw_fallback and not truncated \
                and part.text.strip():
            tail = part.text[-config.raw_chars:]
            return _Pending(None, VerifyItem(gold, tail, raw=True), truncated)
        return GradeResult(None, None, _ungradable(finish_reason, part.think_closed))
    if answer_type == "choice":
        g = normalize_letter(gold, config.letters)
        if g is None:
            return GradeResult(extracted, None, "parse_error",
                               f"gold {gold[:40]!r} is not a choice letter")
        p = normalize_letter(extracted, config.letters)
        if p is None:
            return GradeResult(extracted, None, "parse_error", "not a choice letter")
        return GradeResult(p, p == g, "ok")
    if len(extracted) > config.max_answer_chars:
        return GradeResult(extracted[:200] + "...", None, "parse_error",
                           f"answer longer than {config.max_answer_chars} characters")
    if answer_type == "integer":
        gi = normalize_integer(gold)
        alts = [gi] if gi is not None else integer_alternatives(gold)
        if alts:
            pi = normalize_integer(extracted)
            if pi is not None:
                return GradeResult(str(pi), pi in alts, "ok")
            if not config.integer_fallback:
                return GradeResult(extracted, False, "ok", "not an integer")
            return _Pending(extracted, VerifyItem(gold, extracted), truncated)
        # a gold that is not an integer: grade it as an expression
    cg, cp = canonical_text(gold), canonical_text(extracted)
    if cg and cg == cp:
        return GradeResult(extracted, True, "ok")
    ng, np_ = exact_number(gold), exact_number(extracted)
    if ng is not None and np_ is not None:
        return GradeResult(extracted, ng == np_, "ok")
    return _Pending(extracted, VerifyItem(gold, extracted), truncated)


def finish(p: _Pending, out: VerifyOutcome) -> GradeResult:
    """Merge a worker outcome into the pending item's result."""
    if p.item.raw:
        if out.reason == "no_answer":
            return GradeResult(None, None, "truncated" if p.truncated else "no_answer")
        return GradeResult(out.extracted, out.correct, out.reason, out.detail)
    return GradeResult(p.extracted, out.correct, out.reason, out.detail)


def grade_one(response: str, gold: str | None, answer_type: str, *,
              config: GradeConfig | None = None, finish_reason: str | None = None) -> GradeResult:
    """Grade one response against its gold answer.

    Args:
        response: the full model output (``<think>...</think>`` reasoning is excluded unless
            ``config.include_reasoning``).
        gold: the reference answer ("025", "\\frac{1}{2}", "C").
        answer_type: "integer", "expression" or "choice".
        config: a :class:`GradeConfig`.
        finish_reason: "length" turns a missing answer into reason "truncated".

    Returns:
        GradeResult(extracted, correct, reason); ``correct`` is None when ungradable.

    Examples:
        >>> grade_one("so the answer is \\\\boxed{025}", "25", "integer")
        GradeResult(extracted='25', correct=True, reason='ok', detail='')
    """
    config = config or GradeConfig()
    got = prepare(response, gold, answer_type, finish_reason=finish_reason, config=config)
    if isinstance(got, GradeResult):
        return got
    pool = shared_pool(config.workers, config.timeout, config.mem_mb)
    return finish(got, pool.verify_many([got.item])[0])


def grade_values(responses: list[str | None], golds: list[str | None], answer_types: list[str],
                 finish_reasons: list[str | None] | None = None, *,
                 config: GradeConfig | None = None, progress=None) -> list[GradeResult]:
    """Grade many responses; symbolic items go to the worker pool once per distinct pair."""
    config = config or GradeConfig()
    finish_reasons = finish_reasons or [None] * len(responses)
    prepared = [prepare(r, g, t, finish_reason=f, config=config)
                for r, g, t, f in zip(responses, golds, answer_types, finish_reasons)]
    pending_idx = [i for i, p in enumerate(prepared) if isinstance(p, _Pending)]
    unique: dict[VerifyItem, int] = {}
    for i in pending_idx:
        unique.setdefault(prepared[i].item, len(unique))  # type: ignore[union-attr]
    outcomes: list[VerifyOutcome] = []
    if unique:
        pool = shared_pool(config.workers, config.timeout, config.mem_mb)
        outcomes = pool.verify_many(list(unique), progress=progress)
    results: list[GradeResult] = []
    for p in prepared:
        if isinstance(p, _Pending):
            results.append(finish(p, outcomes[unique[p.item]]))
        else:
            results.append(p)
    return results


def infer_answer_type(gold: str | None, benchmark: str | None = None) -> str:
    """The answer type of a benchmark when it is registered, else guessed from the gold."""
    if benchmark:
        from reasonlens.problems.registry import spec_for

        spec = spec_for(benchmark)
        if spec is not None:
            return spec.answer_type
    g = (gold or "").strip()
    if normalize_integer(g) is not None and g.lstrip("-").isdigit() and len(g) <= 3:
        return "integer"
    if len(g) == 1 and g.upper() in "ABCDEFGHIJ":
        return "choice"
    return "expression"


def row_answer_types(df: pl.DataFrame) -> list[str]:
    """Each row's answer type: its own column or metadata, else the benchmark's, else guessed."""
    n = df.height
    given = df["answer_type"].to_list() if "answer_type" in df.columns else [None] * n
    metas = df["metadata"].to_list() if "metadata" in df.columns else [None] * n
    golds = df["gold"].to_list() if "gold" in df.columns else [None] * n
    benches = df["benchmark"].to_list() if "benchmark" in df.columns else [None] * n
    out = []
    cache: dict[tuple, str] = {}
    for t, meta, g, b in zip(given, metas, golds, benches):
        if t is None and meta and "answer_type" in meta:
            try:
                t = orjson.loads(meta).get("answer_type")
            except (orjson.JSONDecodeError, AttributeError):
                t = None
        if t not in ANSWER_TYPES:
            key = (g, b)
            if key not in cache:
                cache[key] = infer_answer_type(g, b)
            t = cache[key]
        out.append(t)
    return out


def grade_frame(traces: pl.DataFrame, config: GradeConfig | None = None, *,
                progress=None) -> pl.DataFrame:
    """Add ``extracted``, ``correct`` (nullable bool), ``grade_reason`` (and ``answer_type`` when
    absent) to a trace frame. Needs ``response`` and ``gold``; ``finish_reason`` is used when
    present."""
    config = config or GradeConfig()
    if "response" not in traces.columns:
        raise ConfigError("grade needs a 'response' column")
    n = traces.height
    golds = traces["gold"].to_list() if "gold" in traces.columns else [None] * n
    fins = traces["finish_reason"].to_list() if "finish_reason" in traces.columns else [None] * n
    types = row_answer_types(traces)
    results = grade_values(traces["response"].to_list(), golds, types, fins, config=config,
                           progress=progress)
    cols = [pl.Series("extracted", [r.extracted for r in results], dtype=pl.String),
            pl.Series("correct", [r.correct for r in results], dtype=pl.Boolean),
            pl.Series("grade_reason", [r.reason for r in results], dtype=pl.String)]
    out = traces.drop([c for c in ("extracted", "correct", "grade_reason")
                       if c in traces.columns])
    out = out.with_columns(cols)
    if "answer_type" not in out.columns:
        out = out.with_columns(pl.Series("answer_type", types, dtype=pl.String))
    return out
