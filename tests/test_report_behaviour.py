"""The report's behaviour-measurement section: position and transition tables (known values),
and the whole section rendered in headless Chromium from real judge and judge-eval outputs."""

from __future__ import annotations

import json

import polars as pl
import pytest

from reasonlens.report.behaviour import position_table, run_facts, transition_table


def _frames():
    j = pl.DataFrame({"id": ["a", "b"], "model": ["m", "m"], "n_sentences": [10, 5],
                      "judge": ["x", "x"], "taxonomy": ["schoenfeld"] * 2,
                      "mode": ["detector"] * 2, "count_unit": ["episodes"] * 2})
    inst = pl.DataFrame({"id": ["a", "a", "b", "b"], "behaviour": ["verify", "verify", "explore",
                                                                  "verify"],
                         "sentence": [1, 10, 2, 3], "counted": [True] * 4})
    return j, inst


def test_position_rates_pool_sentences_per_tenth():
    j, inst = _frames()
    pos = position_table(j, inst, ["verify"], n_boot=50)
    est = dict(zip(pos.get_column("bin").to_list(), pos.get_column("estimate").to_list()))
    # a: 10 sentences, one per tenth; b: 5 sentences, one per two tenths (bins 1,3,5,7,9)
    # verify: a's sentence 1 (bin 1) and 10 (bin 10); b's sentence 3 (bin 5)
    assert est[1] == pytest.approx(1 / 2) and est[10] == pytest.approx(1 / 1)
    assert est[5] == pytest.approx(1 / 2) and est[2] == 0.0
    assert set(pos.get_column("n")) == {2}
    lo, hi = pos.filter(pl.col("bin") == 1).select("ci_low", "ci_high").row(0)
    assert lo <= 0.5 <= hi


