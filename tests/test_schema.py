"""reasonlens.schema: the one declaration of every frame that crosses a stage boundary."""

from __future__ import annotations

import polars as pl

from reasonlens import schema
from reasonlens.judge import offline
from reasonlens.lexcount.engine import ScoreConfig, score_batch
from reasonlens.traces.load import load_traces


def test_behaviours_in_needs_count_and_status():
    cols = ["id", "a_count", "a_status", "b_count", "c_status", "words_count"]
    assert schema.behaviours_in(cols) == ["a"]
    df = pl.DataFrame({c: [1] for c in cols})
    assert schema.behaviours_in(df) == ["a"]
    assert schema.behaviours_in(df.lazy()) == ["a"]


def test_judgment_frame_columns_and_types():
    traces = pl.DataFrame({"id": ["x", "y"], "model": ["m", "m"]})
    per_b = {"multi_perspective": {"count": [1, None], "status": ["ok", "error"],
                                   "instances": ["[]", "[]"], "reason": [None, "boom"],
                                   "raw": [None, "?"]}}
    f = schema.judgment_frame(traces, per_b, judge="j", n_chunks=[1, 2], audit=True)
    assert f.schema == pl.Schema(schema.judgment_schema(["multi_perspective"], audit=True))
    assert f["benchmark"].to_list() == [None, None]  # absent id columns are null
    assert f["multi_perspective_count"].to_list() == [1, None]
    assert list(f.columns[-2:]) == ["multi_perspective_reason", "multi_perspective_raw"]
    plain = schema.judgment_frame(traces, per_b, judge="j", n_chunks=[1, 2])
    assert "multi_perspective_reason" not in plain.columns


def test_offline_detector_writes_the_declared_judgment_frame():
    traces = pl.DataFrame({"id": ["a"], "response": ["Wait, let me check. Alternatively x."]})
    f = offline.detect(traces)
    assert f.schema == pl.Schema(schema.judgment_schema(schema.BEHAVIOURS))
    assert schema.behaviours_in(f) == list(schema.BEHAVIOURS)


def test_score_writes_the_declared_terms_and_responses():
    from importlib.resources import files

    traces = load_traces(str(files("reasonlens") / "resources" / "examples" / "traces.jsonl"))
    cfg = ScoreConfig()
    matcher = cfg.matcher()
    resp, terms = score_batch(traces, matcher, cfg)
    assert terms.schema == pl.Schema(schema.TERMS_SCHEMA)
    assert resp.schema == pl.Schema(schema.responses_schema(matcher.categories))


def test_offline_judge_cli_writes_the_declared_instances(tmp_path):
    from click.testing import CliRunner

    from reasonlens.cli import cli

    src = tmp_path / "t.jsonl"
    src.write_text('{"id": "a", "response": "Wait, let me check that. Alternatively, try 3."}\n')
    res = CliRunner().invoke(cli, ["judge", str(src), "--out", str(tmp_path / "j")])
    assert res.exit_code == 0, res.output
    inst = pl.read_parquet(tmp_path / "j" / "instances.parquet")
    assert inst.schema == pl.Schema(schema.INSTANCE_SCHEMA) and inst.height >= 1
    assert inst["counted"].all()
    frame = pl.read_parquet(tmp_path / "j" / "judgments.parquet")
    assert frame.schema == pl.Schema(schema.judgment_schema(schema.BEHAVIOURS))


def test_grade_adds_the_declared_columns():
    from reasonlens.grade import GradeConfig, grade_frame

    traces = pl.DataFrame({"id": ["a", "b"], "response": ["so \\boxed{42}", "no answer"],
                           "gold": ["42", "7"], "answer_type": ["integer", "integer"]})
    g = grade_frame(traces, GradeConfig(workers=1, integer_fallback=False))
    assert {c: g.schema[c] for c in schema.GRADE_SCHEMA} == schema.GRADE_SCHEMA
    assert g["correct"].to_list()[0] is True


def test_response_ids_counts_distinct_responses_exactly():
    """Hashed ids where the responses' ids hash apart, the ids themselves otherwise (here: a
    responses frame with a repeated id): the same distinct counts either way."""
    ids = [f"m:b:p{i}:{i % 7}" for i in range(2000)]
    terms = pl.DataFrame({"id": [ids[i % 2000] for i in range(0, 9000, 3)],
                          "term": [f"t{i % 5}" for i in range(3000)]})
    want = terms.group_by("term").agg(pl.col("id").n_unique().alias("n")).sort("term")
    for resp_ids in (ids, ids + ids[:1]):
        key = schema.response_ids(pl.DataFrame({"id": resp_ids}))
        got = terms.group_by("term").agg(key.n_unique().alias("n")).sort("term")
        assert got.equals(want)
        assert ("hash" in str(key)) == (len(resp_ids) == len(ids))
