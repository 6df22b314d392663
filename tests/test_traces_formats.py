"""Evaluation-framework logs as trace layouts: lighteval details (both column generations) and
inspect_ai eval logs (.eval zip and .json) -- issue 11."""

from __future__ import annotations

import json
import zipfile

import polars as pl

from reasonlens.traces import LoadReport, load_traces


def _lighteval_dir(tmp_path):
    d = tmp_path / "details" / "Qwen" / "Qwen2.5-7B" / "2025-05-01T10-00-00.000000"
    d.mkdir(parents=True)
    return d


def test_lighteval_legacy_details(tmp_path):
    path = _lighteval_dir(tmp_path) / "details_lighteval|math_500|0_2025-05-01T10-00-00.parquet"
    pl.DataFrame({
        "example": ["What is 1+1?", "What is 2+2?"],
        "full_prompt": ["<user>What is 1+1?", "<user>What is 2+2?"],
        "predictions": [["<think>hmm</think> \\boxed{2}"], ["\\boxed{4}", "\\boxed{5}"]],
        "gold": [["2"], ["4"]],
        "metrics": [{"extractive_match": 1.0}, {"extractive_match": 1.0}],
    }).write_parquet(path)
    report = LoadReport()
    df = load_traces(str(path), report=report)
    assert report.layouts[str(path)] == "lighteval-legacy"
    assert df["model"].unique().to_list() == ["Qwen2.5-7B"]
    assert df["benchmark"].unique().to_list() == ["math_500"]
    assert df["gold"].to_list() == ["2", "4", "4"] and df["sample"].to_list() == [0, 0, 1]
    assert df["prompt"][0] == "What is 1+1?" and df["reasoning"][0] == "hmm"


def test_lighteval_details_with_doc_and_model_response(tmp_path):
    path = _lighteval_dir(tmp_path) / "details_lighteval|aime24|0_2025-05-01T10-00-00.parquet"
    pl.DataFrame({
        "doc": [{"query": "Find x.", "choices": ["25"], "gold_index": 0, "id": "7",
                 "task_name": "lighteval|aime24|0"},
                {"query": "Find y.", "choices": ["A", "B", "C"], "gold_index": 2, "id": "8",
                 "task_name": "lighteval|aime24|0"}],
        "model_response": [{"text": ["so \\boxed{25}", "so \\boxed{24}"],
                            "output_tokens": [[1, 2], [3]]},
                           {"text": ["C"], "output_tokens": [[4]]}],
        "metric": [{"pass@1": 0.5}, {"pass@1": 1.0}],
    }).write_parquet(path)
    report = LoadReport()
    df = load_traces(str(path), report=report)
    assert report.layouts[str(path)] == "lighteval"
    assert df["response"].to_list() == ["so \\boxed{25}", "so \\boxed{24}", "C"]
    assert df["gold"].to_list() == ["25", "25", "C"]
    assert df["problem_id"].to_list() == ["7", "7", "8"]
    assert df["benchmark"].unique().to_list() == ["lighteval|aime24|0"]
    assert df["prompt"].to_list()[2] == "Find y."


def _inspect_samples():
    return [
        {"id": "q1", "epoch": 1, "input": "What is 6*7?", "target": "42",
         "output": {"model": "openai/gpt-x", "choices": [{"message": {
             "role": "assistant", "content": [
                 {"type": "reasoning", "reasoning": "six sevens are forty-two"},
                 {"type": "text", "text": "The answer is \\boxed{42}."}]},
             "stop_reason": "stop"}],
             "usage": {"input_tokens": 12, "output_tokens": 30}}},
        {"id": "q1", "epoch": 2, "input": [{"role": "user", "content": "What is 6*7?"}],
         "target": ["42"],
         "output": {"model": "openai/gpt-x", "choices": [{"message": {
             "role": "assistant", "content": "It is \\boxed{41}."},
             "stop_reason": "max_tokens"}]}},
    ]


