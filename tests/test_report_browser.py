"""The report in real headless Chromium, offline: every chart renders, nothing injected runs."""

from __future__ import annotations

import pytest

from reasonlens.report import ReportConfig, build_report
from reasonlens.report.browser import check_report
from reasonlens.stats import StatsConfig
from reasonlens.devtools.synthetic import SyntheticConfig, write_synthetic

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HOSTILE = '</script><script>alert(1)</script>'
EXCERPT = 'Hmm </script><script>alert("x")</script><img src=x onerror=alert(2)> ok'

PROBE = """
(() => JSON.stringify({
  imgs: document.querySelectorAll('img').length,
  scripts: document.querySelectorAll('script').length,
  titleText: document.querySelector('h1').textContent,
  excerpt: Array.from(document.querySelectorAll('td.text')).map(t => t.textContent),
  svgText: Array.from(document.querySelectorAll('.chart svg text')).map(t => t.textContent)
}))()
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import polars as pl

    d = tmp_path_factory.mktemp("browser")
    dirs = write_synthetic(d, SyntheticConfig(n_problems=5, n_samples=2, hostile_model=HOSTILE))
    j = pl.read_parquet(dirs["judge"] / "judgments.parquet")
    ids = j.filter(pl.col("model") == HOSTILE)["id"].head(1).to_list()
    pl.DataFrame({"id": ids, "behaviour": ["metacognitive"], "quote": [EXCERPT],
                  "sentence": [1], "chunk": [0]}).write_parquet(dirs["judge"] /
                                                                 "instances.parquet")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REASONLENS_HOME", str(d / "home"))
        return build_report([d], d / "report.html", title=f"Browser {HOSTILE}",
                            config=ReportConfig(stats=StatsConfig(n_boot=100)))


def test_every_chart_renders_offline_and_nothing_injected_runs(report, chromium, artifacts_dir):
    shot = artifacts_dir / "report.png"
    r = check_report(report, screenshot=shot, chromium=chromium)
    assert r.state["done"] == "1"
    assert len(r.charts) >= 12
    not_drawn = [c["id"] for c in r.charts if not (c["svg"] or c["canvas"]) or c["error"]]
    assert not_drawn == []
    assert all(c["marks"] > 3 for c in r.charts)          # axes and marks, not an empty svg
    assert r.state["ok"] == str(len(r.charts)) and r.state["failed"] == "0"
    assert r.console_errors == [] and r.exceptions == []
    assert r.dialogs == []                                  # no alert() ran
    assert [u for u in r.requests if not u.startswith("file:")] == []
    assert r.state["scripts"] == 6          # bundle, specs, provenance, embed, viewer x2: none injected
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_hostile_text_is_shown_as_text(report, chromium):
    r = check_report(report, chromium=chromium, probe=PROBE)
    p = r.probe
    assert r.dialogs == [] and p["imgs"] == 0 and p["scripts"] == 6
    assert p["titleText"] == f"Browser {HOSTILE}"
    assert EXCERPT in p["excerpt"]
    assert any(HOSTILE in t for t in p["svgText"])  # the model name drawn as SVG text


def test_report_cli_check_flag(tmp_path, chromium, capsys):
    from reasonlens.cli import main

    dirs = write_synthetic(tmp_path / "in", SyntheticConfig(n_problems=3, n_samples=2),
                           stages=("grade",))
    main(["report", str(dirs["grade"]), "-o", str(tmp_path / "r.html"), "--n-boot", "50",
          "--check"])
    assert "charts rendered offline in headless Chromium" in capsys.readouterr().out
