"""The streaming, resumable, atomic grade stage (reasonlens.grade.run; issues 11 and 12)."""

from __future__ import annotations

import json

import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.cli import cli
from reasonlens.errors import InputError
from reasonlens.grade.run import GradeRunConfig, run_grade
from reasonlens.io import read_json
from reasonlens.traces import LoadOptions


def _traces(path, n_problems=6, samples=2, gold=True, extra=None):
    rows = []
    for p in range(n_problems):
        for s in range(samples):
            rec = {"model": "m", "benchmark": "b", "problem_id": f"p{p}", "sample": s,
                   "response": f"so \\boxed{{{p if s == 0 else p + 1}}}"}
            if gold:
                rec["gold"] = str(p)
            rec.update(extra or {})
            rows.append(rec)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_killed_grade_resumes_and_every_id_is_graded_once(tmp_path, monkeypatch):
    src = _traces(tmp_path / "t.jsonl", n_problems=10)
    out = tmp_path / "g"
    cfg = GradeRunConfig(n_boot=50, chunk_rows=4)
    import reasonlens.grade.run as gr

    real, calls = gr.grade_frame, []

    def dying(df, config):
        calls.append(df.height)
        if len(calls) == 3:
            raise KeyboardInterrupt  # stands in for the kill: two chunks are journaled
        return real(df, config)

    monkeypatch.setattr(gr, "grade_frame", dying)
    with pytest.raises(KeyboardInterrupt):
        run_grade([str(src)], out, cfg, LoadOptions(batch_rows=100))
    assert not out.exists()
    monkeypatch.setattr(gr, "grade_frame", real)
    run = run_grade([str(src)], out, cfg, LoadOptions(batch_rows=100))
    assert run.n_resumed == 8 and run.n_graded == 20
    g = pl.read_parquet(out / "graded.parquet")
    assert g["id"].n_unique() == g.height == 20
    m = read_json(out / "metrics.json")["models"]["m"]["benchmarks"]["b"]
    assert m["accuracy"] == 0.5 and m["n_samples"] == 20
    assert not (tmp_path / ".g.resume").exists()  # the journal goes with the commit
    # other settings: the journal of a killed run is not reused
    monkeypatch.setattr(gr, "grade_frame", dying)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        run_grade([str(src)], tmp_path / "g2", cfg, LoadOptions(batch_rows=100))
    monkeypatch.setattr(gr, "grade_frame", real)
    other = run_grade([str(src)], tmp_path / "g2", GradeRunConfig(n_boot=50, chunk_rows=4,
                                                                   seed=1))
    assert other.n_resumed == 0 and other.warnings and "discarded" in other.warnings[0]


def test_responses_without_gold_are_excluded_from_accuracy_and_counted(tmp_path):
    a = _traces(tmp_path / "a.jsonl", n_problems=4)
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps({"model": "m", "benchmark": "b", "problem_id": f"q{i}",
                                     "response": "\\boxed{1}"}) + "\n" for i in range(4)))
    run = run_grade([str(a), str(b)], tmp_path / "g", GradeRunConfig(n_boot=20))
    bd = run.metrics["models"]["m"]["benchmarks"]["b"]
    assert bd["accuracy"] == 0.5 and bd["n_problems"] == 4 and bd["n_no_gold"] == 4
    assert run.metrics["no_gold"]["n"] == 4 and any("no gold" in w for w in run.warnings)


def test_object_gold_and_a_models_answer_field_are_never_the_gold(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text(json.dumps({"model": "m", "problem_id": "1", "response": "\\boxed{7}",
                             "answer": "7"}) + "\n"
                 + json.dumps({"model": "m", "problem_id": "2", "response": "\\boxed{7}",
                               "gold": {"value": 7}}) + "\n")
    g = pl.read_parquet(run_grade([str(p)], tmp_path / "g", GradeRunConfig(n_boot=0)).out_dir
                        / "graded.parquet")
    assert g["grade_reason"].to_list() == ["no_gold", "no_gold"]


def test_ks_beyond_the_samples_are_reported_not_dropped(tmp_path):
    src = _traces(tmp_path / "t.jsonl", samples=2)
    res = CliRunner().invoke(cli, ["grade", str(src), "--out", str(tmp_path / "g"), "--ks",
                                   "1,8", "--n-boot", "20", "-q"])
    assert res.exit_code == 0, res.output
    bd = read_json(tmp_path / "g" / "metrics.json")["models"]["m"]["benchmarks"]["b"]
    assert list(bd["pass_at_k"]) == ["1"] and bd["ks_unavailable"] == [8]
    assert "k = 8 not reported: only 2 sample(s)" in res.output


def test_same_file_twice_is_refused_not_counted_as_extra_samples(tmp_path):
    src = _traces(tmp_path / "t.jsonl")
    src.write_text("".join(json.dumps({k: v for k, v in json.loads(line).items()
                                       if k != "sample"}) + "\n"
                           for line in src.read_text().splitlines()))
    with pytest.raises(InputError, match="given twice"):
        run_grade([str(src), str(src)], tmp_path / "g", GradeRunConfig(n_boot=0))


def test_empty_input_is_an_error_in_grade_and_score_alike(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_text("")
    for stage in ("grade", "score"):
        res = CliRunner().invoke(cli, [stage, str(empty), "--out", str(tmp_path / stage)])
        assert isinstance(res.exception, InputError), res.output
        assert f"no responses to {stage} (0 record(s) read)" in str(res.exception)
        assert not (tmp_path / stage).exists()