def test_position_ci_of_an_empty_bin_is_missing_without_a_warning():
    import warnings

    j = pl.DataFrame({"id": ["a"], "model": ["m"], "n_sentences": [3]})  # bins 2, 3, 5, ... empty
    inst = pl.DataFrame({"id": ["a"], "behaviour": ["verify"], "sentence": [2],
                         "counted": [True]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pos = position_table(j, inst, ["verify"], n_boot=20)
    got = {r["bin"]: r for r in pos.iter_rows(named=True)}
    # one response is one cluster: no (zero-width) interval, as everywhere (stats.bootstrap)
    assert got[4]["estimate"] == 1.0 and got[4]["ci_low"] is None
    assert got[2]["estimate"] is None and got[2]["ci_low"] is None and got[1]["estimate"] == 0
    j2 = pl.DataFrame({"id": ["a", "b"], "model": ["m", "m"], "n_sentences": [3, 3]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pos = position_table(j2, inst, ["verify"], n_boot=20)
    got = {r["bin"]: r for r in pos.iter_rows(named=True)}
    assert got[4]["estimate"] == 0.5 and got[4]["ci_low"] <= 0.5 <= got[4]["ci_high"]
    assert got[2]["estimate"] is None and got[2]["ci_low"] is None


def test_transitions_are_shares_of_successors_with_none():
    j, inst = _frames()
    tr = transition_table(j, inst, ["verify", "explore"])
    b = {(r["from"], r["to"]): r["n"] for r in tr.iter_rows(named=True)}
    # a: verify none*8 verify -> (v,n) 1, (n,n) 7, (n,v) 1; b: none explore verify none none
    assert b[("verify", "none")] == 2 and b[("explore", "verify")] == 1
    assert b[("none", "none")] == 8
    s = tr.group_by("model", "from").agg(pl.col("share").sum())
    assert all(abs(x - 1) < 1e-9 for x in s.get_column("share"))
    assert run_facts(j) == [{"judge": "x", "taxonomy": "schoenfeld", "mode": "detector",
                             "count_unit": "episodes"}]


def test_transitions_share_a_multi_labelled_sentence_equally():
    j = pl.DataFrame({"id": ["a"], "model": ["m"], "n_sentences": [2]})
    inst = pl.DataFrame({"id": ["a"] * 3, "behaviour": ["analyze", "verify", "verify"],
                         "sentence": [1, 1, 2], "counted": [True] * 3})
    tr = transition_table(j, inst, ["analyze", "verify"])
    b = {(r["from"], r["to"]): r["n"] for r in tr.iter_rows(named=True)}
    assert b == {("analyze", "verify"): 0.5, ("verify", "verify"): 0.5}


def test_agreement_rows_mark_in_sample_and_add_the_cross_validated_figures():
    from reasonlens.report.behaviour import agreement_rows

    m = {"f1": {"value": 0.9, "ci": [0.8, 0.95]}, "n_traces": 19}
    cv = {"f1": {"value": 0.7, "ci": [0.6, 0.75]}, "n_traces": 19}
    rows = agreement_rows([{"kind": "sentences", "judge": ["d"], "in_sample": True,
                            "unit": "episodes", "behaviours": {"metacognitive": m},
                            "cross_validated": {"unit": "episodes",
                                                "behaviours": {"metacognitive": cv}}}])
    assert [(r["fit"].split()[0], r["f1"]["value"]) for r in rows] == [("IN-SAMPLE", 0.9),
                                                                       ("grouped", 0.7)]
    rows = agreement_rows([{"kind": "sentences", "judge": ["offline"], "in_sample": False,
                            "behaviours": {"metacognitive": m}}])
    assert [r["fit"] for r in rows] == ["not trained on these labels"]


def test_section_says_what_a_gold_set_judge_eval_does_and_does_not_show():
    """A gold-set judge-eval (the demo's) is not "no judge-eval output"; the behaviours chart
    and table name the recorded count unit."""
    from reasonlens.report import charts as ch
    from reasonlens.report.behaviour import section
    from reasonlens.report.sections import count_unit_of
    from reasonlens.stats.inputs import Inputs

    j, inst = _frames()
    gold = Inputs(judgments=j, instances=inst, agreement=[{"kind": "gold", "behaviours": {}}])
    text = section({}, gold, ["m"]).intro
    assert "No judge-eval output was given" not in text and "gold set" in text
    text = section({}, Inputs(judgments=j, instances=inst), ["m"]).intro
    assert "No judge-eval output was given" in text
    other = {"kind": "sentences", "judge": ["y"], "in_sample": True,
             "behaviours": {"verify": {"f1": {"value": 0.9, "ci": [0.8, 1.0]}, "n_traces": 2}}}
    tables = "".join(section({}, Inputs(judgments=j, instances=inst, agreement=[other]),
                             ["m"]).tables)
    assert "IN-SAMPLE" in tables and "measured for y, not for the judge behind the counts" \
        in tables
    from reasonlens.report.sections import agreement

    ag = pl.DataFrame({"behaviour": ["verify"], "scope": ["all"], "metric": ["f1"],
                       "estimate": [0.9], "ci_low": [0.8], "ci_high": [1.0], "n": [2]})
    assert "IN-SAMPLE: y was trained" in agreement({"agreement": ag},
                                                   Inputs(agreement=[other])).intro
    assert count_unit_of(j) == "episodes"
    assert count_unit_of(j.with_columns(count_unit=pl.Series(["episodes", "sentences"]))) is None
    br = pl.DataFrame({"model": ["m", "m"], "benchmark": ["b", "b"],
                       "behaviour": ["metacognitive", "multi_perspective"],
                       "metric": ["mean_per_response"] * 2, "estimate": [1.0, 2.0],
                       "ci_low": [0.5, 1.5], "ci_high": [1.5, 2.5], "n_responses": [4, 4],
                       "n_problems": [2, 2], "level": [0.95] * 2, "n_missing": [0, 0]})
    spec = ch.behaviours_chart(br, unit="episodes").to_dict()
    assert spec["spec"]["layer"][0]["encoding"]["y"]["title"] == "episodes per response"
    assert spec["spec"]["width"] >= 120   # room for the facet header "multi_perspective"
    from reasonlens.report.sections import behaviour_unit, curves

    cb = pl.concat([br.with_columns(step=pl.lit(s)) for s in (100, 200)])
    for inputs in (Inputs(judgments=j), Inputs(responses=j)):   # judge or score --behaviours
        assert behaviour_unit(inputs) == "episodes"
        sec = curves({"curves_behaviours": cb}, ["m"], inputs)
        assert "episodes per response" in json.dumps(sec.figures[0].spec)


@pytest.mark.browser
@pytest.mark.slow
def test_behaviour_section_renders_with_unit_agreement_position_transitions(
        shared_data, tmp_path, chromium):
    from click.testing import CliRunner

    from reasonlens.cli import cli
    from reasonlens.report import ReportConfig, build_report
    from reasonlens.report.browser import check_report
    from reasonlens.stats import StatsConfig

    dev = shared_data / "schoenfeld-dev"
    if not dev.is_dir():
        pytest.skip(f"{dev} is absent")
    run = CliRunner()
    det = tmp_path / "sch.npz"  # trained on unlicensed data: tmp_path only, never committed
    assert run.invoke(cli, ["detector", "train", str(dev), "--out", str(det), "--n-boot",
                            "20", "--folds", "3"]).exit_code == 0
    tr = tmp_path / "traces.jsonl"
    assert run.invoke(cli, ["judge-eval", "offline", "--labels", str(dev), "--write-traces",
                            str(tr)]).exit_code == 0
    rows = [json.loads(x) for x in tr.read_text().splitlines()]
    for k, r in enumerate(rows):  # two "models" so the figures compare something
        r["model"] = "model-a" if k % 2 else "model-b"
    tr.write_text("".join(json.dumps(r) + "\n" for r in rows))
    res = run.invoke(cli, ["judge", str(tr), "--out", str(tmp_path / "judge"), "--detector",
                           str(det)])
    assert res.exit_code == 0, res.output
    res = run.invoke(cli, ["judge-eval", str(tmp_path / "judge"), "--labels", str(dev),
                           "--taxonomy", "paper", "--n-boot", "50", "--out",
                           str(tmp_path / "eval")])
    assert res.exit_code == 0, res.output
    html = build_report([tmp_path / "judge", tmp_path / "eval"], tmp_path / "r.html",
                        config=ReportConfig(stats=StatsConfig(n_boot=50)))
    text = html.read_text()
    assert "Behaviour measurement" in text and "taxonomy schoenfeld, mode detector" in text
    assert "counts in episodes" in text and ("paper&#x27;s own unit is not public" in text
                                             or "paper's own unit is not public" in text)
    assert "Measured agreement of the judge with human sentence labels" in text
    r = check_report(html, chromium=chromium)
    ids = [c["id"] for c in r.charts]
    assert any("behaviour-position" in i for i in ids) and any(
        "transitions-schoenfeld" in i for i in ids), ids
    assert [c["id"] for c in r.charts if not (c["svg"] or c["canvas"]) or c["error"]] == []
    assert r.console_errors == [] and r.exceptions == []
