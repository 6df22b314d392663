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
    assert inst.columns == list(INSTANCE_SCHEMA)  # one instances schema for every judge
    total = sum(j.get_column(f"{b}_sentences").sum()
                for b in ("multi_perspective", "metacognitive"))
    assert inst.height == total
    assert set(j.get_column("count_unit")) == {"episodes"} and s["unit"] == "episodes"
    assert (s["taxonomy"], s["mode"]) == ("paper", "detector")
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


def test_offline_path_refuses_llm_only_options(tmp_path):
    from reasonlens.errors import ConfigError

    res = CliRunner().invoke(cli, ["judge", str(_traces(tmp_path / "t.jsonl")), "--out",
                                   str(tmp_path / "o"), "--seed", "3", "--mode", "sentences"])
    assert isinstance(res.exception, ConfigError)
    assert "--mode, --seed are for the LLM judge" in str(res.exception)


def test_offline_path_honours_behaviour_text_field_and_unit(tmp_path):
    rows = [{"id": "a", "model": "m", "response": "<think>Wait, is that right? Let me check. "
             "Yes, 2 + 2 = 4. So x = 4.</think>Alternatively, draw it. Maybe a table works?"}]
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    runs = {}
    for name, extra in (("resp", []), ("reas", ["--text-field", "reasoning"]),
                        ("sent", ["--unit", "sentences"])):
        res = CliRunner().invoke(cli, ["judge", str(path), "--out", str(tmp_path / name),
                                       "--behaviour", "metacognitive", *extra])
        assert res.exit_code == 0, res.output
        runs[name] = pl.read_parquet(tmp_path / name / "judgments.parquet")
    assert "multi_perspective_count" not in runs["resp"].columns  # --behaviour honoured
    inst = pl.read_parquet(tmp_path / "reas" / "instances.parquet")
    assert all("Alternatively" not in q for q in inst.get_column("quote"))  # reasoning only
    r = runs["sent"].row(0, named=True)
    assert r["count_unit"] == "sentences"
    assert r["metacognitive_count"] == r["metacognitive_sentences"] >= \
        runs["resp"].row(0, named=True)["metacognitive_count"]
    res = CliRunner().invoke(cli, ["judge", str(path), "--out", str(tmp_path / "x"),
                                   "--behaviour", "verification"])
    assert "has no behaviour verification" in str(res.exception)


def test_failed_judgments_exit_nonzero_unless_allowed_and_no_credentials_written(tmp_path):
    """Every request fails (nothing listens on port 9): exit 1 naming how many failed and why;
    --allow-failures accepts; a password in --base-url is never written anywhere."""
    from reasonlens.judge.stage import JudgeFailures

    url = "http://alice:s3cretpassw0rd@127.0.0.1:9/v1"
    args = ["judge", str(_traces(tmp_path / "t.jsonl")), "--base-url", url, "--model", "m",
            "--max-retries", "0", "--cache", str(tmp_path / "c.sqlite")]
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o")])
    assert isinstance(res.exception, JudgeFailures), res.output
    assert "4 of 4 judgments failed (error: 4)" in str(res.exception)
    assert "s3cretpassw0rd" not in str(res.exception)
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "o2"), "--allow-failures"])
    assert res.exit_code == 0, res.output
    assert "4 of 4 judgments failed" in res.output
    s = read_json(tmp_path / "o2" / "summary.json")
    assert s["failures"] == {"n": 4, "by_status": {"error": 4}}
    for f in [*(tmp_path / "o").iterdir(), *(tmp_path / "o2").iterdir(),
              *tmp_path.glob("c.sqlite*")]:
        assert b"s3cretpassw0rd" not in f.read_bytes(), f
        assert b"alice" not in f.read_bytes(), f
    assert "***@127.0.0.1:9" in str(s["provenance"]["config"]["endpoint"]["base_urls"])
