"""Trace loading: every supported layout, field mapping, streaming."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from reasonlens.errors import ConfigError, InputError
from reasonlens.schema import TRACE_COLUMNS
from reasonlens.traces import (LoadOptions, LoadReport, iter_trace_batches, load_traces,
                               split_reasoning)


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


FLAT = [
    {"model": "m1", "benchmark": "b", "problem_id": "p1", "prompt": "Q1",
     "response": "<think>Wait, hmm.</think>The answer is 4.", "gold": 4,
     "finish_reason": "stop", "completion_tokens": 12, "correct": True},
    {"model": "m1", "benchmark": "b", "problem_id": "p1", "prompt": "Q1",
     "response": "<think>Let me think, and think", "finish_reason": "length"},
]


def test_flat_jsonl_and_reasoning_split(tmp_path):
    df = load_traces(str(write_jsonl(tmp_path / "t.jsonl", FLAT)))
    assert df.columns[:len(TRACE_COLUMNS)] == list(TRACE_COLUMNS)
    assert df["sample"].to_list() == [0, 1]
    assert df["id"].to_list() == ["m1:b:p1:0", "m1:b:p1:1"]
    r0, r1 = df.row(0, named=True), df.row(1, named=True)
    assert (r0["reasoning"], r0["answer"], r0["think_closed"]) == ("Wait, hmm.", "The answer is 4.",
                                                                   True)
    assert r0["gold"] == "4" and r0["completion_tokens"] == 12 and r0["source_line"] == 1
    assert json.loads(r0["metadata"]) == {"correct": True}
    # truncated: opening tag, no closing tag
    assert (r1["reasoning"], r1["answer"], r1["think_closed"]) == ("Let me think, and think", "",
                                                                   False)
    assert r1["finish_reason"] == "length"


def test_split_reasoning_cases():
    assert split_reasoning("plain answer") == split_reasoning("plain answer", None)
    s = split_reasoning("plain answer")
    assert (s.reasoning, s.answer, s.think_closed) == ("", "plain answer", None)
    s = split_reasoning("only close</think> ans")  # R1 template puts <think> in the prompt
    assert (s.reasoning, s.answer, s.think_closed) == ("only close", "ans", True)
    s = split_reasoning("final", "separate reasoning")
    assert (s.reasoning, s.answer, s.think_closed) == ("separate reasoning", "final", True)


def test_openai_chat_choices_with_reasoning_content(tmp_path):
    rec = {"id": "chatcmpl-1", "model": "r1", "object": "chat.completion",
           "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "It is 5.",
                                    "reasoning_content": "Wait, maybe 5."}},
                       {"index": 1, "finish_reason": "length",
                        "message": {"role": "assistant", "content": "It is 6.",
                                    "reasoning_content": "Hmm."}}],
           "usage": {"prompt_tokens": 10, "completion_tokens": 40}}
    report = LoadReport()
    df = load_traces(str(write_jsonl(tmp_path / "chat.jsonl", [rec])), report=report)
    assert report.layouts[str(tmp_path / "chat.jsonl")] == "openai-chat"
    assert len(df) == 2 and df["model"].to_list() == ["r1", "r1"]
    assert df["reasoning"].to_list() == ["Wait, maybe 5.", "Hmm."]
    assert df["answer"].to_list() == ["It is 5.", "It is 6."]
    assert df["finish_reason"].to_list() == ["stop", "length"]
    assert df["sample"].to_list() == [0, 1]
    assert df["prompt_tokens"].to_list() == [10, 10]
    assert "<think>" in df["response"][0] and "It is 5." in df["response"][0]


def test_vllm_outputs(tmp_path):
    rec = {"request_id": "7", "prompt": "What is 2+2?",
           "outputs": [{"index": 0, "text": "<think>ok</think>4", "token_ids": [1, 2, 3],
                        "finish_reason": "stop"}]}
    df = load_traces(str(write_jsonl(tmp_path / "vllm.jsonl", [rec])),
                     LoadOptions(model="qwen", benchmark="toy"))
    r = df.row(0, named=True)
    assert (r["model"], r["benchmark"], r["answer"], r["reasoning"]) == ("qwen", "toy", "4", "ok")
    assert r["completion_tokens"] == 3 and r["prompt"] == "What is 2+2?"


def test_lm_eval_resps(tmp_path):
    rec = {"doc_id": 3, "doc": {"problem": "Compute 1+1.", "answer": "2"},
           "resps": [["first answer 2", "second answer 3"]], "filtered_resps": ["2", "3"]}
    df = load_traces(str(write_jsonl(tmp_path / "samples_math.jsonl", [rec])))
    assert df["response"].to_list() == ["first answer 2", "second answer 3"]
    assert df["problem_id"].to_list() == ["3", "3"]
    assert df["gold"].to_list() == ["2", "2"] and df["prompt"][0] == "Compute 1+1."
    assert df["model"][0] == "samples_math"  # default: the file name
    assert df["id"].to_list() == ["samples_math:unknown:3:0", "samples_math:unknown:3:1"]


def test_chat_messages_last_assistant_turn(tmp_path):
    rec = {"model": "m", "messages": [{"role": "system", "content": "be brief"},
                                      {"role": "user", "content": "Q?"},
                                      {"role": "assistant", "content": "<think>r</think>A"}]}
    df = load_traces(str(write_jsonl(tmp_path / "msgs.jsonl", [rec])))
    r = df.row(0, named=True)
    assert (r["prompt"], r["reasoning"], r["answer"]) == ("Q?", "r", "A")


def test_multi_response_records(tmp_path):
    rec = {"model": "m", "problem": "Q", "responses": ["a", "b", "c"], "gold": "x"}
    df = load_traces(str(write_jsonl(tmp_path / "multi.jsonl", [rec])))
    assert df["response"].to_list() == ["a", "b", "c"]
    assert df["sample"].to_list() == [0, 1, 2]
    assert df["problem_id"].n_unique() == 1 and df["problem_id"][0].startswith("p-")


def test_parquet_gz_json_array_agree(tmp_path):
    base = load_traces(str(write_jsonl(tmp_path / "t.jsonl", FLAT)))
    pl.DataFrame(FLAT).write_parquet(tmp_path / "t.parquet")
    with gzip.open(tmp_path / "t.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in FLAT))
    (tmp_path / "t.json").write_text(json.dumps(FLAT))
    cols = ["id", "model", "problem_id", "sample", "reasoning", "answer", "think_closed",
            "finish_reason"]
    for name in ("t.parquet", "t.jsonl.gz", "t.json"):
        report = LoadReport()
        df = load_traces(str(tmp_path / name), report=report)
        assert df.select(cols).equals(base.select(cols)), name
        assert report.bytes_read == (tmp_path / name).stat().st_size, name


def test_datasets_save_to_disk_directory(tmp_path, caplog):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"model": "m", "question": "Q", "output": "<think>w</think>y",
                                      "idx": i} for i in range(3)])
    ds.save_to_disk(str(tmp_path / "ds"))
    df = load_traces(str(tmp_path / "ds"))
    assert df["answer"].to_list() == ["y"] * 3
    assert df["problem_id"].to_list() == ["0", "1", "2"] and df["prompt"][0] == "Q"
    dd = datasets.DatasetDict({"train": ds, "test": ds.select([0])})
    dd.save_to_disk(str(tmp_path / "dd"))
    assert len(load_traces(str(tmp_path / "dd"))) == 1  # "test" is preferred
    assert any("splits train, test: reading 'test' only" in m for m in caplog.messages)
    assert len(load_traces(str(tmp_path / "dd"), LoadOptions(split="train"))) == 3
    with pytest.raises(ConfigError, match="no split"):
        load_traces(str(tmp_path / "dd"), LoadOptions(split="dev"))


NESTED = [{"gen": {"text": "Wait. 5", "stop": "eos"}, "who": "m9", "q": {"n": 17},
           "ans": "5"}]


def test_field_mapping_by_options(tmp_path):
    path = str(write_jsonl(tmp_path / "nested.jsonl", NESTED))
    with pytest.raises(InputError, match="--field response=") as info:
        load_traces(path)  # no recognisable response field: a bad record, named
    assert (info.value.line, info.value.field) == (1, "response")
    opts = LoadOptions(fields={"response": "gen.text", "model": "who", "problem_id": "q.n",
                               "finish_reason": "gen.stop", "gold": "ans"})
    r = load_traces(path, opts).row(0, named=True)
    assert (r["response"], r["model"], r["problem_id"], r["finish_reason"], r["gold"]) == \
        ("Wait. 5", "m9", "17", "eos", "5")


def test_field_mapping_by_file_and_cli_parsing(tmp_path):
    from reasonlens.traces import parse_field_options

    path = str(write_jsonl(tmp_path / "nested.jsonl", NESTED))
    mfile = tmp_path / "map.toml"
    mfile.write_text('[fields]\nresponse = "gen.text"\nmodel = "who"\n')
    r = load_traces(path, LoadOptions(mapping_file=str(mfile))).row(0, named=True)
    assert (r["response"], r["model"]) == ("Wait. 5", "m9")
    assert parse_field_options(["response=gen.text", "model = who"]) == {
        "response": "gen.text", "model": "who"}
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_field_options(["response"])
    with pytest.raises(ConfigError, match="unknown trace field"):
        parse_field_options(["answer_text=x"])


def test_streaming_batches_keep_sample_counters(tmp_path):
    recs = [{"model": "m", "problem_id": "p", "response": f"r{i}"} for i in range(7)]
    path = str(write_jsonl(tmp_path / "s.jsonl", recs))
    batches = list(iter_trace_batches(path, LoadOptions(batch_rows=3)))
    assert len(batches) == 3 and max(len(b) for b in batches) <= 3  # [3, 2, 2]: equal parts
    assert pl.concat(batches)["sample"].to_list() == list(range(7))


def test_directory_of_files_and_missing_inputs(tmp_path):
    d = tmp_path / "runs"
    d.mkdir()
    write_jsonl(d / "a.jsonl", FLAT)
    write_jsonl(d / "b.jsonl", FLAT[:1])
    df = load_traces(str(d))
    assert len(df) == 3 and set(df["source"]) == {str(d / "a.jsonl"), str(d / "b.jsonl")}
    with pytest.raises(ConfigError, match="input not found"):
        load_traces("no/such/file.jsonl")
    with pytest.raises(ConfigError, match="unknown input format"):
        (tmp_path / "x.txt").write_text("hi")
        load_traces(str(tmp_path / "x.txt"))


def test_fields_missing_from_the_first_record_are_still_picked_up(tmp_path):
    recs = [{"model": "m", "response": "a"},
            {"model": "m", "response": "b", "gold": "7", "finish_reason": "stop", "sample": 4}]
    df = load_traces(str(write_jsonl(tmp_path / "het.jsonl", recs)))
    assert df["gold"].to_list() == [None, "7"]
    assert df["finish_reason"].to_list() == [None, "stop"]
    assert df["sample"].to_list()[1] == 4
    assert df["metadata"].to_list() == [None, None]


def test_batches_read_record_by_record_also_end_at_a_text_budget(tmp_path, monkeypatch):
    """Long responses from a source read record by record (here parquet with the columnar path
    off) do not make batches of batch_rows rows: a batch ends once it holds BATCH_BYTES
    characters of responses; the columnar path for parquet cuts its tables the same way."""
    from reasonlens.traces import columnar, columnar_parquet, load

    monkeypatch.setattr(load, "BATCH_BYTES", 10_000)
    monkeypatch.setattr(columnar_parquet, "BATCH_BYTES", 10_000)
    path = tmp_path / "long.parquet"
    pl.DataFrame({"response": [f"{i} " + "wait " * 999 for i in range(20)]}).write_parquet(path)
    short = tmp_path / "short.parquet"
    pl.DataFrame({"response": [f"{i} wait" for i in range(20)]}).write_parquet(short)
    for fast in (True, False):
        with monkeypatch.context() as m:
            if not fast:
                m.setattr(columnar, "eligible", lambda builder: False)
            sizes = [len(b) for b in iter_trace_batches(str(path), LoadOptions(batch_rows=16384))]
            assert sizes == [3] * 6 + [2]   # ~5,000 characters each: the third passes the budget
            assert [len(b) for b in iter_trace_batches(str(short), LoadOptions(batch_rows=8))] \
                == [8, 8, 4]
