"""`reasonlens judge` without a server: the offline path, help text, option errors."""

from __future__ import annotations

import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.cli import cli
from reasonlens.io import read_json
from reasonlens.schema import INSTANCE_SCHEMA


def _traces(path):
    rows = [{"id": "a", "model": "m", "benchmark": "b", "problem_id": "1",
             "response": "Let x = 2. Wait, that can't be right. Alternatively, draw a table."},
            {"id": "b", "model": "m", "benchmark": "b", "problem_id": "2",
             "response": "So the answer is 4."}]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_offline_detector_is_the_labelled_default(tmp_path):
    res = CliRunner().invoke(cli, ["judge", str(_traces(tmp_path / "t.jsonl")), "--out",
                                   str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert "OFFLINE DETECTOR" in res.output and "APPROXIMATE" in res.output
    s = read_json(tmp_path / "o" / "summary.json")
    assert s["approximate"] is True and s["judge"].startswith("offline-detector")
    assert s["provenance"]["config"]["approximate"] is True
    j = pl.read_parquet(tmp_path / "o" / "judgments.parquet")
    assert j.get_column("id").to_list() == ["a", "b"]
    assert {"multi_perspective_count", "metacognitive_status", "judge", "n_chunks"} \
        <= set(j.columns)
    inst = pl.read_parquet(tmp_path / "o" / "instances.parquet")
    assert inst.columns == list(INSTANCE_SCHEMA)  # the same instances frame as the LLM judge
    total = sum(j.get_column(f"{b}_count").sum() for b in ("multi_perspective", "metacognitive"))
    assert inst.height == total
    st = s["models"]["m"]["benchmarks"]["b"]["behaviours"]["metacognitive"]
    assert st["n"] + st["n_missing"] == 2


def test_help_documents_every_option():
    res = CliRunner().invoke(cli, ["judge", "--help"])
    assert res.exit_code == 0
    for opt in ("--base-url", "--model", "--behaviour", "--rubric", "--concurrency",
                "--max-chunk-tokens", "--overlap", "--temperature", "--seed", "--structured",
                "--cache", "--no-cache", "--cache-sampled", "--api-key-env", "--price-in",
                "--price-out"):
        assert opt in res.output
    cmd = cli.get_command(None, "judge")
    assert all(p.help for p in cmd.params if p.param_type_name == "option"), \
        [p.name for p in cmd.params if p.param_type_name == "option" and not p.help]


@pytest.mark.parametrize("args, message", [
    (["--base-url", "ftp://x", "--model", "m"], "must start with http"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--max-chunk-tokens", "100",
      "--overlap", "80"], "--overlap"),
    (["--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--behaviour", "nope"],
     "unknown rubric 'nope'"),
])
def test_bad_options_fail_cleanly(tmp_path, args, message):
    from reasonlens.errors import ConfigError

    res = CliRunner().invoke(cli, ["judge", str(_traces(tmp_path / "t.jsonl")), "--out",
                                   str(tmp_path / "o"), *args])
    assert isinstance(res.exception, ConfigError) and message in str(res.exception)
