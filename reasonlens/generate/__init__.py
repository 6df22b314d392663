"""Trace generation: sample a model on a benchmark through OpenAI-compatible servers (or vLLM's
offline engine) into resumable, append-only JSONL that :func:`reasonlens.traces.load_traces`
reads.

Public API: :class:`SamplingConfig`, :func:`run_generation`, :func:`run_generation_vllm`,
:func:`build_vllm_requests`.
"""

from reasonlens.generate.config import SamplingConfig
from reasonlens.generate.run import run_generation
from reasonlens.generate.vllm_backend import build_vllm_requests, run_generation_vllm

__all__ = ["SamplingConfig", "build_vllm_requests", "run_generation", "run_generation_vllm"]
