"""The Python API: docs/api.md runs as written, and the API gives the CLI's outputs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

import reasonlens as rl
from reasonlens.cli import main

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "traces.jsonl"


def _blocks(md: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", md, flags=re.S | re.M)


def test_docs_api_walkthrough_runs(tmp_path, monkeypatch, capsys):
    blocks = _blocks((REPO / "docs" / "api.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 8
    (tmp_path / "examples").mkdir()
    shutil.copy(EXAMPLE, tmp_path / "examples" / "traces.jsonl")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REASONLENS_HOME", str(tmp_path / "home"))
    ns: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"docs/api.md block {i + 1}", "exec"), ns)  # noqa: S102
    assert (tmp_path / "out" / "api-report.html").stat().st_size > 100_000
    assert "ConfigError:" in capsys.readouterr().out


@pytest.fixture(scope="module")
def cli_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    for args in (["score", str(EXAMPLE), "--out", str(d / "score"), "-q"],
                 ["grade", str(EXAMPLE), "--out", str(d / "grade"), "-q", "--n-boot", "50"],
                 ["judge", str(EXAMPLE), "--out", str(d / "judge")]):
        main(args)
    return d


def _same(a: pl.DataFrame, b: pl.DataFrame, key: str = "id") -> None:
    cols = [c for c in a.columns if c not in ("source",)]
    assert sorted(cols) == sorted(c for c in b.columns if c != "source")
    assert a.select(cols).sort(key).equals(b.select(cols).sort(key))


def test_api_equals_cli_outputs(cli_out):
    traces = rl.load_traces(EXAMPLE)
    scored = rl.score(traces)
    _same(scored.responses, pl.read_parquet(cli_out / "score" / "responses.parquet"))
    cli_terms = pl.read_parquet(cli_out / "score" / "terms.parquet")
    keys = ["id", "category", "term", "part"]
    assert scored.terms.sort(keys).equals(cli_terms.sort(keys))
    cli_summary = json.loads((cli_out / "score" / "summary.json").read_text())
    assert scored.summary["models"] == cli_summary["models"]
    graded = rl.grade(traces, n_boot=50)
    _same(graded.graded.drop("source_line"), pl.read_parquet(
        cli_out / "grade" / "graded.parquet").drop("source_line"))
    cli_metrics = json.loads((cli_out / "grade" / "metrics.json").read_text())
    assert graded.summary["models"] == cli_metrics["models"]
    judged = rl.judge(traces)
    _same(judged.judgments, pl.read_parquet(cli_out / "judge" / "judgments.parquet"))
    assert judged.instances.height == pl.read_parquet(
        cli_out / "judge" / "instances.parquet").height


def test_stats_from_results_equals_stats_from_dirs(cli_out, tmp_path):
    cfg = rl.StatsConfig(n_boot=50)
    traces = rl.load_traces(EXAMPLE)
    mem = rl.stats(rl.score(traces), rl.grade(traces, n_boot=50), rl.judge(traces), config=cfg)
    disk = rl.stats(cli_out / "score", cli_out / "grade", cli_out / "judge", config=cfg)
    assert set(mem.frames) == set(disk.frames)
    for name in ("category_rates", "comparisons", "accuracy", "behaviour_rates"):
        assert mem[name].equals(disk[name]), name
    main(["stats", str(cli_out / "score"), "--out", str(tmp_path / "st"), "--n-boot", "50",
          "--format", "parquet"])
    assert pl.read_parquet(tmp_path / "st" / "comparisons.parquet").equals(disk.comparisons)


def test_result_write_is_readable_by_the_cli(tmp_path):
    traces = rl.load_traces(EXAMPLE)
    rl.score(traces).write(tmp_path / "score")
    rl.judge(traces).write(tmp_path / "judge")
    main(["report", str(tmp_path), "-o", str(tmp_path / "r.html"), "--n-boot", "20"])
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert 'id="behaviours"' in html and 'id="token-usage"' in html


def test_errors_are_the_projects(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"response": "ok"}\n{"response": 3}\n')
    with pytest.raises(rl.InputError) as e:
        rl.load_traces(bad)
    assert e.value.line == 2 and e.value.field == "response"
    with pytest.raises(rl.ConfigError):
        rl.diff(rl.load_traces(EXAMPLE), a="distilled-32b-example")
    with pytest.raises(AttributeError):
        rl.no_such_function  # noqa: B018


def test_stage_names_are_callable_and_still_subpackages():
    import reasonlens.grade.core as core
    import reasonlens.stats.analysis as analysis

    assert callable(rl.grade) and callable(rl.stats) and callable(rl.report)
    assert rl.grade.core is core and rl.stats.analysis is analysis
    assert rl.stats.StatsConfig is rl.StatsConfig


def test_api_access_stays_light():
    from tests.test_imports import _loaded

    assert _loaded("import reasonlens as rl\n"
                   "rl.load_traces, rl.score, rl.grade, rl.judge, rl.stats, rl.report, rl.diff") == []


def test_score_with_behaviours_equals_the_cli(tmp_path):
    main(["score", str(EXAMPLE), "--out", str(tmp_path / "s"), "--behaviours", "-q"])
    api = rl.score(rl.load_traces(EXAMPLE), behaviours=True).responses
    _same(api, pl.read_parquet(tmp_path / "s" / "responses.parquet"))
    assert "metacognitive_count" in api.columns


def test_diff_equals_the_cli(tmp_path):
    out = tmp_path / "d.parquet"
    main(["diff", str(EXAMPLE), "--a", "distilled-32b-example", "--b", "zero-rl-32b-example",
          "--out", str(out)])
    api = rl.diff(rl.load_traces(EXAMPLE), a="distilled-32b-example", b="zero-rl-32b-example")
    cli = pl.read_parquet(out)
    assert api.ranking.sort("term").equals(cli.sort("term"))