def _check_inspect(df):
    assert df["model"].unique().to_list() == ["openai/gpt-x"]
    assert df["benchmark"].unique().to_list() == ["arith"]
    assert df["problem_id"].to_list() == ["q1", "q1"] and df["sample"].to_list() == [0, 1]
    assert df["gold"].to_list() == ["42", "42"]
    assert df["reasoning"][0] == "six sevens are forty-two"
    assert df["answer"][0].strip() == "The answer is \\boxed{42}."
    assert df["prompt"].to_list() == ["What is 6*7?", "What is 6*7?"]
    assert df["completion_tokens"].to_list() == [30, None]
    assert df["finish_reason"].to_list() == ["stop", "max_tokens"]


def test_inspect_ai_json_log(tmp_path):
    path = tmp_path / "2025-05-01_arith_abc.json"
    path.write_text(json.dumps({"version": 2, "status": "success",
                                "eval": {"task": "arith", "model": "openai/gpt-x"},
                                "samples": _inspect_samples()}, indent=2))
    _check_inspect(load_traces(str(path)))


def test_inspect_ai_eval_zip_log(tmp_path):
    path = tmp_path / "2025-05-01_arith_abc.eval"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("header.json", json.dumps({"version": 2, "eval": {
            "task": "arith", "model": "openai/gpt-x"}}))
        for s in _inspect_samples():
            zf.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
    _check_inspect(load_traces(str(path)))
    bad = tmp_path / "bad.eval"
    bad.write_text("not a zip")
    import pytest

    from reasonlens.errors import InputError

    with pytest.raises(InputError, match="not a readable inspect_ai .eval log"):
        load_traces(str(bad))


def test_lighteval_details_take_the_columnar_path_and_load_the_same_both_ways(tmp_path,
                                                                             monkeypatch):
    """The gold of lighteval details (``doc.choices[doc.gold_index]``) by columns, as the row
    path reads it: an index of one integer or a list of one, out of range, negative, null,
    boolean or float (no gold, or the row path), choices of strings, integers or number-like
    texts; as JSONL and as parquet, in chunks of several records."""
    import random

    from tests.test_columnar import assert_same, load_columnar

    rng = random.Random(7)
    index_kinds = {"int": lambda: rng.randrange(-1, 4), "list": lambda: [rng.randrange(3)],
                   "lists": lambda: rng.choice([[0], [0, 1], [], None]),
                   "odd": lambda: rng.choice([True, 1.0, "1", None, 2])}
    choice_kinds = {"text": lambda: [rng.choice(["A", " 25 ", "1e-7", "0.00001", "x"])
                                     for _ in range(3)],
                    "int": lambda: [rng.randrange(100) for _ in range(3)],
                    "mixed": lambda: ["A", 5, 1e-7]}
    for ik, index in index_kinds.items():
        for ck, choices in choice_kinds.items():
            recs = [{"doc": {"query": f"q{i}", "choices": choices(), "gold_index": index(),
                             "id": str(i % 9), "task_name": "lighteval|aime24|0"},
                     "model_response": {"text": [f"so \\boxed{{{i}}}"] * rng.randrange(1, 3)}}
                    for i in range(60)]
            d = _lighteval_dir(tmp_path / f"{ik}-{ck}")
            jsonl = d / "details_lighteval|aime24|0_2025-05-01T10-00-00.jsonl"
            jsonl.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
            assert_same([str(jsonl)], monkeypatch=monkeypatch, chunk=2000)
            if ik != "odd" and ck != "mixed":  # (a typed table holds one type per column)
                parquet = jsonl.with_suffix(".parquet")
                pl.DataFrame(recs).write_parquet(parquet)
                assert_same([str(parquet)], monkeypatch=monkeypatch)
    path = _lighteval_dir(tmp_path / "clean") / "details_lighteval|aime24|0_2025.jsonl"
    path.write_text("".join(json.dumps({"doc": {"query": "q", "choices": ["A", "B"],
                                                "gold_index": i % 2, "id": str(i)},
                                        "model_response": {"text": ["t"]}}) + "\n"
                            for i in range(20)), encoding="utf-8")
    frame, columnar_only = load_columnar(path, monkeypatch)
    assert columnar_only and frame["gold"].to_list() == ["A", "B"] * 10
