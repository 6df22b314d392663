"""OpenAI-compatible path against the real local SmolLM2 server (llama-cpp-python): tokenize /
detokenize adapter, logit_bias generation with zero single-token leakage, the first-request
check, and the rewrite hook's machinery."""

from __future__ import annotations

import polars as pl
import pytest

pytestmark = pytest.mark.server

ELICIT = 'Repeat exactly: "Wait wait, but maybe wait"'


@pytest.fixture(scope="module")
def endpoint(smollm_server):
    from reasonlens.endpoint import EndpointConfig

    return EndpointConfig(base_urls=(smollm_server.base_url,), model=smollm_server.model,
                          concurrency=1, max_retries=2, backoff_base=0.1)


@pytest.fixture(scope="module")
def smol_tok(smollm_hf):
    from reasonlens.ablate.tokenizers import HFTokenizer

    return HFTokenizer(smollm_hf)


def test_endpoint_tokenizer_matches_local(smollm_server, smol_tok):
    from reasonlens.ablate.tokenizers import EndpointTokenizer

    et = EndpointTokenizer(smollm_server.base_url, smollm_server.model, vocab_size=49152,
                           batch=128)
    assert et.flavour == "llamacpp"
    texts = [" Wait", "Wait", "wait,", "Hmm", " hmm", "\nWait", " alternatively", "héllo"]
    assert et.encode_batch(texts) == smol_tok.encode_batch(texts)
    # ids 0..639 hold control tokens (decoded as "" by llama.cpp) and lone UTF-8 bytes (the
    # server answers 500 to those: the batch is bisected down to single ids)
    got = et.scan_range(0, 640)
    ref = smol_tok.surfaces()[:640]
    special = smol_tok.special_ids()
    # an id llama.cpp cannot decode alone (a partial UTF-8 character) is recorded as U+FFFD
    mismatch = [i for i in range(640) if i not in special and got[i] != ref[i]
                and not (got[i] == "\ufffd" and "\ufffd" in ref[i])]
    assert not mismatch, [(i, got[i], ref[i]) for i in mismatch[:5]]
    assert all(got[i] == "" for i in special if i < 640)
    assert "\ufffd" in got and " the" in got
    with pytest.raises(Exception, match="vocab-size"):
        EndpointTokenizer(smollm_server.base_url, smollm_server.model)


def test_logit_bias_generation_zero_single_token_leakage(endpoint, smol_tok, tmp_path):
    from reasonlens.ablate.audit import leakage
    from reasonlens.ablate.bans import build_banset
    from reasonlens.generate import SamplingConfig, run_generation
    from reasonlens.traces import load_traces

    bs = build_banset({"x": ["wait", "but", "maybe"]}, smol_tok)
    assert set(bs.single_token_lexemes()) == {"wait", "but", "maybe"}
    problems = pl.DataFrame({"benchmark": ["t"], "problem_id": ["a"], "problem": [ELICIT],
                             "gold": [""]})
    out = {}
    for name, bias in (("free", None), ("banned", bs.logit_bias())):
        s = SamplingConfig(temperature=0.0, max_tokens=16, seed=0, logit_bias=bias)
        summ = run_generation(problems, endpoint, s, tmp_path / f"{name}.jsonl",
                              progress=False)
        assert summ["written"] == 1 and summ["failed"] == 0
        df = load_traces([str(tmp_path / f"{name}.jsonl")])
        per, _ = leakage(df, bs.lexemes, single_token_lexemes=bs.single_token_lexemes())
        out[name] = int(per["leak_single"].sum())
    assert out["free"] > 0          # the prompts elicit the words without the ban
    assert out["banned"] == 0


def test_check_ban_on_real_server(endpoint, smol_tok):
    """Passes with the real ban; fails with a bias that misses the probe word (what a client or
    proxy dropping logit_bias looks like)."""
    from reasonlens.ablate.backends import check_ban
    from reasonlens.ablate.bans import build_banset

    bs = build_banset({"x": ["wait"]}, smol_tok)
    res = check_ban(endpoint, bs, bs.logit_bias(), surfaces=smol_tok.surfaces())
    assert res["probe_word"] == "wait"
    assert res["status"] == "passed", res
    assert res["control_mentions"] > 0 and res["banned_mentions"] == 0
    bad = check_ban(endpoint, bs, {12: -100.0}, surfaces=smol_tok.surfaces())
    assert bad["status"] == "failed" and bad["banned_mentions"] > 0


def test_rewrite_machinery(endpoint, tmp_path):
    from reasonlens.ablate.rewrite import RewriteTemplate, read_rewrites, rescore, rewrite_traces

    traces = pl.DataFrame({"id": ["m:b:1:0", "m:b:2:0"], "model": ["m", "m"],
                           "benchmark": ["b", "b"], "problem_id": ["1", "2"], "sample": [0, 0],
                           "response": ["Wait, 2 + 2 = 4. But let me check: yes, 4.",
                                        "Hmm, maybe 8. Wait, 3 + 5 = 8."]})
    tmpl = RewriteTemplate.load()
    msgs = tmpl.messages(traces["response"][0], ["wait", "but"])
    assert '"wait", "but"' in msgs[1]["content"] and traces["response"][0] in msgs[1]["content"]
    out = tmp_path / "rw.jsonl"
    s1 = rewrite_traces(traces.head(1), endpoint, ["wait", "but"], out, max_tokens=16)
    assert s1["written"] == 1
    with open(out, "ab") as fh:                   # a torn line from a crash
        fh.write(b'{"source_id": "m:b:2:0", "resp')
    s2 = rewrite_traces(traces, endpoint, ["wait", "but"], out, max_tokens=16)
    assert s2["skipped_existing"] == 1 and s2["written"] == 1
    rw = read_rewrites(out)
    assert sorted(rw["source_id"].to_list()) == ["m:b:1:0", "m:b:2:0"]
    summ = rescore(rw, ["anthropomorphic", "connectors"], ["wait", "but"])
    assert summ["n"] == 2 and summ["leakage"]["before"] == 1.0
    assert summ["categories"]["anthropomorphic"]["count_before"] >= 3
    assert 0.0 <= summ["leakage"]["after"] <= 1.0


def test_rewrite_cli(smollm_server, tmp_path, capsys, monkeypatch):
    import json

    from reasonlens.cli import main

    monkeypatch.setenv("REASONLENS_RAISE_ERRORS", "1")
    src = tmp_path / "traces.jsonl"
    src.write_text(json.dumps({"id": "t1", "model": "m", "benchmark": "b", "problem_id": "1",
                               "sample": 0, "response": "Wait, but 2 + 2 = 4."}) + "\n")
    out = tmp_path / "rw.jsonl"
    try:
        main(["rewrite", str(src), "--base-url", smollm_server.base_url, "--model",
              smollm_server.model, "--banlist", "paper_core", "--max-tokens", "8",
              "--out", str(out)])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "rewrite: 1 traces (1 new, 0 failed)" in capsys.readouterr().out
    summary = json.loads((tmp_path / "rw.jsonl.summary.json").read_text())
    assert summary["banned"] == ["wait", "maybe", "alternatively", "but"]
    assert summary["leakage"]["before"] == 1.0
    assert summary["provenance"]["command"] == "rewrite"
    rec = json.loads(out.read_text().splitlines()[0])
    assert rec["source_id"] == "t1" and rec["rewrite"]["template"].startswith(
        "rewrite_without_markers@")
