"""Distillation data: de-duplication, contamination, chat format, stats and chart, teacher
sampling through the generation path (real local server), RL prompts."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.training_helpers import EXAMPLES, run_cli, tiny_data
from training.dataprep import (ContaminationConfig, assistant_content, contamination,
                               dedupe_problems, dedupe_responses, length_frame, length_stats,
                               normalize_problem)

pytestmark = pytest.mark.train


def test_normalize_and_dedupe_problems():
    assert normalize_problem("Find  $x$ , if $x^2 = 4$ .") == normalize_problem(
        "find x, if x^2=4.")
    pool = pl.DataFrame({"problem_id": ["a", "b", "c"], "problem": [
        "Let $x$ be real . Find $x$ .", "let x be real. find  x.", "Something else."]})
    kept, dropped = dedupe_problems(pool)
    assert kept["problem_id"].to_list() == ["a", "c"]
    assert dropped.select("problem_id", "duplicate_of").rows() == [("b", "a")]


def test_dedupe_responses_keeps_first_per_problem():
    df = pl.DataFrame({"problem_id": ["p", "p", "q", "p"], "sample": [0, 1, 0, 2],
                       "response": ["A  b", "A b", "A b", "other"]})
    kept, dropped = dedupe_responses(df)
    assert kept.select("problem_id", "sample").rows() == [("p", 0), ("q", 0), ("p", 2)]
    assert dropped["sample"].to_list() == [1]


def test_contamination_flags_exact_and_near_copies():
    tests = pl.DataFrame({"benchmark": ["aime24"] * 2, "problem_id": ["t1", "t2"], "problem": [
        "Find the number of ordered pairs of positive integers (a, b) with a + b = 1000 and "
        "neither a nor b has a zero digit.",
        "A circle of radius 6 is inscribed in a right triangle with legs 15 and 20. Find the "
        "area of the triangle."]})
    pool = pl.DataFrame({"problem_id": ["exact", "near", "clean"], "problem": [
        "Find the number of ordered pairs of positive integers $(a,b)$ with $a+b=1000$ and "
        "neither $a$ nor $b$ has a zero digit.",
        "A circle of radius 6 is inscribed in a right triangle with legs 15 and 20. Find the "
        "perimeter of the triangle.",
        "How many primes are less than 100 and leave remainder 3 on division by 4?"]})
    rep = contamination(pool, tests, ContaminationConfig(n=5, threshold=0.5))
    got = {r["problem_id"]: r for r in rep.to_dicts()}
    assert got["exact"]["exact"] and got["exact"]["flagged"]
    assert got["exact"]["test_problem_id"] == "t1"
    assert not got["near"]["exact"] and got["near"]["flagged"]
    assert 0.5 <= got["near"]["overlap"] < 1.0 and got["near"]["test_problem_id"] == "t2"
    assert not got["clean"]["flagged"] and got["clean"]["overlap"] == 0.0


def test_contamination_on_the_real_aime_pool(shared_data):
    """The 1983-2023 pool does not overlap AIME 2024/2025; the CSV's own 2024 rows do."""
    from reasonlens.problems import load_benchmark
    from training.data import build_pool, load_tests

    tests = load_tests(("aime24", "aime25"), str(shared_data))
    assert tests.height == 60
    pool = load_benchmark("aime_1983_2023", str(shared_data))
    kept, report = build_pool(pool, tests, drop_contaminated=True)
    c = report["contamination"]
    assert c["n_flagged"] == 0 and c["max_overlap"] < 0.5 and kept.height == pool.height
    csv = pl.read_csv(shared_data / "aime-1983-2024" / "AIME_Dataset_1983_2024.csv",
                      infer_schema=False)
    y2024 = csv.filter(pl.col("Year") == "2024").select(
        pl.col("ID").alias("problem_id"), pl.col("Question").alias("problem"))
    assert y2024.height > 0
    rep = contamination(y2024, tests)
    assert rep["flagged"].all() and rep["exact"].sum() >= 1


def test_assistant_content_layout():
    assert assistant_content("think", "ans") == "<think>\nthink\n</think>\n\nans"
    assert assistant_content("cut here", "", think_closed=False) == "<think>\ncut here"


def test_length_stats_units():
    df = pl.DataFrame({"problem_id": ["a", "b"], "reasoning": ["one two", "x"],
                       "answer": ["three", "y z"], "completion_tokens": [20000, 9000],
                       "correct": [True, False]})
    s = length_stats(length_frame(df))
    assert s["unit"] == "completion_tokens" and s["over"] == {"8192": 2, "16384": 1,
                                                               "32768": 0}
    assert s["median_correct"] == 20000 and s["median_wrong"] == 9000
    s = length_stats(length_frame(df.with_columns(pl.lit(None).alias("completion_tokens"))))
    assert s["unit"] == "words" and s["max"] == 3


