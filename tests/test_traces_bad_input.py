"""Malformed records: errors name file, line and field; skip mode counts, reports and writes
rejects; fail mode keeps what was computed before the error."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.cli import cli
from reasonlens.errors import ConfigError, InputError
from reasonlens.traces import LoadOptions, LoadReport, iter_trace_batches, load_traces

GOOD = {"model": "m", "problem_id": "p", "response": "<think>Wait.</think>Done."}

BAD_LINES = {
    "broken_json": (b'{"model": "m", "response": "unterminated\n', None, "broken JSON"),
    "wrong_type_response": (json.dumps({"model": "m", "response": 5}).encode() + b"\n",
                            "response", "expected a string, got int"),
    "wrong_type_sample": (json.dumps({"model": "m", "response": "x", "sample": "first"}).encode()
                          + b"\n", "sample", "expected an integer"),
    "wrong_type_model": (json.dumps({"model": {"name": "m"}, "response": "x"}).encode() + b"\n",
                         "model", "expected a string or number"),
    "missing_response": (json.dumps({"model": "m", "problem_id": "p"}).encode() + b"\n",
                         "response", "required field is missing"),
    "non_utf8": (b'{"model": "m", "response": "caf\xe9 \xff"}\n', None, "not valid UTF-8"),
    "empty_response": (json.dumps({"model": "m", "response": "   "}).encode() + b"\n", "response",
                       "empty response"),
    "not_an_object": (b'["a", "b"]\n', None, "expected a JSON object"),
}


def _file(tmp_path: Path, bad: bytes, name="t.jsonl") -> Path:
    p = tmp_path / name
    good = (json.dumps(GOOD) + "\n").encode()
    p.write_bytes(good + good + bad + good)
    return p


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_fail_mode_names_file_line_and_field(tmp_path, case):
    bad, field, message = BAD_LINES[case]
    path = _file(tmp_path, bad)
    with pytest.raises(InputError, match=message) as info:
        load_traces(str(path))
    err = info.value
    assert err.path == str(path) and err.line == 3 and err.field == field
    assert f"{path}, line 3" in str(err)
    if field:
        assert f"field {field!r}" in str(err)


@pytest.mark.parametrize("case", sorted(BAD_LINES))
def test_skip_mode_counts_reports_and_writes_rejects(tmp_path, case):
    bad, field, message = BAD_LINES[case]
    path = _file(tmp_path, bad)
    report = LoadReport(rejects_path=str(tmp_path / "rejects.jsonl"))
    df = load_traces(str(path), LoadOptions(on_error="skip"), report)
    assert len(df) == 3 and df["source_line"].to_list() == [1, 2, 4]
    assert (report.n_records, report.n_rows, report.n_rejected) == (4, 3, 1)
    assert message in report.first_errors[0] and "line 3" in report.first_errors[0]
    rejects = [json.loads(x) for x in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert len(rejects) == 1
    rec = rejects[0]
    assert (rec["path"], rec["line"], rec["field"]) == (str(path), 3, field)
    assert message in rec["error"]
    raw = rec["raw"].encode() if "raw" in rec else base64.b64decode(rec["raw_base64"])
    assert raw.rstrip(b"\n") == bad.rstrip(b"\n")
    assert report.summary()["rejected"] == 1


def test_first_record_bad_is_skipped_and_layout_taken_from_the_next(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_bytes(b'{"foo": 1}\n' + (json.dumps(GOOD) + "\n").encode())
    report = LoadReport()
    df = load_traces(str(p), LoadOptions(on_error="skip"), report)
    assert len(df) == 1 and report.n_rejected == 1 and report.layouts[str(p)] == "flat"


def test_allow_empty_accepts_empty_responses(tmp_path):
    path = _file(tmp_path, BAD_LINES["empty_response"][0])
    assert len(load_traces(str(path), LoadOptions(allow_empty=True))) == 4


def test_fail_mode_hands_over_rows_built_before_the_error(tmp_path):
    path = _file(tmp_path, BAD_LINES["broken_json"][0])
    got = []
    with pytest.raises(InputError):
        for batch in iter_trace_batches(str(path), LoadOptions(batch_rows=100)):
            got.append(batch)
    assert sum(len(b) for b in got) == 2


def _cli_file(tmp_path: Path) -> Path:
    lines = [json.dumps({"model": "m", "problem_id": f"p{i}", "response": "Wait, so 1."})
             for i in range(5)]
    lines.insert(3, '{"model": "m", "response": broken}')
    p = tmp_path / "in.jsonl"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_cli_fail_mode_keeps_partial_results(tmp_path):
    path = _cli_file(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["score", str(path), "--out", str(out), "--batch-rows", "2"])
    assert isinstance(res.exception, InputError)
    msg = str(res.exception)
    kept = tmp_path / "out.partial" / "responses.parquet"
    assert f"{path}, line 4" in msg and str(kept) in msg and "3 responses" in msg
    partial = pl.read_parquet(kept)
    assert partial["problem_id"].to_list() == ["p0", "p1", "p2"]
    assert not out.exists()


def test_failed_rerun_leaves_previous_output_whole(tmp_path):
    """A failed rerun must not leave its partial files beside the previous run's outputs."""
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"model": "m", "problem_id": "p", "response": "Wait."}) + "\n")
    out = tmp_path / "out"
    assert CliRunner().invoke(cli, ["score", str(good), "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    res = CliRunner().invoke(cli, ["score", str(_cli_file(tmp_path)), "--out", str(out),
                                   "--batch-rows", "2"])
    assert isinstance(res.exception, InputError)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert (tmp_path / "out.partial" / "responses.parquet").exists()


