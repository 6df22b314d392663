"""Generation without a server: durable JSONL and resume, work planning, request and record
building, the vLLM backend's request building and its clean failure where vLLM is absent."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import polars as pl
import pytest

from reasonlens._optional import vllm_available
from reasonlens.problems import load_benchmark
from reasonlens.errors import ConfigError, InputError, MissingDependencyError
from reasonlens.generate import SamplingConfig, build_vllm_requests, run_generation_vllm
from reasonlens.generate.config import build_record, plan_work, response_text
from reasonlens.generate.run import check_resume, request_body, sidecar_path
from reasonlens.generate.store import JsonlAppender, repair_and_scan
from reasonlens.traces import load_traces

FIX = Path(__file__).parent / "fixtures" / "bench"


def _rec(pid: str, s: int, **kw) -> dict:
    return {"benchmark": "b", "problem_id": pid, "sample": s, "response": f"r{pid}{s}", **kw}


def test_appender_and_scan_roundtrip(tmp_path):
    p = tmp_path / "o.jsonl"
    with JsonlAppender(p) as w:
        for s in range(3):
            w.write(_rec("p1", s))
    keys, info = repair_and_scan(p)
    assert keys == {("b", "p1", 0), ("b", "p1", 1), ("b", "p1", 2)}
    assert info == {"records": 3, "repaired_bytes": 0, "duplicates": 0}


def test_torn_last_line_is_cut_and_nothing_else_lost(tmp_path):
    p = tmp_path / "o.jsonl"
    good = b"".join(orjson.dumps(_rec("p1", s)) + b"\n" for s in range(2))
    torn = orjson.dumps(_rec("p1", 2))[:25]
    p.write_bytes(good + torn)
    keys, info = repair_and_scan(p)
    assert keys == {("b", "p1", 0), ("b", "p1", 1)}
    assert info["repaired_bytes"] == len(torn)
    assert p.read_bytes() == good
    # appending after the repair gives a clean file
    with JsonlAppender(p) as w:
        w.write(_rec("p1", 2))
    keys, _ = repair_and_scan(p)
    assert len(keys) == 3 and len(p.read_bytes().splitlines()) == 3


def test_complete_record_without_newline_is_kept(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_bytes(orjson.dumps(_rec("p1", 0)) + b"\n" + orjson.dumps(_rec("p1", 1)))
    keys, info = repair_and_scan(p)
    assert len(keys) == 2 and info["repaired_bytes"] == 0
    assert p.read_bytes().endswith(b"}\n")


def test_garbage_inside_the_file_is_refused(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_bytes(orjson.dumps(_rec("p1", 0)) + b"\nnot json\n" + orjson.dumps(_rec("p1", 1))
                  + b"\n")
    with pytest.raises(InputError) as e:
        repair_and_scan(p)
    assert e.value.line == 2
    assert repair_and_scan(tmp_path / "absent.jsonl") == (set(), {"records": 0,
                                                                   "repaired_bytes": 0,
                                                                   "duplicates": 0})


def test_duplicates_are_counted(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_bytes(b"".join(orjson.dumps(_rec("p1", 0)) + b"\n" for _ in range(2)))
    keys, info = repair_and_scan(p)
    assert len(keys) == 1 and info["duplicates"] == 1


def test_appender_fsyncs_each_record(tmp_path, monkeypatch):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    with JsonlAppender(tmp_path / "o.jsonl") as w:
        w.write(_rec("a", 0))
        w.write(_rec("a", 1))
    assert len(calls) == 2


def test_plan_work_skips_finished_samples():
    probs = load_benchmark("aime24", FIX / "tiny_aime.jsonl")
    units, skipped = plan_work(probs, 3, {("aime24", "t1", 0), ("aime24", "t1", 2),
                                          ("aime24", "t3", 0), ("aime24", "t3", 1),
                                          ("aime24", "t3", 2), ("other", "t2", 0)})
    assert skipped == 5
    assert [(u.row["problem_id"], u.samples) for u in units] == [("t1", (1,)), ("t2", (0, 1, 2))]
    with pytest.raises(InputError, match="duplicate"):
        plan_work(pl.concat([probs, probs]), 1, set())


def test_sampling_config_validation_and_seeds():
    with pytest.raises(ConfigError):
        SamplingConfig(temperature=3)
    with pytest.raises(ConfigError):
        SamplingConfig(n=0)
    with pytest.raises(ConfigError):
        SamplingConfig(n_mode="both")
    s = SamplingConfig(seed=10, stop=["</answer>"], logit_bias={"5": -100})
    assert s.stop == ("</answer>",) and s.logit_bias == {5: -100.0}
    assert [s.seed_for(i) for i in range(3)] == [10, 11, 12]
    assert SamplingConfig().seed_for(3) is None
    assert "n" not in s.fingerprint()


def test_request_body_for_samples_and_prefix():
    s = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=64, seed=5,
                       logit_bias={7: -100}, extra_body={"top_k": 20})
    msgs = [{"role": "user", "content": "hi"}]
    b = request_body("m", msgs, s, n=1, seed=s.seed_for(2))
    assert b["seed"] == 7 and b["max_tokens"] == 64 and b["top_p"] == 0.95
    assert b["logit_bias"] == {"7": -100.0} and b["top_k"] == 20 and "n" not in b
    b3 = request_body("m", msgs + [{"role": "assistant", "content": "<think>\n"}], s, n=3,
                      seed=None)
    assert b3["n"] == 3 and b3["continue_final_message"] is True
    assert b3["add_generation_prompt"] is False and "seed" not in b3


def test_response_text_and_record():
    assert response_text("ans", "thought", None) == "<think>\nthought\n</think>\n\nans"
    assert response_text(None, "cut off", None) == "<think>\ncut off"
    assert response_text("more</think> 5", None, "<think>\n") == "<think>\nmore</think> 5"
    assert response_text(None, None, None) == ""
    row = {"benchmark": "aime24", "problem_id": "t1", "gold": "005", "answer_type": "integer"}
    rec = build_record(row, 2, model="m", prompt="p", response="r", finish_reason="stop",
                       prompt_tokens=3, completion_tokens=4, condition={"name": "ban", "k": 1},
                       extra={"seed": 9})
    assert rec["id"] == "m:aime24:t1:2" and rec["condition_name"] == "ban"
    assert rec["reasoning"] is None and rec["gold"] == "005" and rec["seed"] == 9


def test_generated_records_load_as_traces(tmp_path):
    row = {"benchmark": "aime24", "problem_id": "t1", "gold": "005", "answer_type": "integer"}
    p = tmp_path / "o.jsonl"
    with JsonlAppender(p) as w:
        for s, resp in enumerate(["<think>\nhmm\n</think>\n\\boxed{5}", "<think>\ncut"]):
            w.write(build_record(row, s, model="m", prompt="What?", response=resp,
                                 finish_reason="stop" if s == 0 else "length", prompt_tokens=3,
                                 completion_tokens=7, condition=None,
                                 extra={"template": "boxed_cot@1.0.0"}))
    df = load_traces(str(p))
    assert df["sample"].to_list() == [0, 1]
    assert df["answer"].to_list() == ["\\boxed{5}", ""]
    assert df["think_closed"].to_list() == [True, False]
    assert orjson.loads(df["metadata"][0])["answer_type"] == "integer"


def test_resume_refuses_other_settings(tmp_path):
    out = tmp_path / "o.jsonl"
    out.write_text(orjson.dumps(_rec("p", 0)).decode() + "\n")
    sidecar_path(out).write_bytes(orjson.dumps({"fingerprint": {"model": "a", "sampling": 1}}))
    check_resume(out, {"model": "a", "sampling": 1})
    with pytest.raises(ConfigError, match="sampling"):
        check_resume(out, {"model": "a", "sampling": 2})


def test_vllm_requests_are_built_without_vllm():
    probs = load_benchmark("aime24", FIX / "tiny_aime.jsonl")
    s = SamplingConfig(n=2, seed=100, max_tokens=128, stop=["</s>"], logit_bias={3: -100},
                       extra_body={"top_k": 20, "unknown_field": 1}, template="r1_think")
    reqs = build_vllm_requests(probs, s, done={("aime24", "t1", 0)})
    assert [(r.row["problem_id"], r.sample) for r in reqs] == [("t1", 1), ("t2", 0), ("t2", 1),
                                                               ("t3", 0), ("t3", 1)]
    r = reqs[0]
    assert r.params == {"n": 1, "temperature": 0.6, "max_tokens": 128, "top_p": 0.95,
                        "seed": 101, "stop": ["</s>"], "logit_bias": {3: -100.0}, "top_k": 20}
    assert r.continue_final and r.messages[-1]["content"] == "<think>\n"
    assert "What is 2+3?" in r.messages[0]["content"]


@pytest.mark.skipif(vllm_available(), reason="vLLM is importable here")
def test_vllm_backend_fails_cleanly_without_vllm(tmp_path):
    probs = load_benchmark("aime24", FIX / "tiny_aime.jsonl")
    with pytest.raises(MissingDependencyError, match="gpu"):
        run_generation_vllm(probs, "some/model", SamplingConfig(), tmp_path / "o.jsonl")
    assert not (tmp_path / "o.jsonl").exists()


def test_vllm_resume_with_other_settings_is_refused_before_the_engine(tmp_path):
    """Issue 13 finding 3: the offline vLLM backend runs the HTTP backend's resume check, so a
    second run with another temperature or seed never appends to the same file (checked before
    vLLM is imported, so this holds here too)."""
    from reasonlens.generate.run import fingerprint_of
    from reasonlens.problems import load_template

    probs = load_benchmark("aime24", FIX / "tiny_aime.jsonl")
    first = SamplingConfig(temperature=0.6, seed=1, template="r1_think")
    out = tmp_path / "o.jsonl"
    out.write_text(orjson.dumps(_rec("p", 0)).decode() + "\n")
    fp = fingerprint_of("m", "some/model", first, load_template("r1_think"), None)
    sidecar_path(out).write_bytes(orjson.dumps({"fingerprint": fp}))
    for changed in (SamplingConfig(temperature=1.0, seed=1, template="r1_think"),
                    SamplingConfig(temperature=0.6, seed=2, template="r1_think"),
                    SamplingConfig(temperature=0.6, seed=1, template="boxed_cot")):
        with pytest.raises(ConfigError, match="different settings"):
            run_generation_vllm(probs, "some/model", changed, out, model_name="m")
    if not vllm_available():   # same settings get past the check, to the missing engine
        with pytest.raises(MissingDependencyError):
            run_generation_vllm(probs, "some/model", first, out, model_name="m")


def test_vllm_engine_kwargs_are_explicit_and_checked():
    from reasonlens.generate.vllm_backend import engine_kwargs

    assert engine_kwargs() == {}
    assert engine_kwargs(tensor_parallel_size=4, max_model_len=34816,
                         gpu_memory_utilization=0.85) == {
        "tensor_parallel_size": 4, "max_model_len": 34816, "gpu_memory_utilization": 0.85}
    for bad in ({"tensor_parallel_size": 0}, {"max_model_len": 0},
                {"gpu_memory_utilization": 1.5}):
        with pytest.raises(ConfigError):
            engine_kwargs(**bad)


def test_resume_after_retraining_a_local_checkpoint_in_place_is_refused(tmp_path):
    """A checkpoint directory retrained in place (same path, new weights) is not the model the
    existing samples came from: the fingerprint holds its weight files' sizes and times."""
    import os

    from reasonlens.generate.run import fingerprint_of
    from reasonlens.problems import load_template

    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text("{}")
    (ckpt / "model.safetensors").write_bytes(b"old weights")
    sampling, tmpl = SamplingConfig(template="r1_think"), load_template("r1_think")
    out = tmp_path / "o.jsonl"
    out.write_text(orjson.dumps(_rec("p", 0)).decode() + "\n")
    fp = fingerprint_of("m", str(ckpt), sampling, tmpl, None)
    assert "weights" in fp and "weights" not in fingerprint_of("m", "served-name", sampling,
                                                               tmpl, None)
    sidecar_path(out).write_bytes(orjson.dumps({"fingerprint": fp}))
    check_resume(out, fingerprint_of("m", str(ckpt), sampling, tmpl, None))  # unchanged: fine
    (ckpt / "model.safetensors").write_bytes(b"new weights!")
    st = (ckpt / "model.safetensors").stat()
    os.utime(ckpt / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    with pytest.raises(ConfigError, match="weights"):
        check_resume(out, fingerprint_of("m", str(ckpt), sampling, tmpl, None))
