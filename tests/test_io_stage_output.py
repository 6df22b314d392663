"""Atomic stage outputs (reasonlens.io.stage_output) and the readers' checks (issue 11)."""

from __future__ import annotations

import json
import os
import shutil

import polars as pl
import pytest

from reasonlens.errors import InputError, OutputError
from reasonlens.io import (MANIFEST, check_same_inputs, check_stage_dir, read_json,
                           stage_output)


def _write(out, value, stage="score"):
    with stage_output(out, stage=stage) as so:
        prov = so.stamp({"command": stage, "inputs": [{"path": "t", "hash": "b2:aa"}]})
        so.write_parquet(pl.DataFrame({"id": ["a"], "v": [value]}), "responses.parquet", prov)
        so.write_json("summary.json", {"v": value, "provenance": prov})
    return so


def test_commit_writes_manifest_and_replaces_previous_output(tmp_path):
    out = tmp_path / "out"
    first = _write(out, 1)
    assert read_json(out / MANIFEST)["run_id"] == first.run_id
    second = _write(out, 2)
    assert read_json(out / "summary.json")["v"] == 2
    m = check_stage_dir(out)
    assert m["run_id"] == second.run_id and set(m["files"]) == {"responses.parquet",
                                                               "summary.json"}
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")]
    assert leftovers == []


def test_failure_keeps_previous_output_and_moves_partial_aside(tmp_path):
    out = tmp_path / "out"
    _write(out, 1)
    with pytest.raises(RuntimeError):
        with stage_output(out, stage="score") as so:
            so.write_json("summary.json", {"v": 99})
            raise RuntimeError("boom")
    assert read_json(out / "summary.json")["v"] == 1
    assert read_json(tmp_path / "out.partial" / "summary.json")["v"] == 99
    assert so.partial == tmp_path / "out.partial"
    _write(out, 3)  # a successful run removes the old partial
    assert not (tmp_path / "out.partial").exists()


def test_concurrent_run_on_one_out_is_refused(tmp_path):
    out = tmp_path / "out"
    with stage_output(out, stage="score"):
        with pytest.raises(OutputError, match=r"being written by another reasonlens run \(pid "):
            with stage_output(out, stage="grade"):
                pass
    _write(out, 1)  # the lock is released afterwards


def test_kill_between_the_two_renames_is_completed_by_the_next_run(tmp_path):
    out = tmp_path / "out"
    _write(out, 1)
    # what a kill -9 after `rename(out, .out.old-X)` leaves: no out, a complete temp directory
    shutil.copytree(out, tmp_path / ".out.tmp-killed")
    os.rename(out, tmp_path / ".out.old-killed")
    with pytest.raises(InputError, match="no such directory"):
        check_stage_dir(out)  # readers see no directory, never a mix
    with stage_output(out, stage="score") as so:
        assert (out / "summary.json").exists()  # recovered before this run writes
        so.write_json("summary.json", {"v": 5})
    assert read_json(out / "summary.json")["v"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_dead_temp_directories_are_removed(tmp_path):
    out = tmp_path / "out"
    _write(out, 1)
    (tmp_path / ".out.tmp-dead").mkdir()
    (tmp_path / ".out.tmp-dead" / "responses.parquet").write_bytes(b"half")
    _write(out, 2)
    assert not (tmp_path / ".out.tmp-dead").exists()


def test_refuses_to_replace_foreign_directory_or_inputs(tmp_path):
    out = tmp_path / "out"
    (out / "score").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match="not a reasonlens stage output"):
        _write(out, 1)
    assert (out / "notes.txt").read_text() == "mine"
    data = tmp_path / "data"
    data.mkdir()
    (data / "t.jsonl").write_text("{}\n")
    with pytest.raises(OutputError, match="holds the input"):
        with stage_output(data, stage="score", sources=[str(data / "t.jsonl")]):
            pass


