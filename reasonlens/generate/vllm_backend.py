"""vLLM offline-engine backend (``reasonlens generate --backend vllm``, needs the ``gpu`` extra).

Writes the same JSONL schema as the HTTP backend, with the same resume rules. Requests are built
by a pure function (:func:`build_vllm_requests`, tested without vLLM); the engine runs in chunks
and each chunk's records are appended (fsynced) before the next starts, so a killed run loses at
most the chunk in flight. Each sample is its own request with ``n=1`` and seed ``seed + sample``,
so results do not depend on how the work was chunked or resumed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens._optional import import_vllm
from reasonlens.problems.prompts import Template, load_template, render_prompt
from reasonlens.generate.config import SamplingConfig, build_record, plan_work, response_text
from reasonlens.errors import ConfigError
from reasonlens.generate.progress import GenProgress
from reasonlens.generate.run import check_resume, fingerprint_of, sidecar_path
from reasonlens.generate.store import JsonlAppender, repair_and_scan
from reasonlens.io import write_json
from reasonlens.provenance import provenance


@dataclass(frozen=True)
class VllmRequest:
    """One sample: its row, chat messages, and keyword arguments for ``vllm.SamplingParams``."""

    row: dict[str, Any]
    sample: int
    messages: list[dict[str, str]]
    params: dict[str, Any]

    @property
    def continue_final(self) -> bool:
        return self.messages[-1]["role"] == "assistant"


def sampling_params_kwargs(sampling: SamplingConfig, sample: int) -> dict[str, Any]:
    """``vllm.SamplingParams`` keyword arguments for one sample (pure)."""
    kw: dict[str, Any] = {"n": 1, "temperature": sampling.temperature,
                          "max_tokens": sampling.max_tokens}
    if sampling.top_p is not None:
        kw["top_p"] = sampling.top_p
    seed = sampling.seed_for(sample)
    if seed is not None:
        kw["seed"] = seed
    if sampling.stop:
        kw["stop"] = list(sampling.stop)
    if sampling.logit_bias:
        kw["logit_bias"] = {int(k): float(v) for k, v in sampling.logit_bias.items()}
    for k, v in (sampling.extra_body or {}).items():
        if k in ("top_k", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty",
                 "min_tokens", "logprobs", "skip_special_tokens"):
            kw[k] = v
    return kw


def build_vllm_requests(problems: pl.DataFrame, sampling: SamplingConfig,
                        done: set[tuple[str, str, int]] | None = None,
                        template: Template | None = None) -> list[VllmRequest]:
    """One request per missing (problem, sample), in problem order."""
    template = template or load_template(sampling.template)
    units, _ = plan_work(problems, sampling.n, done or set())
    out = []
    for u in units:
        msgs = render_prompt(u.row, template)
        for s in u.samples:
            out.append(VllmRequest(u.row, s, msgs, sampling_params_kwargs(sampling, s)))
    return out


def engine_kwargs(*, tensor_parallel_size: int | None = None, max_model_len: int | None = None,
                  gpu_memory_utilization: float | None = None, seed: int | None = None,
                  **extra: Any) -> dict[str, Any]:
    """Keyword arguments of ``vllm.LLM`` besides the model (pure): only the ones given, so
    vLLM's own defaults apply to the rest."""
    kw: dict[str, Any] = {}
    if tensor_parallel_size is not None:
        if tensor_parallel_size < 1:
            raise ConfigError("--tensor-parallel-size must be >= 1")
        kw["tensor_parallel_size"] = int(tensor_parallel_size)
    if max_model_len is not None:
        if max_model_len < 1:
            raise ConfigError("--max-model-len must be >= 1")
        kw["max_model_len"] = int(max_model_len)
    if gpu_memory_utilization is not None:
        if not 0.0 < gpu_memory_utilization <= 1.0:
            raise ConfigError("--gpu-memory-utilization must lie in (0, 1]")
        kw["gpu_memory_utilization"] = float(gpu_memory_utilization)
    if seed is not None:
        kw["seed"] = int(seed)
    kw.update({k: v for k, v in extra.items() if v is not None})
    return kw


def run_generation_vllm(problems: pl.DataFrame, model: str, sampling: SamplingConfig,
                        out_path: str | Path, *, model_name: str | None = None,
                        condition: dict | None = None, engine_kwargs: dict | None = None,
                        llm: Any = None, chunk_size: int = 512, progress: bool = True
                        ) -> dict[str, Any]:
    """Generate with ``vllm.LLM`` (a local model path or hub id) into resumable JSONL.

    ``llm``: an engine already running (the ablation keeps one for every condition: vLLM does
    not free GPU memory between engines in one process); otherwise one is started with
    ``engine_kwargs`` when there is work to do. A resume with other settings (model, template,
    sampling, condition) is refused before anything starts, as on the HTTP backend.
    Raises MissingDependencyError (naming the ``gpu`` extra) where vLLM cannot be imported and
    there is work left.
    """
    out = Path(out_path)
    template = load_template(sampling.template)
    name = model_name or model
    fingerprint = fingerprint_of(name, model, sampling, template, condition)
    check_resume(out, fingerprint)
    done, info = repair_and_scan(out)
    reqs = build_vllm_requests(problems, sampling, done, template)
    vllm = import_vllm() if reqs else None   # a finished output needs no engine
    prov = provenance(command="generate --backend vllm", config={
        "sampling": sampling.as_dict(), "model": model, "engine": engine_kwargs or {},
        "condition": condition}, data_files=[template.record()], extra_packages=("vllm",))
    side = {"fingerprint": fingerprint, "provenance": prov, "status": "running"}
    sidecar = sidecar_path(out)
    write_json(sidecar, side)
    t0 = time.monotonic()
    tokens = 0
    with JsonlAppender(out) as writer, GenProgress(len(reqs), enabled=progress) as bar:
        if reqs and llm is None:
            llm = vllm.LLM(model=model, **(engine_kwargs or {}))
        if reqs:
            for start in range(0, len(reqs), chunk_size):
                chunk = reqs[start:start + chunk_size]
                for cont in (False, True):
                    part = [r for r in chunk if r.continue_final == cont]
                    if not part:
                        continue
                    outputs = llm.chat([r.messages for r in part],
                                       [vllm.SamplingParams(**r.params) for r in part],
                                       use_tqdm=False, add_generation_prompt=not cont,
                                       continue_final_message=cont)
                    for r, o in zip(part, outputs):
                        c = o.outputs[0]
                        n_tok = len(c.token_ids)
                        tokens += n_tok
                        user = next(m["content"] for m in r.messages if m["role"] == "user")
                        writer.write(build_record(
                            r.row, r.sample, model=name, prompt=user,
                            response=response_text(c.text, None, template.assistant_prefix),
                            finish_reason=c.finish_reason,
                            prompt_tokens=len(o.prompt_token_ids or []) or None,
                            completion_tokens=n_tok, condition=condition,
                            extra={"template": f"{template.name}@{template.version}",
                                   "seed": r.params.get("seed"), "request_n": 1,
                                   "backend": "vllm"}))
                        bar.advance(1, n_tok)
    secs = time.monotonic() - t0
    total = problems.height * sampling.n
    summary = {"output": str(out), "requested": total,
               "skipped_existing": total - len(reqs), "written": writer.n_written, "failed": 0,
               "errors": [], "repaired_bytes": info["repaired_bytes"], "seconds": round(secs, 3),
               "tokens_per_s": round(tokens / secs, 2) if secs > 0 else None,
               "usage": {"completion_tokens": tokens}}
    side.update(status="complete", summary=summary)
    write_json(sidecar, side)
    return summary
