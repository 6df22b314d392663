"""``reasonlens ablate`` end to end on SmolLM2 (transformers on CPU, and the local server),
plus the dry run, entry limits, vLLM request building and its clean failure without vLLM."""

from __future__ import annotations

import json

import orjson
import polars as pl
import pytest

from reasonlens.cli import main

PROBLEMS = [
    {"problem": "What is 2 + 2? Start your answer with the word Wait.", "answer": "4",
     "unique_id": "p1"},
    {"problem": "What is 3 + 5? Say maybe, but then answer.", "answer": "8", "unique_id": "p2"},
]


@pytest.fixture(autouse=True)
def _raise_errors(monkeypatch):
    monkeypatch.setenv("REASONLENS_RAISE_ERRORS", "1")


@pytest.fixture
def bench_file(tmp_path):
    p = tmp_path / "bench.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in PROBLEMS))
    return p


def _run(argv, capsys):
    try:
        main(argv)
    except SystemExit as exc:
        assert exc.code in (0, None), capsys.readouterr()
    return capsys.readouterr()


def _lines(path):
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


@pytest.mark.train
def test_ablate_hf_end_to_end_and_resume(smollm_hf, bench_file, tmp_path, capsys):
    out = tmp_path / "abl"
    argv = ["ablate", "--benchmark", "math500", "--benchmark-source", str(bench_file),
            "--model", "smollm2", "--backend", "hf", "--model-path", str(smollm_hf),
            "--banlist", "paper_core", "--temperature", "0", "--max-tokens", "12",
            "--threads", "1", "--n-boot", "200", "--out", str(out), "--quiet"]
    res = _run(argv, capsys)
    assert "ablation: smollm2 on math500" in res.out
    conds = ["none", "anthropomorphic", "connectors", "all", "random"]
    for c in conds:
        assert len(_lines(out / "traces" / f"{c}.jsonl")) == 2
        g = pl.read_parquet(out / "graded" / f"{c}.parquet")
        assert {"correct", "grade_reason"} <= set(g.columns) and g.height == 2
    ab = json.loads((out / "ablation.json").read_text())
    assert ab["condition_order"] == conds and set(ab["conditions"]) == set(conds)
    for c in conds:
        row = ab["conditions"][c]
        for key in ("n_banned_ids", "accuracy", "accuracy_ci", "delta_vs_none", "delta_ci",
                    "leakage_rate", "clip_ratio", "mean_length", "repetition_rate"):
            assert key in row, (c, key)
        assert 0.0 <= row["accuracy"] <= 1.0
    for c in ("anthropomorphic", "connectors", "all"):
        assert ab["conditions"][c]["leakage_rate_single"] == 0.0
    assert ab["conditions"]["random"]["n_banned_ids"] == ab["conditions"]["all"]["n_banned_ids"]
    rc = ab["random_control"]
    assert rc["n_ids"] == rc["n_targets"] and sum(rc["methods"].values()) == rc["n_ids"]
    assert not set(rc["ids"]) & {d["id"] for d in
                                 ab["banset"]["conditions"]["all"]["single_ids"]}
    assert ab["banset"]["hash"].startswith("b2:") and ab["provenance"]["command"] == "ablate"
    rec = _lines(out / "traces" / "all.jsonl")[0]
    assert rec["condition"]["name"] == "all"
    assert rec["condition"]["banset_hash"] == ab["banset"]["hash"]
    coll = json.loads((out / "collateral.json").read_text())
    assert coll["banset_hash"] == ab["banset"]["hash"] and coll["units"]
    assert pl.read_parquet(out / "leakage.parquet").height > 0
    sub = pl.read_parquet(out / "substitutions.parquet")
    assert {"condition", "rank", "term", "banned"} <= set(sub.columns)
    # resumable: a rerun generates nothing new
    _run(argv, capsys)
    for c in conds:
        assert len(_lines(out / "traces" / f"{c}.jsonl")) == 2


def test_ablate_dry_run_and_entry_limits(smollm_hf, tmp_path, capsys):
    out = tmp_path / "dry"
    base = ["ablate", "--benchmark", "math500", "--model", "smollm2",
            "--base-url", "http://127.0.0.1:9/v1", "--tokenizer", str(smollm_hf),
            "--ban", "anthropomorphic", "--ban", "connectors", "--dry-run", "--out", str(out)]
    res = _run(base, capsys)
    assert "ban sets (dry run)" in res.out
    plan = json.loads((out / "bansets.json").read_text())
    n_all = plan["conditions"]["all"]["n_bias_entries"]
    assert n_all > 50 and (out / "collateral.json").exists()
    from reasonlens.errors import AblationError

    with pytest.raises(AblationError, match="at most 40"):
        main(base + ["--max-bias-entries", "40"])
    _run(base + ["--max-bias-entries", "40", "--over-limit", "truncate"], capsys)
    plan = json.loads((out / "bansets.json").read_text())
    b = plan["conditions"]["all"]["bias"]
    assert b["truncated"] and b["n_entries"] == 40 and len(b["dropped_ids"]) == n_all - 40
    assert plan["conditions"]["all"]["n_bias_entries"] == 40


