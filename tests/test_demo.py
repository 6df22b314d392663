"""``reasonlens demo``: every stage on the shipped example, and every report section."""

from __future__ import annotations

import pytest

from reasonlens.cli import main
from reasonlens.cli.cmd_demo import tiny_model

SECTIONS = ("overview", "token-usage", "distinctive-words", "length-control", "behaviours",
            "lengths", "accuracy", "judge-agreement", "traces")


def test_demo_without_ablation_says_why(tmp_path, capsys):
    report = tmp_path / "demo.html"
    main(["demo", "--out", str(tmp_path / "out"), "--report", str(report), "--ablation", "off"])
    html = report.read_text(encoding="utf-8")
    for anchor in SECTIONS:
        assert f'<section id="{anchor}">' in html, anchor
    assert '<section id="ablation">' not in html
    err = capsys.readouterr().err
    assert "ablation skipped: turned off" in err and "reasonlens[train,dev]" in err
    assert (tmp_path / "out" / "judge-eval" / "agreement.json").is_file()


@pytest.mark.slow
@pytest.mark.train
def test_demo_runs_the_tiny_ablation(tmp_path):
    model, why = tiny_model()
    if model is None:
        pytest.skip(f"the tiny model is unavailable: {why}")
    report = tmp_path / "demo.html"
    main(["demo", "--out", str(tmp_path / "out"), "--report", str(report), "--ablation", "on"])
    html = report.read_text(encoding="utf-8")
    for anchor in (*SECTIONS, "ablation"):
        assert f'<section id="{anchor}">' in html, anchor
    assert (tmp_path / "out" / "ablate" / "ablation.json").is_file()
