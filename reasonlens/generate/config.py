"""Sampling configuration and the pure parts of generation: work planning and record building."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from reasonlens.errors import ConfigError, InputError
from reasonlens.traces.model import THINK_CLOSE, THINK_OPEN

N_MODES = ("auto", "separate", "server")


@dataclass(frozen=True)
class SamplingConfig:
    """How to sample. Defaults are the field's usual reasoning-model settings (DeepSeek-R1,
    open-r1): temperature 0.6, top_p 0.95, 32768 new tokens.

    Attributes:
        n: samples per problem.
        seed: base seed; sample ``s`` of a problem is requested with ``seed + s`` (distinct seeds).
        stop: stop strings.
        logit_bias: token id -> bias in [-100, 100] (OpenAI wire format).
        extra_body: extra request fields (e.g. ``{"top_k": 20}`` for vLLM).
        template: prompt template name or path (``prompts/templates``).
        n_mode: "separate" sends one request per sample; "server" asks for ``n`` choices in one
            request and fills any missing ones with separate requests; "auto" probes once whether
            the server honours ``n`` (llama.cpp ignores it) and then picks.
    """

    temperature: float = 0.6
    top_p: float | None = 0.95
    max_tokens: int = 32768
    n: int = 1
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    logit_bias: dict[int, float] | None = field(default=None, hash=False)
    extra_body: dict[str, Any] | None = field(default=None, hash=False)
    template: str = "boxed_cot"
    n_mode: str = "auto"

    def __post_init__(self):
        if not 0.0 <= self.temperature <= 2.0:
            raise ConfigError(f"--temperature must lie in [0, 2], got {self.temperature}")
        if self.top_p is not None and not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"--top-p must lie in (0, 1], got {self.top_p}")
        if self.max_tokens < 1:
            raise ConfigError("--max-tokens must be >= 1")
        if self.n < 1:
            raise ConfigError("-n must be >= 1")
        if self.n_mode not in N_MODES:
            raise ConfigError(f"n_mode must be one of {', '.join(N_MODES)}, got {self.n_mode!r}")
        if self.stop is not None and not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.logit_bias:
            object.__setattr__(self, "logit_bias",
                               {int(k): float(v) for k, v in self.logit_bias.items()})

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["stop"] = list(self.stop) if self.stop else None
        d["logit_bias"] = {str(k): v for k, v in (self.logit_bias or {}).items()} or None
        return d

    def fingerprint(self) -> dict[str, Any]:
        """What must not change between a run and its resume (n and n_mode may)."""
        d = self.as_dict()
        d.pop("n", None)
        d.pop("n_mode", None)
        return d

    def seed_for(self, sample: int) -> int | None:
        return None if self.seed is None else int(self.seed) + int(sample)


@dataclass(frozen=True)
class WorkUnit:
    """One problem and the sample indices still to generate for it."""

    row: dict[str, Any]
    samples: tuple[int, ...]


def plan_work(problems: pl.DataFrame, n: int, done: set[tuple[str, str, int]]
              ) -> tuple[list[WorkUnit], int]:
    """(work units for the missing samples, number of samples already finished)."""
    for col in ("problem_id", "problem"):
        if col not in problems.columns:
            raise InputError(f"the problem frame has no {col!r} column", field=col)
    units = []
    skipped = 0
    seen: set[tuple[str, str]] = set()
    for row in problems.iter_rows(named=True):
        bench = str(row.get("benchmark") or "custom")
        pid = str(row["problem_id"])
        if (bench, pid) in seen:
            raise InputError(f"duplicate problem {bench}/{pid} in the problem frame",
                             field="problem_id")
        seen.add((bench, pid))
        row = {**row, "benchmark": bench, "problem_id": pid}
        missing = tuple(s for s in range(n) if (bench, pid, s) not in done)
        skipped += n - len(missing)
        if missing:
            units.append(WorkUnit(row, missing))
    return units, skipped


def response_text(content: str | None, reasoning: str | None, prefix: str | None) -> str:
    """The full response: a server-split reasoning goes back between think tags; a forced
    assistant prefix (``<think>\\n``) is kept at the start."""
    content = content or ""
    if reasoning:
        if content:
            return f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n\n{content}"
        return f"{THINK_OPEN}\n{reasoning}"
    if prefix and not content.startswith(prefix.strip()):
        return prefix + content
    return content


def build_record(row: dict[str, Any], sample: int, *, model: str, prompt: str, response: str,
                 finish_reason: str | None, prompt_tokens: int | None,
                 completion_tokens: int | None, condition: dict[str, Any] | None,
                 extra: dict[str, Any]) -> dict[str, Any]:
    """One output line. Fields of the trace schema plus condition/answer_type and scalars that
    :func:`reasonlens.traces.load_traces` keeps in ``metadata``. ``reasoning`` is null: the split
    is carried by the think tags in ``response`` (the loader derives reasoning and answer)."""
    bench, pid = row["benchmark"], row["problem_id"]
    rec = {
        "id": f"{model}:{bench}:{pid}:{sample}",
        "model": model, "benchmark": bench, "problem_id": pid, "sample": int(sample),
        "prompt": prompt, "response": response, "reasoning": None,
        "gold": row.get("gold"), "answer_type": row.get("answer_type"),
        "finish_reason": finish_reason, "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens, "condition": condition,
    }
    if condition and isinstance(condition.get("name"), str):
        rec["condition_name"] = condition["name"]
    rec.update(extra)
    return rec
