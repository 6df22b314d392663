"""The ablation backends behind one protocol, and the vLLM backend's one engine for every
condition (issue 13 finding 2). vLLM is not installed here: what is tested is what can be
without it -- the engine options, the per-request ban parameters that let one engine serve every
condition, and that a condition with nothing left to do starts no engine."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pytest

from reasonlens.ablate.engines import (BACKENDS, OpenAIBackend, TransformersBackend, VllmBackend,
                                       condition_sampling_params, make_backend)
from reasonlens.ablate.run import AblationConfig
from reasonlens.errors import ConfigError
from reasonlens.generate import SamplingConfig


def _cfg(**kw) -> AblationConfig:
    base = {"benchmark": "math500", "model": "m", "ban_words": ("wait",)}
    return AblationConfig(**{**base, **kw})


def test_backends_are_chosen_by_name_and_check_what_they_need():
    assert isinstance(make_backend(_cfg(base_urls=("http://x/v1",))), OpenAIBackend)
    assert isinstance(make_backend(_cfg(backend="hf", model_path="d")), TransformersBackend)
    assert isinstance(make_backend(_cfg(backend="vllm", model_path="d")), VllmBackend)
    with pytest.raises(ConfigError, match="--base-url"):
        _cfg()
    with pytest.raises(ConfigError, match="--model-path"):
        _cfg(backend="hf")
    with pytest.raises(ConfigError, match="one of"):
        _cfg(backend="tgi")
    for cls in BACKENDS.values():
        for attr in ("name", "sequences_supported", "tokenizer", "bias_limit", "check_ban",
                     "generate", "close"):
            assert hasattr(cls, attr), (cls, attr)
    # only the transformers backend blocks sequences exactly; it has no entry limit
    assert [n for n, c in BACKENDS.items() if c.sequences_supported] == ["hf"]
    assert make_backend(_cfg(backend="hf", model_path="d", max_bias_entries=10)
                        ).bias_limit() is None
    assert make_backend(_cfg(backend="vllm", model_path="d", max_bias_entries=10)
                        ).bias_limit() == 10


def test_vllm_engine_options_reach_the_engine_kwargs():
    b = make_backend(_cfg(backend="vllm", model_path="Qwen/Qwen2.5-32B", tensor_parallel_size=4,
                          max_model_len=34816, gpu_memory_utilization=0.85))
    assert b.model == "Qwen/Qwen2.5-32B"
    assert b.engine_kwargs() == {"tensor_parallel_size": 4, "max_model_len": 34816,
                                 "gpu_memory_utilization": 0.85}
    assert make_backend(_cfg(backend="vllm", model_path="d")).engine_kwargs() == {}
    with pytest.raises(ConfigError, match="gpu-memory-utilization"):
        make_backend(_cfg(backend="vllm", model_path="d", gpu_memory_utilization=2.0)
                     ).engine_kwargs()


def test_each_condition_carries_its_ban_per_request():
    """One engine can serve every condition: the ban is in each request's SamplingParams."""
    s = SamplingConfig(temperature=0.6, max_tokens=64, seed=1)
    params = condition_sampling_params(s, [("none", []), ("wait", [5, 9]), ("random", [7])])
    assert "logit_bias" not in params["none"]
    assert params["wait"]["logit_bias"] == {5: -100.0, 9: -100.0}
    assert params["random"]["logit_bias"] == {7: -100.0}
    for p in params.values():
        assert {k: v for k, v in p.items() if k != "logit_bias"} == params["none"]


def test_finished_condition_starts_no_engine(tmp_path: Path):
    """A resumed condition with every sample present returns without vLLM or an engine."""
    from reasonlens.generate.config import build_record
    from reasonlens.generate.run import fingerprint_of, sidecar_path
    from reasonlens.problems import load_template

    b = make_backend(_cfg(backend="vllm", model_path="some/model"))
    probs = pl.DataFrame({"benchmark": ["toy"], "problem_id": ["p1"], "problem": ["1+1?"],
                          "gold": ["2"], "answer_type": ["integer"]})
    s = SamplingConfig(temperature=0.0, max_tokens=4)
    cond = {"name": "none"}
    out = tmp_path / "none.jsonl"
    rec = build_record(probs.row(0, named=True), 0, model="m#none", prompt="1+1?",
                       response="2", finish_reason="stop", prompt_tokens=3,
                       completion_tokens=1, condition=cond, extra={})
    out.write_bytes(orjson.dumps(rec) + b"\n")
    fp = fingerprint_of("m#none", "some/model", s, load_template(s.template), cond)
    sidecar_path(out).write_bytes(orjson.dumps({"fingerprint": fp}))
    summary = b.generate(probs, s, out, model_name="m#none", ids=[], sequences=[],
                         condition=cond, progress=False)
    assert summary["written"] == 0 and summary["skipped_existing"] == 1
    assert b.engines_started == 0
