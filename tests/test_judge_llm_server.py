"""The LLM judge machinery against a REAL local server (llama-cpp-python serving SmolLM2-135M).

SmolLM2-135M is far too small to judge well: these tests check the machinery (build, send,
structured-output fallback, parse, cache, resume, retries, key hygiene), not the counts.
llama-cpp serves one request at a time on shared CPU cores, so replies are kept short.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import polars as pl
import pytest

from reasonlens.cli import main
from reasonlens.io import parquet_provenance, read_json
from reasonlens.devtools.rubrics import write_doubt_rubric
from reasonlens.schema import judgment_schema
from reasonlens.devtools.servers import FaultProxy

pytestmark = [pytest.mark.server, pytest.mark.slow]

STATUSES = {"ok", "parse_error", "refusal", "error", "skipped"}
KEY = "sk-reasonlens-test-0123456789abcdef"


def _traces(path: Path, n: int, *, long_one: bool = False) -> Path:
    rows = []
    for i in range(n):
        resp = f"We add {i} and 2. That gives {i + 2}. Wait, that seems wrong. So it is {i + 2}."
        if long_one and i == 0:
            resp = "\n\n".join(f"Step {k}: we compute {k} times 3, which is {3 * k}. "
                               f"Hmm, let me check {k} again." for k in range(4))
        rows.append({"id": f"t{i}", "model": "m", "benchmark": "b", "problem_id": str(i),
                     "prompt": f"What is {i} + 2?", "response": resp})
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def _rubric(tmp_path: Path) -> Path:
    return write_doubt_rubric(tmp_path, "toy_doubt")


def _judge(args: list[str], *, allow_failures: bool = True) -> None:
    """Run ``reasonlens judge``; SmolLM2-135M replies are often unusable, so the machinery tests
    accept failed judgments (--allow-failures) unless told otherwise."""
    try:
        main(["judge", *args, *(["--allow-failures"] if allow_failures else [])])
    except SystemExit as exc:  # main() exits on errors; success returns
        assert exc.code in (0, None), f"reasonlens judge exited with {exc.code}"


def _bodies(proxy: FaultProxy) -> list[dict]:
    return [orjson.loads(b) for m, p, b in proxy.requests if p.endswith("/chat/completions")]


def test_end_to_end_two_urls_structured_fallback_then_all_from_cache(smollm_server, fault_proxy,
                                                                     tmp_path):
    second = FaultProxy(smollm_server.base_url)
    try:
        traces = _traces(tmp_path / "t.jsonl", 2, long_one=True)
        cache = tmp_path / "cache.sqlite"
        args = [str(traces), "--base-url", fault_proxy.base_url, "--base-url", second.base_url,
                "--model", smollm_server.model, "--rubric", str(_rubric(tmp_path)),
                "--max-tokens", "8", "--max-chunk-tokens", "60", "--overlap", "10",
                "--concurrency", "2", "--cache", str(cache), "--price-in", "1",
                "--price-out", "2"]
        _judge([*args, "--out", str(tmp_path / "out1")])
        bodies = _bodies(fault_proxy) + _bodies(second)
        # auto: one json_schema probe (llama-cpp answers 500), then json_object for everything
        kinds = sorted(b["response_format"]["type"] for b in bodies)
        assert kinds.count("json_schema") == 1
        assert all(b["temperature"] == 0.0 and b["max_tokens"] == 8 for b in bodies)
        assert _bodies(fault_proxy) and _bodies(second), "both base URLs got requests"

        out = tmp_path / "out1"
        j = pl.read_parquet(out / "judgments.parquet")
        assert j.get_column("id").to_list() == ["t0", "t1"]
        assert j.schema == pl.Schema(judgment_schema(["doubt"], audit=True))
        assert set(j.get_column("mode")) == {"count"} and set(j.get_column("count_unit")) == \
            {"episodes"}
        assert set(j.get_column("doubt_status")) <= STATUSES
        n_chunks = j.get_column("n_chunks").to_list()
        assert n_chunks == [2, 1]
        assert len(bodies) == 1 + sum(n_chunks)
        for row in j.iter_rows(named=True):
            assert (row["doubt_count"] is None) == (row["doubt_status"] != "ok")
            if row["doubt_status"] in ("parse_error", "refusal"):
                assert row["doubt_raw"]  # the raw reply is kept
            insts = orjson.loads(row["doubt_instances"])
            assert all(set(x) == {"quote", "sentence", "chunk"} for x in insts)
        summary = read_json(out / "summary.json")
        assert summary["structured_output"] == "json_object"
        assert summary["judge"] == f"llm:{smollm_server.model}" and not summary["approximate"]
        assert summary["chunking"]["n_chunks_total"] == sum(n_chunks)
        assert summary["chunking"]["n_responses_chunked"] == 1
        u = summary["usage"]
        assert u["requests"] == len(bodies) and u["prompt_tokens"] > 0
        assert u["cost_usd"] == pytest.approx((u["prompt_tokens"] + 2 * u["completion_tokens"])
                                              / 1e6)
        assert set(u["per_url"]) == {fault_proxy.base_url, second.base_url}
        st = summary["models"]["m"]["benchmarks"]["b"]["behaviours"]["doubt"]
        assert st["n"] + st["n_missing"] == 2
        assert summary["cache"]["writes"] == sum(n_chunks)
        names = {d["name"] for d in summary["provenance"]["data_files"]}
        assert names == {"toy_doubt", "judge_behaviour"}
        assert parquet_provenance(out / "judgments.parquet")["command"] == "judge"

        # second run: everything from the cache, not one request sent
        fault_proxy.clear()
        second.clear()
        _judge([*args, "--out", str(tmp_path / "out2")])
        assert _bodies(fault_proxy) == [] and _bodies(second) == []
        s2 = read_json(tmp_path / "out2" / "summary.json")
        assert s2["cache"]["hits"] == sum(n_chunks) and s2["cache"]["writes"] == 0
        assert s2["usage"]["requests"] == 0
        j2 = pl.read_parquet(tmp_path / "out2" / "judgments.parquet")
        assert j2.equals(j)
    finally:
        second.close()


def test_faults_are_retried_and_succeed(smollm_server, fault_proxy, tmp_path):
    traces = _traces(tmp_path / "t.jsonl", 1)
    fault_proxy.push(("status", 429, {"Retry-After": "1"}), ("status", 500, {}),
                     ("garbage", b"{this is not json"), ("drop",))
    t0 = time.monotonic()
    _judge([str(traces), "--out", str(tmp_path / "o"), "--base-url", fault_proxy.base_url,
            "--model", smollm_server.model, "--rubric", str(_rubric(tmp_path)),
            "--max-tokens", "8", "--structured", "json_object", "--backoff-base", "0.2",
            "--no-cache"])
    assert time.monotonic() - t0 >= 1.0  # Retry-After honoured
    s = read_json(tmp_path / "o" / "summary.json")
    assert (s["usage"]["retries"], s["usage"]["failures"]) == (4, 0)
    assert s["usage"]["completion_tokens"] > 0  # the fifth attempt reached the real model
    assert len(_bodies(fault_proxy)) == 5
    assert len({b for _, _, b in fault_proxy.requests}) == 1  # the same request each time
    j = pl.read_parquet(tmp_path / "o" / "judgments.parquet")
    assert j.get_column("doubt_status")[0] in STATUSES - {"error", "skipped"}


def test_timeout_is_retried(smollm_server, fault_proxy, tmp_path):
    # the first attempt hangs past --timeout; the retry gets a well-formed judge reply from the
    # proxy, so the figures are exact whatever the machine's load
    traces = _traces(tmp_path / "t.jsonl", 1)
    content = orjson.dumps({"rationale": "r", "instances": [
        {"quote": "Wait, that seems wrong", "sentence": 3, "explanation": "doubt"}],
        "count": 1}).decode()
    reply = orjson.dumps({"object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content},
         "finish_reason": "stop"}], "usage": {"prompt_tokens": 7, "completion_tokens": 3}})
    fault_proxy.push(("sleep", 4), ("garbage", reply))
    t0 = time.monotonic()
    _judge([str(traces), "--out", str(tmp_path / "o"), "--base-url", fault_proxy.base_url,
            "--model", smollm_server.model, "--rubric", str(_rubric(tmp_path)),
            "--structured", "json_object", "--timeout", "1", "--backoff-base", "0.05",
            "--no-cache"])
    assert time.monotonic() - t0 >= 1.0
    s = read_json(tmp_path / "o" / "summary.json")
    assert (s["usage"]["retries"], s["usage"]["prompt_tokens"]) == (1, 7)
    row = pl.read_parquet(tmp_path / "o" / "judgments.parquet").row(0, named=True)
    assert (row["doubt_status"], row["doubt_count"]) == ("ok", 1)
    assert orjson.loads(row["doubt_instances"]) == [
        {"quote": "Wait, that seems wrong", "sentence": 3, "chunk": 0}]


def test_exhausted_retries_are_missing_not_zero(smollm_server, fault_proxy, tmp_path):
    traces = _traces(tmp_path / "t.jsonl", 1)
    fault_proxy.push(*[("status", 503, {})] * 3)
    _judge([str(traces), "--out", str(tmp_path / "o"), "--base-url", fault_proxy.base_url,
            "--model", smollm_server.model, "--rubric", str(_rubric(tmp_path)),
            "--structured", "json_object", "--max-retries", "2", "--backoff-base", "0.05",
            "--cache", str(tmp_path / "c.sqlite")])
    row = pl.read_parquet(tmp_path / "o" / "judgments.parquet").row(0, named=True)
    assert (row["doubt_status"], row["doubt_count"]) == ("error", None)
    assert "HTTP 503" in row["doubt_reason"]
    assert _cache_rows(tmp_path / "c.sqlite") == 0  # failures are not cached: a rerun retries


def test_non_json_reply_is_parse_error_with_raw_kept(smollm_server, fault_proxy, tmp_path):
    traces = _traces(tmp_path / "t.jsonl", 2)
    # trace t0 gets a well-formed chat reply whose content is prose; t1 goes to the real model
    fake = orjson.dumps({"id": "x", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "I count two doubts."},
         "finish_reason": "stop"}], "usage": {"prompt_tokens": 5, "completion_tokens": 5}})
    fault_proxy.push(("garbage", fake))
    _judge([str(traces), "--out", str(tmp_path / "o"), "--base-url", fault_proxy.base_url,
            "--model", smollm_server.model, "--rubric", str(_rubric(tmp_path)),
            "--max-tokens", "8", "--structured", "none", "--concurrency", "1",
            "--cache", str(tmp_path / "c.sqlite")])
    j = pl.read_parquet(tmp_path / "o" / "judgments.parquet").sort("id")
    r0 = j.row(0, named=True)
    assert (r0["doubt_status"], r0["doubt_count"]) == ("parse_error", None)
    assert orjson.loads(r0["doubt_raw"]) == [{"chunk": 0, "raw": "I count two doubts."}]
    assert "no JSON object" in r0["doubt_reason"]
    r1 = j.row(1, named=True)  # a free-text reply of the real model: judged or missing, never 0
    assert r1["doubt_status"] in STATUSES
    if r1["doubt_status"] != "ok":
        assert r1["doubt_count"] is None and r1["doubt_raw"]
    s = read_json(tmp_path / "o" / "summary.json")
    assert s["overall"]["behaviours"]["doubt"]["statuses"].get("parse_error", 0) >= 1


def _cache_rows(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def test_kill_9_and_resume_loses_and_repeats_nothing(smollm_server, fault_proxy, tmp_path):
    n = 5
    traces = _traces(tmp_path / "t.jsonl", n)
    cache = tmp_path / "cache.sqlite"
    args = [str(traces), "--base-url", fault_proxy.base_url, "--model", smollm_server.model,
            "--rubric", str(_rubric(tmp_path)), "--max-tokens", "8", "--structured",
            "json_object", "--concurrency", "1", "--cache", str(cache)]
    proc = subprocess.Popen([sys.executable, "-m", "reasonlens", "judge", *args, "--out",
                             str(tmp_path / "killed")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ})
    deadline = time.monotonic() + 240
    while _cache_rows(cache) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    done = _cache_rows(cache)
    assert 2 <= done < n, "kill -9 landed mid-run"
    assert not (tmp_path / "killed" / "judgments.parquet").exists()

    fault_proxy.clear()
    _judge([*args, "--out", str(tmp_path / "resumed")])
    assert len(_bodies(fault_proxy)) == n - done  # nothing finished is sent again
    s = read_json(tmp_path / "resumed" / "summary.json")
    assert (s["cache"]["hits"], s["cache"]["writes"]) == (done, n - done)
    assert _cache_rows(cache) == n
    j = pl.read_parquet(tmp_path / "resumed" / "judgments.parquet")
    assert j.height == n and "error" not in set(j.get_column("doubt_status"))


def test_api_key_never_reaches_cache_outputs_or_logs(smollm_server, fault_proxy, tmp_path):
    traces = _traces(tmp_path / "t.jsonl", 1)
    cache = tmp_path / "cache.sqlite"
    out = tmp_path / "o"
    # a server that echoes the key in an error body, then a retryable status
    fault_proxy.push(("garbage", f"bad key {KEY}".encode()), ("status", 503, {}))
    env = {**os.environ, "REASONLENS_JUDGE_KEY": KEY, "REASONLENS_RAISE_ERRORS": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "reasonlens", "judge", str(traces), "--out", str(out),
         "--base-url", fault_proxy.base_url, "--model", smollm_server.model, "--rubric",
         str(_rubric(tmp_path)), "--max-tokens", "8", "--structured", "json_object",
         "--api-key-env", "REASONLENS_JUDGE_KEY", "--cache", str(cache), "-v",
         "--backoff-base", "0.2", "--allow-failures"],
        capture_output=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    logs = proc.stdout + proc.stderr
    assert b"retrying" in logs and b"***" in logs  # the echo was logged, redacted
    assert KEY.encode() not in logs
    files = [p for p in [*out.rglob("*"), *tmp_path.glob("cache.sqlite*")] if p.is_file()]
    assert any(p.name == "judgments.parquet" for p in files) and cache.exists()
    for p in files:
        assert KEY.encode() not in p.read_bytes(), p
    # the key was sent (as a Bearer header) -- the proxy saw the requests but bodies hold no key
    assert all(KEY.encode() not in b for _, _, b in fault_proxy.requests)


def _fake_reply(content: str) -> tuple:
    """A proxy fault that answers like a chat server (no model time spent)."""
    return ("garbage", orjson.dumps({"object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": content},
         "finish_reason": "stop"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}}))


def test_sampled_requests_bypass_the_cache_unless_asked(smollm_server, fault_proxy, tmp_path):
    traces = _traces(tmp_path / "t.jsonl", 1)
    base = [str(traces), "--base-url", fault_proxy.base_url, "--model", smollm_server.model,
            "--rubric", str(_rubric(tmp_path)), "--structured", "json_object",
            "--cache", str(tmp_path / "c.sqlite")]
    empty = '{"rationale": "none", "instances": [], "count": 0}'

    def run(*extra: str) -> dict:
        fault_proxy.clear()
        fault_proxy.push(_fake_reply(empty))
        out = tmp_path / f"o{len(list(tmp_path.glob('o*')))}"
        _judge([*base, *extra, "--out", str(out)])
        s = read_json(out / "summary.json")
        s["sent"] = len(_bodies(fault_proxy))
        return s

    s = run("--temperature", "0.7")
    assert (s["sent"], s["cache"]["writes"], s["cache"]["hits"]) == (1, 1, 0)
    s = run("--temperature", "0.7")  # sampled: asked again, not served
    assert (s["sent"], s["cache"]["bypassed"], s["cache"]["hits"]) == (1, 1, 0)
    s = run("--temperature", "0.7", "--cache-sampled")
    assert (s["sent"], s["cache"]["hits"]) == (0, 1)
    s = run("--temperature", "0.7", "--seed", "5")  # seeded: a new key, then cached
    assert (s["sent"], s["cache"]["writes"]) == (1, 1)
    s = run("--temperature", "0.7", "--seed", "5")
    assert (s["sent"], s["cache"]["hits"]) == (0, 1)
    j = pl.read_parquet(tmp_path / "o4" / "judgments.parquet")
    assert (j["doubt_status"][0], j["doubt_count"][0]) == ("ok", 0)


SENT_TRACE = ("Okay, so we need x. Hmm, let me see. We compute 2 + 2 = 4. Wait, maybe try "
              "another way. Let me check: 4 - 2 = 2. Yes, that matches.")


@pytest.mark.parametrize("taxonomy, mode", [("schoenfeld", "sentences"), ("gandhi", "count")])
def test_taxonomies_through_the_llm_judge_both_modes_cache_and_resume(
        smollm_server, fault_proxy, tmp_path, taxonomy, mode):
    """Machinery: the real server answers (SmolLM2 replies are mostly unusable, recorded as
    missing); a rerun is served entirely from the cache; one call per chunk in sentences mode."""
    tr = tmp_path / "t.jsonl"
    tr.write_bytes(orjson.dumps({"id": "s0", "model": "m", "response": SENT_TRACE}) + b"\n")
    args = [str(tr), "--base-url", fault_proxy.base_url, "--model", smollm_server.model,
            "--taxonomy", taxonomy, "--mode", mode, "--max-tokens", "12", "--structured",
            "json_object", "--cache", str(tmp_path / "c.sqlite")]
    _judge([*args, "--out", str(tmp_path / "o1")])
    from reasonlens.judge.taxonomy import load_taxonomy

    tax = load_taxonomy(taxonomy)
    n_calls = 1 if mode == "sentences" else len(tax.keys)
    assert len(_bodies(fault_proxy)) == n_calls
    j = pl.read_parquet(tmp_path / "o1" / "judgments.parquet")
    assert {f"{k}_count" for k in tax.outputs()} <= set(j.columns)
    assert {"metacognitive_count", "multi_perspective_count"} <= set(j.columns)  # mapped
    assert set(j.get_column("taxonomy")) == {taxonomy} and set(j.get_column("mode")) == {mode}
    for k in tax.outputs():
        assert set(j.get_column(f"{k}_status")) <= STATUSES
    s = read_json(tmp_path / "o1" / "summary.json")
    assert (s["taxonomy"], s["mode"], s["unit"]) == (taxonomy, mode, "episodes")
    assert tax.record()["name"] in {d["name"] for d in s["provenance"]["data_files"]}
    fault_proxy.clear()
    _judge([*args, "--out", str(tmp_path / "o2")])
    assert _bodies(fault_proxy) == []
    assert read_json(tmp_path / "o2" / "summary.json")["cache"]["hits"] == n_calls


def test_sentence_mode_reply_maps_labels_onto_behaviours(smollm_server, fault_proxy, tmp_path):
    """A well-formed sentence-labelling reply (from the proxy): schoenfeld labels per sentence,
    mapped onto the paper's behaviours (monitor + verify -> metacognitive) in episodes."""
    tr = tmp_path / "t.jsonl"
    tr.write_bytes(orjson.dumps({"id": "s0", "model": "m", "response": SENT_TRACE}) + b"\n")
    reply = orjson.dumps({"labels": {"read": [1], "analyze": [], "plan": [], "implement": [3],
                                     "explore": [4], "verify": [5, 6], "monitor": [2]}}).decode()
    fault_proxy.push(_fake_reply(reply))
    _judge([str(tr), "--out", str(tmp_path / "o"), "--base-url", fault_proxy.base_url,
            "--model", smollm_server.model, "--taxonomy", "schoenfeld", "--mode", "sentences",
            "--structured", "json_object", "--no-cache"], allow_failures=False)
    r = pl.read_parquet(tmp_path / "o" / "judgments.parquet").row(0, named=True)
    assert (r["verify_count"], r["verify_sentences"]) == (1, 2)
    assert (r["metacognitive_count"], r["metacognitive_sentences"]) == (2, 3)  # {2}, {5, 6}
    assert r["multi_perspective_count"] == 1 and r["read_count"] == 1
    inst = pl.read_parquet(tmp_path / "o" / "instances.parquet")
    mc = inst.filter(pl.col("behaviour") == "metacognitive")
    assert mc.get_column("sentence").to_list() == [2, 5, 6]
    assert mc.get_column("episode").to_list() == [1, 2, 2]
