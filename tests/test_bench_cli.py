"""`reasonlens benchmarks` (list, show, export) and `reasonlens generate` argument errors."""

from __future__ import annotations

from pathlib import Path

import orjson
from click.testing import CliRunner

from reasonlens._optional import vllm_available
from reasonlens.cli import cli, main

FIX = Path(__file__).parent / "fixtures" / "bench"


def test_list_show_export(tmp_path):
    r = CliRunner().invoke(cli, ["benchmarks"], catch_exceptions=False)
    assert r.exit_code == 0
    for name in ("aime24", "aime25", "hmmt_feb25", "math500", "gpqa_diamond", "amc23",
                 "aime_1983_2023"):
        assert name in r.output
    r = CliRunner().invoke(cli, ["benchmarks", "aime24", "--source", str(FIX / "tiny_aime.jsonl"),
                                 "--show", "1"], catch_exceptions=False)
    assert r.exit_code == 0 and "gold=005" in r.output and "3 problems" in r.output
    out = tmp_path / "gpqa.jsonl"
    r = CliRunner().invoke(cli, ["benchmarks", "gpqa", "--source", str(FIX / "gpqa_mini.csv"),
                                 "--export", str(out)], catch_exceptions=False)
    assert r.exit_code == 0
    rows = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    assert len(rows) == 4 and all(len(orjson.loads(x["choices"])) == 4 for x in rows)
    assert all(x["gold"] in "ABCD" for x in rows)


def _run_main(args, capsys):
    try:
        main(args)
    except SystemExit as exc:
        return exc.code, capsys.readouterr().err
    return 0, capsys.readouterr().err


def test_generate_argument_errors_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("REASONLENS_RAISE_ERRORS", raising=False)
    base = ["generate", "--benchmark", "aime24", "--benchmark-source",
            str(FIX / "tiny_aime.jsonl"), "--model", "m", "--out", str(tmp_path / "o.jsonl")]
    code, err = _run_main(base, capsys)
    assert code == 2 and "--base-url is required" in err
    code, err = _run_main(base + ["--base-url", "ftp://x"], capsys)
    assert code == 2 and "http://" in err
    code, err = _run_main(base + ["--base-url", "http://x/v1", "--logit-bias", "abc"], capsys)
    assert code == 2 and "TOKEN_ID=BIAS" in err
    if not vllm_available():
        code, err = _run_main(base + ["--backend", "vllm"], capsys)
        assert code == 2 and "gpu" in err and "Traceback" not in err
    assert not (tmp_path / "o.jsonl").exists()