@pytest.mark.slow
def test_build_writes_chat_dataset_stats_and_chart(tmp_path):
    import datasets

    out = tiny_data(tmp_path)["distill"]
    ds = datasets.load_from_disk(str(out / "dataset"))["train"]
    # 7 example traces: 1983-9 cut (no </think>) and 1983-1 sample 1 repeated are dropped;
    # 1983-5 has a wrong answer and stays (unscreened).
    assert sorted(ds["problem_id"]) == ["1983-1", "1983-2", "1983-3", "1983-5", "1983-6"]
    row = ds[ds["problem_id"].index("1983-5")]
    assert row["correct"] is False
    user, asst = row["messages"]
    assert user["role"] == "user" and user["content"].endswith(
        "put your final answer within \\boxed{}.")
    assert asst["role"] == "assistant" and asst["content"].startswith("<think>\n")
    assert "\n</think>\n\n" in asst["content"] and asst["content"].endswith("\\boxed{5}$.")
    lines = (out / "train.jsonl").read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[0])["messages"][0]["role"] == "user"
    stats = json.loads((out / "stats.json").read_text())
    sel = stats["selection"]
    assert sel["n_traces"] == 7 and sel["n_truncated"] == 1 and sel["n_duplicate_responses"] == 1
    assert sel["n_correct"] == 5 and stats["screening"] == "unscreened"
    assert stats["lengths"]["unit"] == "words" and stats["lengths"]["n"] == 5
    assert stats["provenance"]["command"] == "training.data build"
    assert (out / "lengths.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    spec = json.loads((out / "lengths.vl.json").read_text())
    assert spec["mark"]["type"] == "bar" and spec["encoding"]["x"]["bin"]["maxbins"] == 40
    assert len(spec["data"]["values"]) == 5


@pytest.mark.slow
def test_build_keep_correct_and_keep_truncated(tmp_path):
    import datasets

    from training.data import cli

    common = ["--traces", EXAMPLES / "tiny_traces.jsonl", "--pool",
              EXAMPLES / "tiny_pool.jsonl", "--no-contamination"]
    run_cli(cli, ["build", *common, "--keep-correct", "--out", tmp_path / "c"])
    ds = datasets.load_from_disk(str(tmp_path / "c" / "dataset"))["train"]
    assert "1983-5" not in ds["problem_id"] and all(ds["correct"])
    assert json.loads((tmp_path / "c" / "stats.json").read_text())["screening"] == "correct-only"
    run_cli(cli, ["build", *common, "--keep-truncated", "--max-per-problem", "0",
                  "--out", tmp_path / "t"])
    ds = datasets.load_from_disk(str(tmp_path / "t" / "dataset"))["train"]
    cut = ds[ds["problem_id"].index("1983-9")]["messages"][-1]["content"]
    assert cut.startswith("<think>\n") and "</think>" not in cut
    assert len(ds) == 6  # duplicates still removed with --max-per-problem 0


@pytest.mark.slow
def test_build_contamination_drop(tmp_path, shared_data):
    """A training pool containing AIME 2024 problems is flagged and, on request, dropped."""
    from reasonlens.problems import load_benchmark
    from training.data import cli

    a24 = load_benchmark("aime24", str(shared_data), limit=2)
    pool = pl.read_ndjson(EXAMPLES / "tiny_pool.jsonl")
    leaked = a24.select("benchmark", "problem_id", "problem", "gold", "answer_type")
    pool = pl.concat([pool, leaked.with_columns(pl.lit("aime_1983_2023").alias("benchmark"))])
    pool.write_ndjson(tmp_path / "pool.jsonl")
    traces = [json.loads(x) for x in (EXAMPLES / "tiny_traces.jsonl").read_text().splitlines()]
    leak = dict(traces[0], problem_id=a24["problem_id"][0], id="leak", gold=a24["gold"][0])
    (tmp_path / "traces.jsonl").write_text("\n".join(json.dumps(t) for t in traces + [leak]))
    run_cli(cli, ["build", "--traces", tmp_path / "traces.jsonl", "--pool",
                  tmp_path / "pool.jsonl", "--test-source", shared_data, "--drop-contaminated",
                  "--out", tmp_path / "o"])
    stats = json.loads((tmp_path / "o" / "stats.json").read_text())
    c = stats["pool"]["contamination"]
    assert c["n_flagged"] == 2 and c["n_exact"] == 2 and c["dropped"] is True
    assert stats["selection"]["n_not_in_pool"] == 1  # the leaked trace lost its problem


@pytest.mark.slow
@pytest.mark.server
def test_sample_teacher_through_generation_path(tmp_path, smollm_server):
    """Teacher sampling reuses run_generation: real HTTP, usage accounting, resume."""
    from reasonlens.traces import load_traces
    from training.data import cli

    pool = pl.read_ndjson(EXAMPLES / "tiny_pool.jsonl")
    pool.write_parquet(tmp_path / "pool.parquet")
    args = ["sample", "--pool", tmp_path / "pool.parquet", "--base-url",
            smollm_server.base_url, "--model", smollm_server.model, "--max-tokens", "8",
            "--limit", "2", "--seed", "0", "--out", tmp_path]
    first = json.loads(run_cli(cli, args).output)
    assert first["written"] == 2 and first["failed"] == 0
    assert first["usage"]["completion_tokens"] > 0
    again = json.loads(run_cli(cli, args).output)
    assert again["written"] == 0 and again["skipped_existing"] == 2
    traces = load_traces(str(tmp_path / "traces.jsonl"))
    assert traces.height == 2 and set(traces["problem_id"]) == {"1983-1", "1983-2"}
    assert (tmp_path / "traces.jsonl.provenance.json").exists()


@pytest.mark.slow
def test_rl_prompts(tmp_path):
    import datasets

    out = tiny_data(tmp_path)["rl"]
    ds = datasets.load_from_disk(str(out / "dataset"))["train"]
    assert len(ds) == 6 and set(ds.column_names) >= {"prompt", "gold", "answer_type",
                                                      "problem_id"}
    row = ds[0]
    assert row["prompt"][-1]["role"] == "user" and "\\boxed{}" in row["prompt"][-1]["content"]
    assert row["gold"] == "60" and row["answer_type"] == "integer"
