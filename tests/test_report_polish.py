"""Report polish: zero-hit references get an exact test, per-term charts keep every model,
tables never clip."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

import reasonlens as rl
from reasonlens.report import charts as ch
from reasonlens.report.browser import check_report
from reasonlens.stats.exact import NOTE, exact_rate_ratio

REPO = Path(__file__).resolve().parent.parent
CHECKPOINTS = REPO / "examples" / "checkpoints.jsonl"
FAST = rl.StatsConfig(n_boot=50)


def test_exact_rate_ratio_closed_forms():
    r = exact_rate_ratio(10, 1000.0, 0, 1000.0)          # equal exposure, no reference hit
    assert r.p_value == pytest.approx(2 * 0.5 ** 10)     # two-sided binomial, pi0 = 1/2
    assert math.isinf(r.rate_ratio) and math.isinf(r.ci_high)
    lo_pi = 0.025 ** (1 / 10)                           # Clopper-Pearson lower bound at x = n
    assert r.ci_low == pytest.approx(lo_pi / (1 - lo_pi))
    back = exact_rate_ratio(0, 1000.0, 10, 1000.0)       # the mirror image
    assert back.rate_ratio == 0 and back.ci_high == pytest.approx(1 / r.ci_low)
    assert back.p_value == pytest.approx(r.p_value)
    mid = exact_rate_ratio(30, 2000.0, 10, 1000.0)       # same rates, twice the exposure
    assert mid.rate_ratio == pytest.approx(1.5) and mid.ci_low < 1.5 < mid.ci_high
    assert exact_rate_ratio(0, 10.0, 0, 10.0) is None


@pytest.fixture(scope="module")
def zero_ref():
    t = rl.load_traces(CHECKPOINTS).filter(pl.col("step") == 100)  # zero-RL: no "wait" at all
    return t, rl.score(t), rl.judge(t)


def test_zero_hit_reference_gets_an_exact_test(zero_ref):
    t, scored, judged = zero_ref
    st = rl.stats(scored, judged, reference="zero-rl-32b-example", config=FAST)
    row = st.comparisons.filter(pl.col("category") == "anthropomorphic").row(0, named=True)
    assert row["rate_ratio"] is None and math.isinf(row["exact_ci_high"])
    x_ref = int(scored.responses.filter(pl.col("model") == "zero-rl-32b-example")
                ["anthropomorphic"].sum())
    assert x_ref == 0 and row["zero_note"].startswith("no hits in the reference")
    r = scored.responses
    want = exact_rate_ratio(int(r.filter(pl.col("model") == row["model"])["anthropomorphic"].sum()),
                            float(r.filter(pl.col("model") == row["model"])["words"].sum()), 0,
                            float(r.filter(pl.col("model") == row["reference"])["words"].sum()))
    assert row["exact_ci_low"] == pytest.approx(want.ci_low)
    assert row["exact_p"] == pytest.approx(want.p_value) and row["exact_p"] < 1e-6
    ok = st.comparisons.filter(pl.col("category") == "connectors").row(0, named=True)
    assert ok["rate_ratio"] is not None and ok["exact_p"] is None   # only where the GLM cannot
    for beh in st.behaviour_comparisons.iter_rows(named=True):   # judged behaviours alike
        if beh["rate_ratio"] is None:
            assert beh["exact_ci_low"] > 1 and beh["zero_note"].startswith("no hits in the ref")
        else:
            assert beh["zero_note"] is None
    spec = ch.comparison_chart(st.comparisons).to_dict(validate=False)
    shapes = [lyr for lyr in spec["layer"] if "shape" in lyr.get("encoding", {})]
    assert len(shapes) == 1                                # still in the chart, as a triangle
    labels = {r["label"] for r in spec["datasets"][shapes[0]["data"]["name"]]}
    assert labels == {"anthropomorphic"}


def test_zero_hit_compared_model_gets_an_exact_test_too(zero_ref):
    """The mirror case (the shipped demo's anthropomorphic row): the reference has hits, the
    compared model none. The GLM gives 0 without an interval; the exact test bounds it."""
    t, scored, judged = zero_ref
    st = rl.stats(scored, judged, reference="distilled-32b-example", config=FAST)
    row = st.comparisons.filter(pl.col("category") == "anthropomorphic").row(0, named=True)
    assert row["rate_ratio"] == 0 and row["ci_low"] is None
    r = scored.responses
    side = {m: (int(r.filter(pl.col("model") == m)["anthropomorphic"].sum()),
                float(r.filter(pl.col("model") == m)["words"].sum()))
            for m in (row["model"], row["reference"])}
    assert side[row["model"]][0] == 0 < side[row["reference"]][0]
    want = exact_rate_ratio(*side[row["model"]], *side[row["reference"]])
    assert row["exact_rate_ratio"] == 0 and row["exact_ci_low"] == 0
    assert row["exact_ci_high"] == pytest.approx(want.ci_high) and 0 < want.ci_high < 1
    assert row["exact_p"] == pytest.approx(want.p_value)
    assert row["zero_note"].startswith("no hits in this model")
    from reasonlens.report.sections import _comparison_table

    cell = _comparison_table(st.comparisons.filter(pl.col("benchmark") == "(all)"), "c")
    assert "[CI n/a]" not in cell and "] exact" in cell
    spec = ch.comparison_chart(st.comparisons).to_dict(validate=False)
    shapes = [lyr for lyr in spec["layer"] if "shape" in lyr.get("encoding", {})]
    labels = {r["label"] for r in spec["datasets"][shapes[0]["data"]["name"]]}
    assert labels == {"anthropomorphic"}                   # kept in the forest plot


def test_overview_says_that_steps_are_pooled():
    from reasonlens.report.sections import overview
    from reasonlens.stats.inputs import Inputs

    r = pl.DataFrame({"id": ["a", "b"], "model": ["m", "m"], "step": [100, 200]})
    assert "2 training steps (100 to 200)" in overview({}, Inputs(responses=r), ["m"]).intro
    assert "training steps" not in overview({}, Inputs(responses=r.head(1)), ["m"]).intro


def test_zero_hit_report_text(zero_ref, tmp_path):
    t, scored, judged = zero_ref
    cfg = rl.ReportConfig(stats=FAST, reference="zero-rl-32b-example")
    html = rl.report(scored, judged, traces=[t], path=tmp_path / "z.html", config=cfg).path.read_text()
    assert "∞ exact" not in html and "] exact" in html and NOTE in html
    assert "[CI n/a]" not in html and "0 (no hits)" in html


def test_per_term_chart_shows_every_model_with_its_n(zero_ref):
    _, scored, _ = zero_ref
    st = rl.stats(scored, config=FAST)
    tr = st.term_rates.filter(pl.col("category") == "anthropomorphic")
    assert set(tr["model"]) == {"distilled-32b-example", "zero-rl-32b-example"}
    zero = tr.filter(pl.col("model") == "zero-rl-32b-example")
    assert zero["estimate"].max() == 0 and zero["n_responses"].min() == 24
    spec = ch.token_usage_chart(st.term_rates, "anthropomorphic").to_dict(validate=False)
    sub = " ".join(spec["title"]["subtitle"])
    assert "distilled-32b-example 24" in sub and "zero-rl-32b-example 24" in sub


CLIP = """
(() => { document.querySelectorAll('details').forEach(d => d.open = true);
  const w = Array.from(document.querySelectorAll('.table-wrap'));
  const th = getComputedStyle(document.querySelector('.table-wrap th'));
  return JSON.stringify({n: w.length, sticky: th.position,
    clipped: w.filter(x => x.scrollWidth > x.clientWidth + 1).map(
      x => (x.querySelector('caption') || {}).textContent || '?')}); })()
"""


@pytest.mark.browser
@pytest.mark.slow
def test_tables_do_not_clip_and_the_exact_row_is_drawn(zero_ref, tmp_path, chromium,
                                                       artifacts_dir):
    t, scored, judged = zero_ref
    cfg = rl.ReportConfig(stats=FAST, reference="zero-rl-32b-example")
    path = rl.report(scored, judged, traces=[t], path=tmp_path / "z.html", config=cfg).path
    r = check_report(path, chromium=chromium, probe=CLIP,
                     screenshot=artifacts_dir / "zero-reference.png", region=(0, 1400))
    assert r.console_errors == [] and r.exceptions == []
    assert r.probe["n"] >= 8 and r.probe["clipped"] == [] and r.probe["sticky"] == "sticky"
    rr = next(c for c in r.charts if c["id"] == "fig-rate-ratios")
    assert rr["svg"] and not rr["error"]


@pytest.mark.parametrize("unit", ["problem", "response"])
def test_term_counts_in_bounded_parts_equal_one_pass(zero_ref, tmp_path, monkeypatch, unit):
    from reasonlens.stats import rates as rt
    from reasonlens.stats.bootstrap import cluster_key

    _, scored, _ = zero_ref
    p = tmp_path / "terms.parquet"
    scored.terms.write_parquet(p)
    r = scored.responses
    resp = r.with_columns(cluster_key(r, unit), pl.col("model").cast(pl.String))
    keys = ["model", "_cluster", "category", "term"]
    whole = rt.cluster_term_counts(scored.terms, resp, ["model"], unit).sort(keys)
    monkeypatch.setattr(rt, "TERM_ROWS_PER_PASS", 50)          # many disjoint parts
    parts = rt.cluster_term_counts(pl.scan_parquet(p), resp, ["model"], unit).sort(keys)
    assert scored.terms.height > 5 * 50
    assert parts.select(keys + ["count", "present"]).equals(whole.select(keys + ["count",
                                                                                 "present"]))
