"""Benchmark loaders: the real layouts in ../shared/data, small fixtures, GPQA permutations and
the hub path through `datasets` (exercised offline on a local dataset directory)."""

from __future__ import annotations

from pathlib import Path

import orjson
import polars as pl
import pytest

from reasonlens.problems import (BENCHMARKS, choice_permutation, get_spec, list_benchmarks,
                              load_benchmark)
from reasonlens.problems.load import PROBLEM_SCHEMA, gold_text, load_hub
from reasonlens.problems.registry import BenchmarkSpec, HubSource
from reasonlens.errors import ConfigError, InputError, UnknownNameError

FIX = Path(__file__).parent / "fixtures" / "bench"


def test_registry_names_and_aliases():
    assert list_benchmarks() == ["aime24", "aime25", "hmmt_feb25", "math500", "gpqa_diamond",
                                 "amc23", "aime_1983_2023"]
    assert get_spec("AIME_2024").name == "aime24" and get_spec("gpqa").name == "gpqa_diamond"
    with pytest.raises(UnknownNameError, match="aime24"):
        get_spec("aime2099")
    assert {s.answer_type for s in BENCHMARKS.values()} == {"integer", "expression", "choice"}


@pytest.mark.parametrize("bench, n, first_id, first_gold", [
    ("aime24", 30, "2024-I-1", "204"),
    ("aime25", 30, "2025-I-1", "70"),
    ("hmmt_feb25", 30, "1", "103"),
    ("math500", 500, "test/precalculus/807.json", "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("amc23", 40, "2023-12A-1", "27"),
    ("aime_1983_2023", 919, "1983-1", "60"),
])
def test_shared_data_root(shared_data, bench, n, first_id, first_gold):
    df = load_benchmark(bench, shared_data)
    assert df.schema == pl.Schema(PROBLEM_SCHEMA)
    assert df.height == n
    assert df["problem_id"][0] == first_id and df["gold"][0] == first_gold
    assert df["problem_id"].n_unique() == n
    assert df["answer_type"].unique().to_list() == [get_spec(bench).answer_type]
    assert df["problem"].str.len_chars().min() > 10


def test_matharena_keeps_leading_zeros(shared_data):
    df = load_benchmark("aime24", shared_data / "matharena")
    golds = dict(zip(df["problem_id"], df["gold"]))
    assert golds["2024-I-2"] == "025" and golds["2024-II-1"] == "073"
    assert df.height == 30 and golds["2024-II-15"] == "315"
    one = load_benchmark("aime24", shared_data / "matharena" / "aime_2024_I")
    assert one.height == 15


def test_same_ids_across_layouts(shared_data):
    """simpleRL's JSONL (with AoPS urls) and MathArena's .tex files give the same problem ids."""
    a = load_benchmark("aime24", shared_data / "simplerl-eval" / "aime24" / "test.jsonl")
    b = load_benchmark("aime24", shared_data / "matharena")
    assert set(a["problem_id"]) == set(b["problem_id"])
    ga = dict(zip(a["problem_id"], a["gold"]))
    gb = dict(zip(b["problem_id"], b["gold"]))
    assert all(int(ga[k]) == int(gb[k]) for k in ga)


def test_qwq_instruction_is_stripped_and_recorded(shared_data):
    df = load_benchmark("aime25", shared_data / "qwq-eval" / "aime25.jsonl")
    assert df.height == 30
    assert not df["problem"].str.contains("Please reason step by step").any()
    assert orjson.loads(df["metadata"][0])["instruction_stripped"] is True
    assert df["gold"][0] == "70"


def test_orz_chat_messages_json(shared_data):
    df = load_benchmark("math500", shared_data / "orz" / "math500.json")
    assert df.height == 500 and df["gold"][1] == "p - q"
    assert df["problem"][0].startswith("Convert the point")
    aime = load_benchmark("aime24", shared_data / "orz" / "aime2024.json")
    assert aime["gold"][0] == "73"


def test_aime_csv_filtered_to_1983_2023(shared_data):
    df = load_benchmark("aime_1983_2023", shared_data / "aime-1983-2024" /
                        "AIME_Dataset_1983_2024.csv")
    years = [orjson.loads(m)["year"] for m in df["metadata"]]
    assert min(map(int, years)) == 1983 and max(map(int, years)) == 2023
    assert df.height == 919
    # "080 or 081 (both were accepted)" -> both kept as alternatives
    assert df.filter(pl.col("gold").str.contains(" or "))["gold"].to_list() == ["080 or 081"]


def test_limit_and_errors(tmp_path):
    assert load_benchmark("aime24", FIX / "tiny_aime.jsonl", limit=2).height == 2
    with pytest.raises(ConfigError, match="--limit"):
        load_benchmark("aime24", FIX / "tiny_aime.jsonl", limit=0)
    with pytest.raises(ConfigError, match="no math500 files"):
        load_benchmark("math500", tmp_path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"problem": "x?", "answer": "1"}\n{"problem": "y?"}\n')
    with pytest.raises(InputError) as e:
        load_benchmark("aime24", bad)
    assert e.value.line == 2 and e.value.field == "answer"
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"problem": "x?", "answer": "1"}\n{"problem": \n')
    with pytest.raises(InputError) as e:
        load_benchmark("aime24", torn)
    assert e.value.line == 2
    dup = tmp_path / "dup.jsonl"
    dup.write_text('{"id": 1, "problem": "x?", "answer": "1"}\n'
                   '{"id": 1, "problem": "y?", "answer": "2"}\n')
    with pytest.raises(InputError, match="duplicate"):
        load_benchmark("aime24", dup)


@pytest.mark.parametrize("value, expected", [
    (27.0, "27"), (70, "70"), ("025", "025"), (" 3 ", "3"), (0.5, "0.5"),
    ("080 or 081 (both were accepted)", "080 or 081"), (None, None)])
def test_gold_text(value, expected):
    assert gold_text(value) == expected


def test_gpqa_permutation_is_seeded_recorded_and_independent_of_global_state():
    import random

    random.seed(1)
    a = load_benchmark("gpqa_diamond", FIX / "gpqa_mini.csv")
    random.seed(999)
    _ = [random.random() for _ in range(100)]
    b = load_benchmark("gpqa_diamond", FIX / "gpqa_mini.csv")
    assert a.equals(b)
    perms = []
    for row in a.iter_rows(named=True):
        meta = orjson.loads(row["metadata"])
        choices = orjson.loads(row["choices"])
        perm = meta["permutation"]
        perms.append(tuple(perm))
        assert sorted(perm) == [0, 1, 2, 3] and meta["permutation_seed"] == 0
        assert perm == choice_permutation(row["problem_id"], 4, 0)
        # the gold letter points at the correct answer (original index 0)
        assert "ABCD"[perm.index(0)] == row["gold"]
        assert row["answer_type"] == "choice"
    correct = {"recMINI001": "Nitrogen", "recMINI002": "19.6 m/s", "recMINI003": "Mitochondrion",
               "recMINI004": "7"}
    for row in a.iter_rows(named=True):
        assert orjson.loads(row["choices"])["ABCD".index(row["gold"])] == correct[
            row["problem_id"]]
    assert len(set(perms)) > 1          # not one fixed position for every question
    golds = {choice_permutation(f"q{i}", 4, 0).index(0) for i in range(40)}
    assert golds == {0, 1, 2, 3}       # the gold lands on every letter across questions
    assert choice_permutation("q1", 4, 0) != choice_permutation("q1", 4, 1) or \
        choice_permutation("q2", 4, 0) != choice_permutation("q2", 4, 1)


def test_gpqa_jsonl_with_given_order():
    df = load_benchmark("gpqa_diamond", FIX / "gpqa_mini.jsonl")
    assert df["gold"].to_list() == ["B", "B"]
    assert orjson.loads(df["metadata"][0])["permutation_method"] == "as-given"


def test_hub_loader_through_datasets_on_a_local_dataset(tmp_path, monkeypatch):
    """The hub path is real `datasets` code; here it reads a local parquet dataset directory in
    MathArena's hub column layout (problem_idx, problem, answer), so no network is needed."""
    pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    d = tmp_path / "hmmt"
    (d / "data").mkdir(parents=True)
    pl.DataFrame({"problem_idx": [1, 2], "problem": ["Compute $1+1$.", "Compute $2+2$."],
                  "answer": ["2", "\\frac{8}{2}"]}).write_parquet(d / "data" / "train.parquet")
    spec = BenchmarkSpec("hmmt_feb25", "t", "expression", hub=(HubSource(str(d), "train"),),
                         local=())
    df = load_hub(spec)
    assert df["problem_id"].to_list() == ["1", "2"]
    assert df["gold"].to_list() == ["2", "\\frac{8}{2}"]
    assert df["benchmark"].unique().to_list() == ["hmmt_feb25"]


def test_hub_loader_fails_cleanly_offline(tmp_path):
    """Without network (offline mode, set before huggingface_hub is imported, hence a fresh
    process) the hub path ends in a one-line error pointing at --source, no traceback."""
    pytest.importorskip("datasets")
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "HF_HOME": str(tmp_path / "hf"), "PYTHONPATH": str(Path(__file__).parent.parent)}
    env.pop("REASONLENS_RAISE_ERRORS", None)
    r = subprocess.run([sys.executable, "-m", "reasonlens", "benchmarks", "gpqa_diamond"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    assert "could not load gpqa_diamond from the hub" in r.stderr
    assert "--benchmark-source" in r.stderr and "Traceback" not in r.stderr