def test_openai_default_limit():
    from reasonlens.ablate.backends import default_bias_limit

    assert default_bias_limit(["https://api.openai.com/v1"]) == 300
    assert default_bias_limit(["http://127.0.0.1:8000/v1"]) is None


def test_vllm_request_building_and_clean_failure(smollm_hf, bench_file, tmp_path, capsys):
    from reasonlens._optional import vllm_available
    from reasonlens.ablate.backends import vllm_sampling
    from reasonlens.ablate.bans import build_banset
    from reasonlens.ablate.tokenizers import HFTokenizer
    from reasonlens.problems import load_benchmark
    from reasonlens.generate import SamplingConfig, build_vllm_requests

    bs = build_banset({"x": ["wait", "hmm"]}, HFTokenizer(smollm_hf))
    s = vllm_sampling(SamplingConfig(temperature=0.6, max_tokens=64, seed=1), bs)
    reqs = build_vllm_requests(load_benchmark("math500", bench_file), s)
    assert len(reqs) == 2
    lb = reqs[0].params["logit_bias"]
    assert set(lb) == set(bs.bias_ids(sequences_supported=False)) and set(lb.values()) == {-100.0}
    assert set(bs.piece_ids) <= set(lb)            # sequences go through pieces on vLLM
    if vllm_available():
        pytest.skip("vLLM is installed here: the clean-failure path does not apply")
    from reasonlens.errors import MissingDependencyError

    with pytest.raises(MissingDependencyError, match="gpu"):
        main(["ablate", "--benchmark", "math500", "--benchmark-source", str(bench_file),
              "--model", "m", "--backend", "vllm", "--model-path", str(smollm_hf),
              "--ban-words", "wait", "--out", str(tmp_path / "v"), "--quiet"])


@pytest.mark.server
def test_ablate_server_end_to_end(smollm_server, smollm_hf, bench_file, tmp_path, capsys):
    out = tmp_path / "srv"
    res = _run(["ablate", "--benchmark", "math500", "--benchmark-source", str(bench_file),
                "--model", smollm_server.model, "--base-url", smollm_server.base_url,
                "--tokenizer", str(smollm_hf), "--ban-words", "wait,maybe",
                "--temperature", "0", "--max-tokens", "8", "--concurrency", "1",
                "--n-boot", "100", "--out", str(out)], capsys)
    assert "ban check on the first request: passed" in res.err
    ab = json.loads((out / "ablation.json").read_text())
    assert ab["condition_order"] == ["none", "words", "random"]
    assert ab["ban_check"]["status"] == "passed"
    assert ab["conditions"]["words"]["leakage_rate_single"] == 0.0
    words = ab["banset"]["conditions"]["words"]
    assert ab["conditions"]["words"]["n_bias_entries"] == words["n_single"] + words["n_pieces"]
    rec = _lines(out / "traces" / "words.jsonl")[0]
    assert rec["condition"]["banset_hash"] == words["hash"]


TOY = [("2 + 2", "4"), ("3 + 5", "8"), ("10 - 3", "7"), ("2 times 3", "6")]


@pytest.mark.train
@pytest.mark.slow
def test_ablation_with_nonzero_accuracy_exercises_deltas_and_cis(smollm_hf, tmp_path, capsys):
    """Issue 13 finding 7: a toy task SmolLM2 solves in part, so accuracies, the paired delta
    and its bootstrap CI are not all zero. Banning the answer's digit ("6") costs the one
    "2 times 3 = 6"; the random control bans as many other ids and keeps the accuracy."""
    bench = tmp_path / "toy.jsonl"
    bench.write_text("".join(json.dumps({
        "problem": f'What is {q}? Reply in one short sentence of the form "The answer is N."',
        "answer": a, "unique_id": f"p{i}"}) + "\n" for i, (q, a) in enumerate(TOY)))
    out = tmp_path / "toy"
    _run(["ablate", "--benchmark", "math500", "--benchmark-source", str(bench),
          "--model", "smollm2", "--backend", "hf", "--model-path", str(smollm_hf),
          "--ban-words", "6,solve", "--temperature", "0", "--max-tokens", "20",
          "--threads", "1", "--n-boot", "400", "--out", str(out), "--quiet"], capsys)
    ab = json.loads((out / "ablation.json").read_text())
    none, words, rnd = (ab["conditions"][c] for c in ("none", "words", "random"))
    assert none["accuracy"] > 0 and rnd["accuracy"] > 0
    assert words["accuracy"] < none["accuracy"]
    assert words["delta_vs_none"] == pytest.approx(words["accuracy"] - none["accuracy"])
    lo, hi = words["delta_ci"]
    assert lo < 0 <= hi + 1e-12 and lo <= words["delta_vs_none"] <= hi
    assert none["accuracy_ci"][1] > none["accuracy_ci"][0]
    assert words["leakage_rate_single"] == 0.0
    assert (out / "reasonlens-manifest.json").exists()   # one atomic stage output