def test_cli_skip_mode_reports_and_writes_rejects(tmp_path):
    path = _cli_file(tmp_path)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["score", str(path), "--out", str(out), "--on-error", "skip"])
    assert res.exit_code == 0, res.output
    assert "Skipped 1 bad record" in res.output and "line 4" in res.output
    assert len(pl.read_parquet(out / "responses.parquet")) == 5
    rejects = (out / "rejects.jsonl").read_text().splitlines()
    assert len(rejects) == 1 and json.loads(rejects[0])["line"] == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["load"]["rejected"] == 1 and summary["load"]["responses"] == 5


def test_console_script_prints_one_clean_line(tmp_path):
    path = _cli_file(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "REASONLENS_RAISE_ERRORS"}
    exe = Path(sys.executable).with_name("reasonlens")
    res = subprocess.run([str(exe), "score", str(path), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert lines[-1].startswith("Error: ") and f"{path}, line 4" in lines[-1]
    assert "broken JSON" in lines[-1] and "Traceback" not in res.stderr


def test_duplicate_ids_and_inputs_given_twice_are_refused(tmp_path):
    from reasonlens.traces.load import DuplicateIdError

    recs = [{"id": f"r{i % 3}", "model": "m", "problem_id": f"p{i}", "response": "Wait."}
            for i in range(4)]
    p = tmp_path / "dup.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(DuplicateIdError, match="duplicate response id 'r0'") as e:
        load_traces(str(p))
    assert e.value.line == 4 and e.value.field == "id"
    with pytest.raises(DuplicateIdError):  # not a malformed record: skip mode does not hide it
        load_traces(str(p), LoadOptions(on_error="skip"))
    report = LoadReport()
    kept = load_traces(str(p), LoadOptions(on_duplicate="keep-first"), report)
    assert kept["problem_id"].to_list() == ["p0", "p1", "p2"] and report.n_duplicates == 1
    # the same file twice (or a copy) would count every response again as extra samples
    q = tmp_path / "nodup.jsonl"
    q.write_text("".join(json.dumps({"model": "m", "problem_id": "p", "response": "a"}) + "\n"
                         for _ in range(2)))
    with pytest.raises(InputError, match="given twice"):
        load_traces([str(q), str(q)])
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(q.read_bytes())
    with pytest.raises(InputError, match="same content as"):
        load_traces([str(q), str(copy)])
    report = LoadReport()
    assert load_traces([str(q), str(copy)], LoadOptions(on_duplicate="keep-first"),
                       report).height == 2
    assert report.skipped_sources == [str(copy)]


def test_reading_a_stage_output_back_does_not_double_count(tmp_path):
    """Issue 11: `score graded.parquet` took `reasoning` as extra reasoning (words doubled), and
    a directory holding an earlier grade output was read twice over."""
    traces = tmp_path / "runs" / "t.jsonl"
    traces.parent.mkdir()
    traces.write_text("".join(json.dumps(
        {"model": "m", "problem_id": f"p{i}", "gold": "1",
         "response": "<think>Wait, maybe two. Hmm.</think> So \\boxed{1}."}) + "\n"
        for i in range(5)))
    runner = CliRunner()
    assert runner.invoke(cli, ["score", str(traces), "-o", str(tmp_path / "s1"), "-q"]
                         ).exit_code == 0
    grade_out = traces.parent / "grade"
    assert runner.invoke(cli, ["grade", str(traces), "-o", str(grade_out), "-q", "--n-boot",
                               "0"]).exit_code == 0
    res = runner.invoke(cli, ["score", str(grade_out / "graded.parquet"), "-o",
                              str(tmp_path / "s2"), "-q"])
    assert res.exit_code == 0, res.output
    a = pl.read_parquet(tmp_path / "s1" / "responses.parquet")
    b = pl.read_parquet(tmp_path / "s2" / "responses.parquet")
    assert b["words"].to_list() == a["words"].to_list()
    assert b["id"].to_list() == a["id"].to_list()
    res = runner.invoke(cli, ["score", str(traces.parent), "-o", str(tmp_path / "s3"), "-q",
                              "--on-error", "skip"])
    assert res.exit_code == 0, res.output
    assert pl.read_parquet(tmp_path / "s3" / "responses.parquet").height == 5


def test_an_unreadable_sub_directory_is_an_error_not_fewer_traces(tmp_path, monkeypatch):
    """rglob skips what it cannot list; a directory input must not silently lose traces."""
    import errno
    import os

    from reasonlens.traces import readers

    (tmp_path / "sub").mkdir()
    (tmp_path / "a.jsonl").write_text('{"response": "a"}\n')
    real_walk = os.walk

    def walk(top, onerror=None, **kw):
        onerror(PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "sub")))
        yield from real_walk(top, onerror=onerror, **kw)

    monkeypatch.setattr(readers.os, "walk", walk)
    with pytest.raises(ConfigError, match="sub: cannot read this directory"):
        readers.data_files(tmp_path)