def unwritable_dir(tmp_path):
    """A directory this process cannot create entries in: a chmod 500 directory, or (for root,
    who ignores permissions) sysfs, where mkdir fails with EPERM."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if not os.access(ro, os.W_OK):
        return ro
    ro.chmod(0o700)
    sys_dir = "/sys"
    try:
        os.mkdir(f"{sys_dir}/reasonlens-probe")
    except OSError:
        return type(tmp_path)(sys_dir)
    os.rmdir(f"{sys_dir}/reasonlens-probe")
    pytest.skip("no unwritable directory available")


def test_read_only_parent_is_one_clear_error(tmp_path):
    ro = unwritable_dir(tmp_path)
    with pytest.raises(OutputError, match=r"cannot create .*/out: (permission denied|"
                                          r"operation not permitted)"):
        _write(ro / "out", 1)


def test_check_stage_dir_refuses_mixed_runs(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _write(a, 1)
    _write(b, 2)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(a / "responses.parquet", mixed)
    shutil.copy(b / "summary.json", mixed)
    with pytest.raises(InputError, match="different runs"):
        check_stage_dir(mixed)
    shutil.copy(a / MANIFEST, mixed)
    with pytest.raises(InputError, match="differs from the manifest|different runs"):
        check_stage_dir(mixed)
    (a / "summary.json").unlink()
    with pytest.raises(InputError, match="missing"):
        check_stage_dir(a)


def test_check_stage_dir_without_run_ids_compares_provenance(tmp_path):
    d = tmp_path / "legacy"
    d.mkdir()
    pl.DataFrame({"id": ["a"]}).write_parquet(d / "responses.parquet", metadata={
        "reasonlens": json.dumps({"created_utc": "2026-01-01T00:00:00", "argv": ["score"]})})
    (d / "summary.json").write_text(json.dumps(
        {"provenance": {"created_utc": "2026-01-02T00:00:00", "argv": ["score"]}}))
    with pytest.raises(InputError, match="different runs"):
        check_stage_dir(d)


def test_check_same_inputs(tmp_path):
    def prov(*hashes):
        return {"inputs": [{"path": f"f{i}", "hash": h} for i, h in enumerate(hashes)]}

    # one score directory per model against one grade directory over both files: fine
    check_same_inputs([("score", "s1", prov("b2:1")), ("score", "s2", prov("b2:2")),
                       ("grade", "g", prov("b2:1", "b2:2")), ("judge-eval", "e", prov("x"))])
    with pytest.raises(InputError, match="computed from different inputs"):
        check_same_inputs([("score", "s", prov("b2:1")), ("grade", "g", prov("b2:9"))])
    check_same_inputs([("score", "s", prov("b2:1")), ("grade", "g", None)])  # nothing to compare
    with pytest.raises(InputError, match="computed from different inputs"):
        check_same_inputs([("score", "s", prov("sha256:1")), ("grade", "g", prov("sha256:9"))])
    # an output of a version that hashed with blake2b beside one hashing with SHA-256
    check_same_inputs([("score", "s", prov("b2:1")), ("grade", "g", prov("sha256:9"))])


def test_input_hash_is_sha256_of_name_and_bytes(tmp_path):
    import hashlib

    from reasonlens.provenance import file_hash

    f = tmp_path / "t.jsonl"
    f.write_bytes(b'{"response": "x"}\n' * 1000)
    want = hashlib.sha256(b"t.jsonl" + f.read_bytes()).hexdigest()  # the name, then the bytes
    assert file_hash(f) == "sha256:" + want


def test_stats_inputs_refuse_a_directory_mixed_by_hand(tmp_path):
    """The issue's case: a new responses.parquet beside an old summary.json is refused."""
    from click.testing import CliRunner

    from reasonlens.cli import cli
    from reasonlens.stats import load_inputs

    traces = tmp_path / "t.jsonl"
    traces.write_text("".join(json.dumps({"model": m, "problem_id": f"p{i}",
                                          "response": "Wait, maybe so."}) + "\n"
                              for m in ("a", "b") for i in range(3)))
    for name in ("s1", "s2"):
        res = CliRunner().invoke(cli, ["score", str(traces), "--out", str(tmp_path / name), "-q"])
        assert res.exit_code == 0, res.output
    assert load_inputs([tmp_path / "s1"]).responses.height == 6
    shutil.copy(tmp_path / "s2" / "responses.parquet", tmp_path / "s1" / "responses.parquet")
    with pytest.raises(InputError, match="differs from the manifest|different runs"):
        load_inputs([tmp_path / "s1"])
    (tmp_path / "s1" / MANIFEST).unlink()
    with pytest.raises(InputError, match="different runs"):
        load_inputs([tmp_path / "s1"])
    with pytest.raises(InputError, match="duplicate id"):
        load_inputs([tmp_path / "s2", tmp_path / "s2"])


def test_analyse_refuses_duplicate_ids_however_the_inputs_were_built():
    """The issue's case: 6 responses became n = 8 in the correctness model after a join."""
    from reasonlens.devtools.synthetic import SyntheticConfig, synthetic_frames
    from reasonlens.stats import StatsConfig, analyse
    from reasonlens.stats.inputs import Inputs

    fr = synthetic_frames(SyntheticConfig())
    dup = pl.concat([fr["graded"], fr["graded"].head(2)])
    with pytest.raises(InputError, match="duplicate id value"):
        analyse(Inputs(responses=fr["responses"], graded=dup), StatsConfig(n_boot=10))


def test_parquet_sink_holds_small_batches_into_row_groups(tmp_path):
    """With ``min_rows`` small batches are written together (one row group per flush, rows in
    order, a batch whose nulls left a column typed Null cast to the file's type), and what is
    still held at ``close`` is written too; by default each batch is a row group."""
    import pyarrow.parquet as pq

    from reasonlens.io.sinks import ParquetSink

    def batch(start: int, label=True) -> pl.DataFrame:
        return pl.DataFrame({"i": list(range(start, start + 4)),
                             "s": ["x"] * 4 if label else [None] * 4})

    held, each = ParquetSink(tmp_path / "held.parquet", min_rows=10), \
        ParquetSink(tmp_path / "each.parquet")
    for k, sink in enumerate((held, each)):
        for start in range(0, 20, 4):
            sink.write(batch(start, label=start != 8))
        sink.close({"k": k})
    want = pl.concat([batch(s, label=s != 8) for s in range(0, 20, 4)], how="vertical_relaxed")
    for name, groups in (("held", [12, 8]), ("each", [4] * 5)):
        f = pq.ParquetFile(tmp_path / f"{name}.parquet")
        assert [f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)] == groups
        assert pl.read_parquet(tmp_path / f"{name}.parquet").equals(want)
