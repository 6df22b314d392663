"""Number checks for corpus cases that used to give silently wrong results (see manifest.toml).

Each check gets the case's output directory, the command's output text and the corpus
directory, and asserts the right number."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from reasonlens.io import read_json


def _responses(out: Path) -> pl.DataFrame:
    return pl.read_parquet(out / "responses.parquet")


def two_responses(out: Path, text: str, d: Path) -> None:
    assert _responses(out).height == 2


def four_responses(out: Path, text: str, d: Path) -> None:
    assert _responses(out).height == 4, _responses(out).height


def same_words_as_good(out: Path, text: str, d: Path) -> None:
    """A grade output scored back counts every word once (it used to count reasoning twice)."""
    back = _responses(out).sort("id")
    first = pl.read_parquet(d / "score_good" / "responses.parquet").sort("id")
    assert back["words"].to_list() == first["words"].to_list()


def score_rerun_replaced(out: Path, text: str, d: Path) -> None:
    r = pl.read_parquet(d / "score_rerun" / "responses.parquet")
    assert r.height == 4 and r["model"].unique().to_list() == ["m"]


def _groups(out: Path) -> list[dict]:
    m = read_json(out / "metrics.json")
    return [bd for md in m["models"].values() for bd in md["benchmarks"].values()]


def all_no_gold(out: Path, text: str, d: Path) -> None:
    """No gold: nothing is graded against the model's own answer, accuracy is not made up."""
    g = pl.read_parquet(out / "graded.parquet")
    assert set(g["grade_reason"].to_list()) == {"no_gold"}
    assert _groups(out) == [] and read_json(out / "metrics.json")["no_gold"]["n"] == g.height


def accuracy_one(out: Path, text: str, d: Path) -> None:
    groups = _groups(out)
    assert groups and all(bd["accuracy"] == 1.0 for bd in groups), groups


def ks_unavailable_8(out: Path, text: str, d: Path) -> None:
    (bd,) = _groups(out)
    assert bd["ks_unavailable"] == [8] and "8" not in bd["pass_at_k"]


def graded_two(out: Path, text: str, d: Path) -> None:
    g = pl.read_parquet(out / "graded.parquet").sort("sample")
    assert g["correct"].to_list() == [True, False]


def ids_exact_beyond_64_bits(out: Path, text: str, d: Path) -> None:
    """Integer ids beyond 64 bits stay distinct and exact (orjson made them colliding floats)."""
    assert sorted(_responses(out)["id"].to_list()) == sorted([str(2**70), str(2**70 + 1)])


def gold_exact_beyond_64_bits(out: Path, text: str, d: Path) -> None:
    g = pl.read_parquet(out / "graded.parquet")
    assert g["gold"].to_list() == [str(10**30)] and g["correct"].to_list() == [True]


def report_target_untouched(out: Path, text: str, d: Path) -> None:
    assert (d / "report_target.jsonl").read_bytes() == (d / "good.jsonl").read_bytes()


def reasoning_only_counted(out: Path, text: str, d: Path) -> None:
    """content null, reasoning_content set (cut off while thinking): the reasoning is scored."""
    r = _responses(out).row(0, named=True)
    assert (r["words"], r["words_reasoning"], r["anthropomorphic"]) == (3, 3, 2), r


def ids_per_model_and_problem(out: Path, text: str, d: Path) -> None:
    """The duplicate-id error's own hint (--field problem_id=id) works: the id field names the
    problem, and response ids are made per model, problem and sample."""
    r = _responses(out).sort("id")
    assert r.height == 6 and r["problem_id"].to_list() == ["0", "1", "2"] * 2
    assert r["id"].n_unique() == 6


def same_words_as_cut_off(out: Path, text: str, d: Path) -> None:
    """A grade output scored back counts a reply cut off while thinking once, too."""
    back = _responses(out).sort("id")
    first = pl.read_parquet(d / "score_cut_off" / "responses.parquet").sort("id")
    assert back["words"].to_list() == first["words"].to_list(), (back["words"], first["words"])
    assert back["anthropomorphic"].to_list() == first["anthropomorphic"].to_list()
