"""After training: the eval hook serves a trained checkpoint, samples a benchmark through
run_generation, and the traces load and score with the reasonlens CLI."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.training_helpers import run_cli, tiny_sft

pytest.importorskip("trl")

pytestmark = [pytest.mark.train, pytest.mark.slow]


def _checkpoint(tmp_path_factory):
    base = tmp_path_factory.getbasetemp() / "training-shared"
    tiny_sft(base)
    return base / "sft_tiny"


def test_eval_hook_traces_load_and_score(tmp_path_factory, tmp_path, shared_data):
    from reasonlens.cli import cli as reasonlens_cli
    from reasonlens.traces import load_traces
    from training.eval_hook import main

    ckpt = _checkpoint(tmp_path_factory)
    out = tmp_path / "eval" / "sft_tiny.jsonl"
    args = ["--checkpoint", ckpt, "--backend", "hf", "--benchmark", "aime24", "--source",
            shared_data, "--limit", "2", "--max-tokens", "8", "--out", out]
    res = run_cli(main, args)
    assert "2 traces in" in res.output and "reasonlens score" in res.output
    traces = load_traces(str(out))
    assert traces.height == 2 and set(traces["model"]) == {"sft_tiny"}
    assert set(traces["benchmark"]) == {"aime24"} and traces["gold"].null_count() == 0
    assert traces["completion_tokens"].min() >= 1
    assert set(traces["finish_reason"]) <= {"stop", "length"}
    side = json.loads(out.with_name(out.name + ".provenance.json").read_text())
    assert side["status"] == "complete" and side["summary"]["usage"]["completion_tokens"] > 0
    # resumable: a rerun skips what is done
    assert "written 0" in run_cli(main, args).output

    score_dir = tmp_path / "score"
    run_cli(reasonlens_cli, ["score", out, "--out", score_dir])
    summary = json.loads((score_dir / "summary.json").read_text())
    assert summary["models"]["sft_tiny"]["n_responses"] == 2


def test_hf_server_speaks_the_openai_chat_api(tmp_path_factory):
    from training.serve_hf import HFChatModel, HFServer

    ckpt = _checkpoint(tmp_path_factory)
    with HFServer(HFChatModel(str(ckpt), "tiny")) as server:
        models = httpx.get(f"{server.base_url}/models", timeout=30).json()
        assert models["data"][0]["id"] == "tiny"
        body = {"model": "tiny", "messages": [{"role": "user", "content": "1+1?"}],
                "max_tokens": 5, "temperature": 1.0, "seed": 3, "n": 2}
        r = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=120).json()
        assert [c["index"] for c in r["choices"]] == [0, 1]
        assert all(c["finish_reason"] in ("stop", "length") for c in r["choices"])
        assert 2 <= r["usage"]["completion_tokens"] <= 10 and r["usage"]["prompt_tokens"] > 3
        again = httpx.post(f"{server.base_url}/chat/completions", json=body, timeout=120).json()
        assert [c["message"]["content"] for c in again["choices"]] == \
            [c["message"]["content"] for c in r["choices"]]  # same seed, same samples
        bad = httpx.post(f"{server.base_url}/chat/completions", json={"messages": []},
                         timeout=30)
        assert bad.status_code == 400
        assert httpx.get(f"{server.base_url}/nope", timeout=30).status_code == 404


def test_eval_hook_backend_errors(tmp_path):
    import polars as pl

    from reasonlens.errors import ConfigError
    from reasonlens.generate import SamplingConfig
    from training.eval_hook import evaluate

    problems = pl.DataFrame({"problem_id": ["1"], "problem": ["1+1?"], "gold": ["2"]})
    with pytest.raises(ConfigError, match="--base-url"):
        evaluate(None, problems, tmp_path / "x.jsonl", backend="url", name="m",
                 sampling=SamplingConfig())
    with pytest.raises(ConfigError, match="--checkpoint"):
        evaluate(None, problems, tmp_path / "x.jsonl", backend="hf", name="m",
                 sampling=SamplingConfig())
