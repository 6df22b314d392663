"""Chart specs (chart.to_dict()): encodings, CI layers, n in subtitles, readable fonts."""

from __future__ import annotations

import polars as pl
import pytest

from reasonlens.report import charts as ch
from reasonlens.stats import StatsConfig, analyse, load_inputs
from reasonlens.devtools.synthetic import SyntheticConfig, write_synthetic


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    write_synthetic(d, SyntheticConfig(n_problems=6, n_samples=4))
    return analyse(load_inputs([d]), StatsConfig(n_boot=100), reference="base")


def layers(spec: dict) -> list[dict]:
    inner = spec.get("spec", spec)
    return inner.get("layer", [inner])


def data_rows(spec: dict) -> list[dict]:
    (rows,) = [v for v in spec["datasets"].values() if v and "x" not in v[0]] or [
        next(iter(spec["datasets"].values()))]
    return rows


def fields(layer: dict) -> dict[str, str]:
    return {ch_: enc.get("field") for ch_, enc in layer.get("encoding", {}).items()
            if isinstance(enc, dict)}


def assert_readable(spec: dict) -> None:
    cfg = spec["config"]
    assert cfg["axis"]["labelFontSize"] >= 13 and cfg["axis"]["titleFontSize"] >= 13
    assert cfg["legend"]["labelFontSize"] >= 13
    assert cfg["axis"]["labelLimit"] == 0  # long tokens are not cut off


def subtitle(spec: dict) -> str:
    return " ".join(spec["title"]["subtitle"])


def test_token_usage_chart_has_ci_bars_top_terms_and_n(tables):
    spec = ch.token_usage_chart(tables["term_rates"], "connectors", top=5).to_dict()
    assert_readable(spec)
    bars, err = layers(spec)
    assert bars["mark"]["type"] == "bar" and err["mark"]["type"] == "rule"
    assert fields(bars)["x"] == "estimate" and fields(bars)["y"] == "term"
    assert fields(bars)["yOffset"] == "model" and fields(bars)["color"] == "model"
    assert fields(err)["x"] == "ci_low" and fields(err)["x2"] == "ci_high"
    rows = data_rows(spec)
    assert len({r["term"] for r in rows}) == 5 and len(rows) == 5 * 3
    assert {r["metric"] for r in rows} == {"per_1k_words"}
    assert bars["encoding"]["y"]["sort"]["field"] == "rank"
    assert "n (responses): " in subtitle(spec) and "CI" in subtitle(spec)
    assert bars["encoding"]["y"]["axis"]["labelFontSize"] >= 14


def test_charts_refuse_raw_traces():
    big = pl.DataFrame({"category": ["c"] * 6001, "metric": ["per_1k_words"] * 6001,
                        "term": [str(i) for i in range(6001)], "model": ["m"] * 6001,
                        "estimate": [1.0] * 6001, "ci_low": [0.0] * 6001,
                        "ci_high": [2.0] * 6001, "n_responses": [1] * 6001,
                        "n_problems": [1] * 6001, "level": [0.95] * 6001})
    with pytest.raises(ValueError, match="pre-aggregated"):
        ch.token_usage_chart(big, "c", top=10_000)


def test_comparison_chart_log_scale_with_reference_rule(tables):
    spec = ch.comparison_chart(tables["comparisons"]).to_dict()
    err, pts, one = layers(spec)
    assert pts["encoding"]["x"]["scale"]["type"] == "log"
    lo, hi = pts["encoding"]["x"]["scale"]["domain"]
    assert lo < 1 < hi
    assert fields(err)["x"] == "ci_low" and fields(err)["x2"] == "ci_high"
    assert "rate ratio vs base" in pts["encoding"]["x"]["title"]
    assert "problem-clustered" in subtitle(spec) and "n (responses" in subtitle(spec)


def test_distinctive_words_both_sides(tables):
    lo = tables["log_odds"].filter(pl.col("model_a") == "distilled")
    spec = ch.distinctive_words_chart(lo, top=4).to_dict()
    rows = data_rows(spec)
    zs = [r["z"] for r in rows]
    assert any(z > 0 for z in zs) and any(z < 0 for z in zs) and len(rows) <= 8
    assert {r["side"] for r in rows} <= {"more in distilled", "more in base"}
    assert spec["encoding"]["y"]["sort"] == {"field": "z", "op": "max", "order": "descending"}


def test_behaviours_chart_is_faceted_by_behaviour_with_error_bars(tables):
    spec = ch.behaviours_chart(tables["behaviour_rates"]).to_dict()
    assert spec["facet"]["column"]["field"] == "behaviour"
    bars, err = spec["spec"]["layer"]
    assert fields(bars)["x"] == "benchmark" and fields(bars)["xOffset"] == "model"
    assert fields(err)["y"] == "ci_low" and fields(err)["y2"] == "ci_high"
    assert "missing, not zero" in subtitle(spec)
    assert_readable(spec)


def test_length_accuracy_pass_at_k_ablation_agreement_specs(tables):
    ln = ch.length_chart(tables["length_hist"]).to_dict()
    assert ln["mark"]["type"] == "line" and ln["encoding"]["x"]["scale"]["type"] == "log"
    assert "n (responses)" in subtitle(ln)
    acc = ch.accuracy_chart(tables["accuracy"]).to_dict()
    err, pts = layers(acc)
    assert fields(err) == {"y": "benchmark", "yOffset": "model", "color": "model",
                           "x": "ci_low", "x2": "ci_high"}
    assert pts["encoding"]["x"]["scale"]["domain"] == [0, 1] and "n (samples)" in subtitle(acc)
    pk = ch.pass_at_k_chart(tables["pass_at_k"]).to_dict()
    band, line = pk["spec"]["layer"]
    assert band["mark"]["type"] == "area" and fields(band)["y2"] == "ci_high"
    assert pk["spec"]["layer"][1]["encoding"]["x"]["axis"]["values"] == [1, 2, 4]
    ab = ch.ablation_chart(tables["ablation"]).to_dict()
    err, pts, zero = layers(ab)
    assert fields(err)["x"] == "delta_ci_low" and fields(pts)["x"] == "delta_vs_none"
    assert "n (samples)" in subtitle(ab)
    ag = ch.agreement_chart(tables["agreement"]).to_dict()
    assert ag["facet"]["row"]["field"] == "behaviour"
    assert fields(ag["spec"]["layer"][0])["x2"] == "ci_high"


def test_stratified_chart_by_length_bin(tables):
    spec = ch.stratified_chart(tables["stratified_rates"], kind="length_bin").to_dict()
    assert spec["facet"]["column"]["field"] == "category"
    err, pts = spec["spec"]["layer"]
    assert fields(pts)["x"] == "stratum" and fields(err)["y2"] == "ci_high"
    rows = next(iter(spec["datasets"].values()))
    assert {r["stratum_kind"] for r in rows} == {"length_bin"}


def test_chart_functions_are_pure(tables):
    before = tables["term_rates"].clone()
    a = ch.token_usage_chart(tables["term_rates"], "math").to_dict()
    b = ch.token_usage_chart(tables["term_rates"], "math").to_dict()
    assert a == b and tables["term_rates"].equals(before)
