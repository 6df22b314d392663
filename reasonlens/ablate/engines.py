"""The ablation's generation backends behind one small protocol.

:func:`make_backend` turns an :class:`~reasonlens.ablate.run.AblationConfig` into an object with
the :class:`AblationBackend` interface; ``run_ablation`` only talks to that interface (no string
comparisons of the backend name there):

- ``openai`` (:class:`OpenAIBackend`): an OpenAI-compatible server; every condition sends its
  unconditional ids as ``logit_bias``; the server's entry limit applies; the ban is checked on
  the first request.
- ``hf`` (:class:`TransformersBackend`): transformers ``generate`` with a logits processor that
  also blocks multi-token sequences exactly (no entry limit).
- ``vllm`` (:class:`VllmBackend`): **one** ``vllm.LLM`` engine for every condition, started on
  first use with the engine options (``--tensor-parallel-size``, ``--max-model-len``,
  ``--gpu-memory-utilization``); each request carries its condition's ban in its own
  ``SamplingParams(logit_bias=...)`` (vLLM applies logit bias per request), so the conditions do
  not need an engine each (vLLM does not free GPU memory between engines in one process: a 32B
  model would not fit twice).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from reasonlens.errors import ConfigError


class AblationBackend(Protocol):
    """What ``run_ablation`` needs from a backend."""

    name: str
    #: multi-token sequences are blocked exactly (else only through their pieces)
    sequences_supported: bool

    def tokenizer(self): ...

    def bias_limit(self) -> int | None: ...

    def check_ban(self, banset, ids: list[int], surfaces) -> dict[str, Any] | None: ...

    def generate(self, problems: pl.DataFrame, sampling, path: Path, *, model_name: str,
                 ids: list[int], sequences: list[tuple[int, ...]], condition: dict[str, Any],
                 progress: bool) -> dict[str, Any]: ...

    def close(self) -> None: ...


def bias_of(ids: list[int]) -> dict[int, float] | None:
    """The ``logit_bias`` of a condition's unconditional ids (-100: never sampled)."""
    return {int(i): -100.0 for i in ids} or None


class _Base:
    name = ""
    sequences_supported = False

    def __init__(self, cfg):
        self.cfg = cfg

    def tokenizer(self):
        from reasonlens.ablate.tokenizers import HFTokenizer

        return HFTokenizer(self.cfg.tokenizer or self.cfg.model_path or self.cfg.model)

    def bias_limit(self) -> int | None:
        """Most logit_bias entries per request (None: unlimited)."""
        return self.cfg.bias_limit()

    def check_ban(self, banset, ids, surfaces) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        return None


class OpenAIBackend(_Base):
    name = "openai"

    def __init__(self, cfg):
        if not cfg.base_urls:
            raise ConfigError("--backend openai needs --base-url (or use --backend hf "
                              "--model-path DIR)")
        super().__init__(cfg)

    def endpoint(self):
        from reasonlens.endpoint import EndpointConfig

        c = self.cfg
        return EndpointConfig(base_urls=tuple(c.base_urls), model=c.model,
                              concurrency=c.concurrency, api_key_env=c.api_key_env)

    def tokenizer(self):
        from reasonlens.ablate.tokenizers import load_tokenizer

        if self.cfg.tokenizer:
            return super().tokenizer()
        return load_tokenizer(base_url=self.cfg.base_urls[0], model=self.cfg.model,
                              vocab_size=self.cfg.vocab_size)

    def check_ban(self, banset, ids, surfaces) -> dict[str, Any] | None:
        from reasonlens.ablate.backends import check_ban

        if not self.cfg.check_ban:
            return None
        return check_ban(self.endpoint(), banset, bias_of(ids) or {}, surfaces=surfaces)

    def generate(self, problems, sampling, path, *, model_name, ids, sequences, condition,
                 progress):
        from reasonlens.generate import run_generation

        s = dataclasses.replace(sampling, logit_bias=bias_of(ids))
        return run_generation(problems, self.endpoint(), s, path, model_name=model_name,
                              condition=condition, progress=progress)


class TransformersBackend(_Base):
    name = "hf"
    sequences_supported = True

    def __init__(self, cfg):
        if not cfg.model_path:
            raise ConfigError("--backend hf needs --model-path DIR (a transformers model)")
        super().__init__(cfg)

    def bias_limit(self) -> int | None:
        return None     # a logits processor, not a request field

    def generate(self, problems, sampling, path, *, model_name, ids, sequences, condition,
                 progress):
        from reasonlens.ablate.hf_backend import generate_traces

        return generate_traces(problems, model_path=self.cfg.model_path, sampling=sampling,
                               out_path=path, model_name=model_name, ban_ids=ids,
                               ban_sequences=sequences, condition=condition,
                               threads=self.cfg.threads, device=self.cfg.device,
                               progress=progress)


class VllmBackend(_Base):
    name = "vllm"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.model = cfg.model_path or cfg.model
        self._llm = None
        self.engines_started = 0

    def engine_kwargs(self) -> dict[str, Any]:
        """``vllm.LLM`` keyword arguments besides the model (pure)."""
        from reasonlens.generate.vllm_backend import engine_kwargs

        c = self.cfg
        return engine_kwargs(tensor_parallel_size=c.tensor_parallel_size,
                             max_model_len=c.max_model_len,
                             gpu_memory_utilization=c.gpu_memory_utilization)

    def engine(self):
        """The one engine of this run, started on first use."""
        if self._llm is None:
            from reasonlens._optional import import_vllm

            vllm = import_vllm()
            self._llm = vllm.LLM(model=self.model, **self.engine_kwargs())
            self.engines_started += 1
        return self._llm

    def generate(self, problems, sampling, path, *, model_name, ids, sequences, condition,
                 progress):
        from reasonlens.generate import run_generation_vllm

        s = dataclasses.replace(sampling, logit_bias=bias_of(ids))
        return run_generation_vllm(problems, self.model, s, path, model_name=model_name,
                                   condition=condition, engine_kwargs=self.engine_kwargs(),
                                   llm=_Lazy(self.engine), progress=progress)

    def close(self) -> None:
        self._llm = None


class _Lazy:
    """Starts the engine only when a request is actually sent (a resumed condition with
    nothing left to do starts none)."""

    def __init__(self, factory):
        self._factory = factory

    def __getattr__(self, name):
        return getattr(self._factory(), name)


BACKENDS: dict[str, type] = {"openai": OpenAIBackend, "hf": TransformersBackend,
                             "vllm": VllmBackend}


def make_backend(cfg) -> AblationBackend:
    try:
        cls = BACKENDS[cfg.backend]
    except KeyError:
        raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}") from None
    return cls(cfg)


def condition_sampling_params(sampling, conditions: list[tuple[str, list[int]]]
                              ) -> dict[str, dict[str, Any]]:
    """For each (condition name, banned ids): the ``vllm.SamplingParams`` keyword arguments of
    its first sample (pure). One engine serves every condition because the ban travels in these
    per-request parameters."""
    from reasonlens.generate.vllm_backend import sampling_params_kwargs

    return {name: sampling_params_kwargs(dataclasses.replace(sampling, logit_bias=bias_of(ids)),
                                         0)
            for name, ids in conditions}
