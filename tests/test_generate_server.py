"""Generation against a real OpenAI-compatible server (llama-cpp-python serving SmolLM2-135M):
a trace file from the CLI, kill -9 mid-run and resume with nothing lost or duplicated, and the
fault proxy for 429 + Retry-After, 500, a garbage body, a dropped connection and a timeout.

SmolLM2 on two shared CPU cores is slow and llama.cpp serves one request at a time, so problem
counts and max_tokens are tiny and timeouts generous."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from reasonlens.problems import load_benchmark
from reasonlens.endpoint import EndpointConfig
from reasonlens.generate import SamplingConfig, run_generation
from reasonlens.generate.run import sidecar_path
from reasonlens.io import read_json
from reasonlens.traces import load_traces

pytestmark = [pytest.mark.server, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent
TINY = REPO / "tests" / "fixtures" / "bench" / "tiny_aime.jsonl"


def _lines(path: Path) -> list[bytes]:
    return [x for x in path.read_bytes().split(b"\n") if x.strip()] if path.exists() else []


def _generate_cmd(out: Path, *urls: str) -> list[str]:
    cmd = [sys.executable, "-m", "reasonlens", "generate", "--benchmark", "aime24",
           "--benchmark-source", str(TINY), "--limit", "2", "--model", "smollm2-135m",
           "-n", "2", "--max-tokens", "8", "--temperature", "0.6", "--seed", "7",
           "--concurrency", "2",
           "--timeout", "300", "--out", str(out), "-q"]
    for u in urls:
        cmd += ["--base-url", u]
    return cmd


def test_generate_cli_survives_kill_9_and_resumes(smollm_server, fault_proxy, tmp_path):
    out = tmp_path / "traces.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    # two base URLs: the server directly and through the (fault-free) proxy
    cmd = _generate_cmd(out, smollm_server.base_url, fault_proxy.base_url)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 400
    while time.time() < deadline and len(_lines(out)) < 1 and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, f"finished before it could be killed: {proc.stderr.read()!r}"
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    before = out.read_bytes()
    n_before = len(_lines(out))
    assert 1 <= n_before < 4
    # a write cut short by the kill leaves a torn tail; simulate the worst case explicitly
    with open(out, "ab") as fh:
        fh.write(b'{"id": "smollm2-135m:aime24:t2:1", "model": "smollm2-1')
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "Repaired a torn last line" in done.stderr
    lines = _lines(out)
    recs = [orjson.loads(x) for x in lines]            # every line is whole JSON
    keys = [(r["problem_id"], r["sample"]) for r in recs]
    assert sorted(keys) == [(p, s) for p in ("t1", "t2") for s in (0, 1)]   # none lost
    assert len(set(keys)) == len(keys) == 4                                   # no duplicates
    kept = before.split(b"\n")[:n_before]
    assert out.read_bytes().split(b"\n")[:n_before] == kept     # finished records untouched
    side = read_json(sidecar_path(out))
    assert side["status"] == "complete" and side["summary"]["skipped_existing"] == n_before
    assert side["provenance"]["config"]["sampling"]["max_tokens"] == 8
    per_url = side["summary"]["usage"]["per_url"]
    assert set(per_url) <= {smollm_server.base_url, fault_proxy.base_url}
    assert sum(per_url.values()) == 4 - n_before
    for r in recs:
        assert r["model"] == "smollm2-135m" and r["gold"] in ("005", "42")
        assert r["finish_reason"] in ("stop", "length") and r["completion_tokens"] >= 1
        assert r["prompt"].endswith("within \\boxed{}.") and r["template"] == "boxed_cot@1.0.0"
    seeds = {(r["problem_id"], r["sample"]): r["seed"] for r in recs}
    assert seeds[("t1", 0)] == 7 and seeds[("t1", 1)] == 8       # distinct per-sample seeds
    # the output is a trace file: it loads and grades
    df = load_traces(str(out))
    assert df.height == 4 and set(df["benchmark"]) == {"aime24"}
    from reasonlens.grade import grade_frame

    g = grade_frame(df)
    assert set(g["grade_reason"]) <= {"ok", "no_answer", "truncated", "parse_error", "timeout"}
    assert g["answer_type"].unique().to_list() == ["integer"]


def _one_problem():
    return load_benchmark("aime24", TINY, limit=1)


def test_retries_through_429_500_garbage_and_drop(fault_proxy, tmp_path):
    fault_proxy.push(("status", 429, {"Retry-After": "1"}), ("status", 500, {}),
                     ("garbage", b"{not json at all"), ("drop",))
    ep = EndpointConfig(base_urls=(fault_proxy.base_url,), model="smollm2-135m", timeout=300,
                        backoff_base=0.05, backoff_max=1.5, max_retries=6, concurrency=1)
    out = tmp_path / "o.jsonl"
    t0 = time.monotonic()
    s = run_generation(_one_problem(), ep, SamplingConfig(max_tokens=8, n=1, seed=1), out,
                       progress=False)
    assert time.monotonic() - t0 >= 1.0          # Retry-After honoured (it is under backoff_max)
    assert s["written"] == 1 and s["failed"] == 0
    assert s["usage"]["retries"] == 4 and s["usage"]["requests"] == 5
    rec = orjson.loads(_lines(out)[0])
    assert rec["response"] and rec["finish_reason"] in ("stop", "length")
    posts = [r for r in fault_proxy.requests if r[0] == "POST"]
    assert len(posts) == 5 and all(orjson.loads(b)["seed"] == 1 for _, _, b in posts)


def test_timeout_fails_the_sample_and_a_rerun_fills_it(fault_proxy, tmp_path):
    out = tmp_path / "o.jsonl"
    sampling = SamplingConfig(max_tokens=8, n=1)
    fault_proxy.push(("sleep", 4))
    quick = EndpointConfig(base_urls=(fault_proxy.base_url,), model="smollm2-135m", timeout=1,
                           max_retries=0, concurrency=1)
    t0 = time.monotonic()
    s = run_generation(_one_problem(), quick, sampling, out, progress=False)
    assert time.monotonic() - t0 < 30
    assert (s["written"], s["failed"]) == (0, 1) and "Timeout" in s["errors"][0]
    assert read_json(sidecar_path(out))["status"] == "incomplete"
    patient = EndpointConfig(base_urls=(fault_proxy.base_url,), model="smollm2-135m",
                             timeout=300, concurrency=1)
    s2 = run_generation(_one_problem(), patient, sampling, out, progress=False)
    assert (s2["written"], s2["failed"], s2["skipped_existing"]) == (1, 0, 0)
    assert len(_lines(out)) == 1
    # and once done, a third run sends nothing
    n_requests = len(fault_proxy.requests)
    s3 = run_generation(_one_problem(), patient, sampling, out, progress=False)
    assert (s3["written"], s3["skipped_existing"]) == (0, 1)
    assert len(fault_proxy.requests) == n_requests


def test_n_is_probed_not_assumed(smollm_server, tmp_path):
    """llama.cpp ignores n > 1: the probe sees one choice and the rest come as separate
    requests, so -n 2 still yields two samples."""
    ep = EndpointConfig(base_urls=(smollm_server.base_url,), model="smollm2-135m", timeout=300,
                        concurrency=1)
    out = tmp_path / "o.jsonl"
    s = run_generation(_one_problem(), ep, SamplingConfig(max_tokens=6, n=2, seed=3), out,
                       progress=False)
    assert s["server_honours_n"] is False and s["written"] == 2
    recs = [orjson.loads(x) for x in _lines(out)]
    assert sorted(r["sample"] for r in recs) == [0, 1]
    assert [r["request_n"] for r in recs] == [2, 1]
    assert [r["seed"] for r in recs] == [3, 4]
