"""`reasonlens grade` end to end on the real benchmark files (the issue's done-when checks):
gold answers written as responses grade 1.0, planted wrong answers 0, pathological inputs end
within their timeout; outputs carry provenance."""

from __future__ import annotations

import re
import time

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.problems import load_benchmark
from reasonlens.cli import cli
from reasonlens.grade.extract import canonical_text
from reasonlens.io import parquet_provenance, read_json

BENCHES = ["aime24", "aime25", "hmmt_feb25", "math500", "amc23", "aime_1983_2023"]


def _wrong(gold: str, other: str, kind: str) -> str:
    if kind == "integer":
        first = gold.split(" or ")[-1]
        return str(int(first) + 100)
    def norm(x: str) -> str:   # "x=5" and "5" are the same answer (Math-Verify agrees)
        return re.sub(r"^[a-z]=", "", canonical_text(x) or "")

    if norm(other) != norm(gold):
        return other
    return "-987654321"


def _write(path, rows):
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))


def _traces(problems: pl.DataFrame, *, wrong: bool, with_gold: bool) -> list[dict]:
    rows = []
    recs = problems.to_dicts()
    for i, r in enumerate(recs):
        other = recs[(i + 1) % len(recs)]["gold"]
        gold = r["gold"].split(" or ")[0]
        ans = _wrong(r["gold"], other, r["answer_type"]) if wrong else gold
        resp = f"<think>Trying \\boxed{{{other}}} first.</think>\nSo the final answer is " \
               f"$\\boxed{{{ans}}}$."
        rec = {"model": "wrong" if wrong else "oracle", "benchmark": r["benchmark"],
               "problem_id": r["problem_id"], "prompt": r["problem"], "response": resp,
               "finish_reason": "stop"}
        if with_gold:
            rec["gold"] = r["gold"]
        rows.append(rec)
    return rows


@pytest.mark.slow
@pytest.mark.parametrize("bench", BENCHES)
def test_gold_answers_grade_one_and_planted_wrong_zero(bench, shared_data, tmp_path):
    problems = load_benchmark(bench, shared_data)
    src = tmp_path / "traces.jsonl"
    _write(src, _traces(problems, wrong=False, with_gold=True)
           + _traces(problems, wrong=True, with_gold=True))
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["grade", str(src), "--out", str(out), "--n-boot", "100",
                                   "--timeout", "10"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    m = read_json(out / "metrics.json")
    oracle = m["models"]["oracle"]["benchmarks"][bench]
    wrong = m["models"]["wrong"]["benchmarks"][bench]
    assert oracle["n_problems"] == problems.height
    assert oracle["accuracy"] == 1.0 and oracle["accuracy_ci"] == [1.0, 1.0]
    assert oracle["grade_reasons"] == {"ok": problems.height}
    assert wrong["accuracy"] == 0.0
    graded = pl.read_parquet(out / "graded.parquet")
    bad = graded.filter((pl.col("model") == "wrong") & pl.col("correct").is_null())
    # wrong answers are judged wrong, not ungradable (a few may not parse for MATH-500)
    assert bad.height <= max(2, problems.height // 50), bad.select("gold", "extracted",
                                                                   "grade_reason")
    prov = m["provenance"]
    assert prov["command"] == "grade" and prov["config"]["timeout"] == 10
    assert parquet_provenance(out / "graded.parquet")["command"] == "grade"
    assert {"extracted", "correct", "grade_reason"} <= set(graded.columns)
    assert bench in res.output   # the printed table


def test_gold_joined_from_benchmark_by_id_and_by_text(shared_data, tmp_path):
    problems = load_benchmark("aime24", shared_data / "matharena")
    rows = _traces(problems, wrong=False, with_gold=False)
    for r in rows[:10]:             # other tools' ids: match on the problem text instead
        r["problem_id"] = f"other-{r['problem_id']}"
        r["prompt"] = r["prompt"] + "\nPlease reason step by step."
    src = tmp_path / "t.jsonl"
    _write(src, rows)
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["grade", str(src), "--out", str(out), "--benchmark",
                                   "aime24", "--benchmark-source", str(shared_data), "-q"],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    m = read_json(out / "metrics.json")
    assert m["grading"]["join"] == {"matched_by_id": 20, "matched_by_text": 10, "unmatched": 0}
    assert m["models"]["oracle"]["benchmarks"]["aime24"]["accuracy"] == 1.0
    assert m["provenance"]["data_files"][0]["name"] == "aime24"


def test_pathological_inputs_finish_within_timeout(tmp_path):
    rows = [{"model": "m", "benchmark": "hmmt_feb25", "problem_id": str(i), "gold": "5",
             "response": f"\\boxed{{{p}}}"}
            for i, p in enumerate(["9^{9^{9^{9}}}", "(10^{10})!", "5"])]
    src = tmp_path / "p.jsonl"
    _write(src, rows)
    t0 = time.perf_counter()
    res = CliRunner().invoke(cli, ["grade", str(src), "--out", str(tmp_path / "o"), "--timeout",
                                   "1", "--workers", "2", "-q"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert time.perf_counter() - t0 < 60
    g = pl.read_parquet(tmp_path / "o" / "graded.parquet").sort("problem_id")
    assert g["correct"].to_list()[2] is True
    assert all(r in ("timeout", "parse_error") for r in g["grade_reason"].to_list()[:2])


def test_grade_cli_errors_are_clean(tmp_path):
    src = tmp_path / "t.jsonl"
    _write(src, [{"response": "\\boxed{1}", "gold": "1"}])
    r = CliRunner().invoke(cli, ["grade", str(src), "--out", str(tmp_path / "o"),
                                 "--benchmark-source", str(tmp_path)])
    assert r.exit_code != 0 and "--benchmark" in str(r.exception or r.output)
    r = CliRunner().invoke(cli, ["grade", "--help"])
    assert r.exit_code == 0 and "--timeout" in r.output and "--include-reasoning" in r.output
