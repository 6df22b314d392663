"""The scale path: Arrow-batch stage functions, additive partial summaries, and Ray Data.

The Ray tests share one local Ray (2 CPUs) and check that the distributed score and grade give
the same rows, summary and metrics as ``reasonlens score`` / ``reasonlens grade`` on the shipped
example.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reasonlens.lexcount.aggregate import merge_partials, partial_counts, summarise, \
    summary_from_partials
from reasonlens.lexcount.engine import ScoreConfig
from reasonlens.lexcount.run import run_score
from reasonlens.lexicon import load_lexicons
from reasonlens.scale import batches
from reasonlens.traces import load_traces

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = str(REPO / "examples" / "traces.jsonl")
TERM_KEYS = ["id", "category", "term", "part"]


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    out = tmp_path_factory.mktemp("single")
    res = run_score([EXAMPLE], out, ScoreConfig())
    return res, pl.read_parquet(out / "responses.parquet"), pl.read_parquet(out / "terms.parquet")


def test_summary_figures_equal_a_direct_computation_from_the_rows(single):
    """Every model's category and term figures, computed here straight from responses.parquet
    and terms.parquet, without the partial counts."""
    res, responses, terms = single
    for model, block in res.summary["models"].items():
        r = responses.filter(pl.col("model") == model)
        assert block["n_responses"] == len(r) and block["words"] == r["words"].sum()
        for cat, fig in block["categories"].items():
            c = r[cat]
            assert fig["per_1k_words"] == pytest.approx(1000 * c.sum() / r["words"].sum())
            assert fig["mean_per_response"] == pytest.approx(c.mean())
            assert fig["share_with_any"] == pytest.approx((c > 0).mean())
            assert fig["median_per_response"] == pytest.approx(c.median())
        t = terms.filter(pl.col("model") == model)
        for cat, per_term in block["terms"].items():
            for term, fig in per_term.items():
                hits = t.filter((pl.col("category") == cat) & (pl.col("term") == term))
                assert fig["count"] == hits["count"].sum()
                assert fig["share_with_any"] == pytest.approx(hits["id"].n_unique() / len(r))
                assert fig["mean_per_response"] == pytest.approx(hits["count"].sum() / len(r))


def test_partials_of_any_split_merge_to_the_one_process_summary(single):
    res, responses, terms = single
    lexicons = load_lexicons(ScoreConfig().lexicons)
    cats = [lx.name for lx in lexicons]
    assert summarise(responses, terms, lexicons) == {"models": res.summary["models"]}
    for size in (1, 5, 17):
        parts = [partial_counts(responses.slice(i, size),
                                terms.filter(pl.col("id").is_in(responses["id"].slice(i, size)
                                                                .implode())), cats)
                 for i in range(0, len(responses), size)]
        merged = summary_from_partials(merge_partials(parts), lexicons)
        assert merged["models"] == res.summary["models"]
    # medians come from merged value counts, never from averaging per-batch medians
    block = res.summary["models"]["distilled-32b-example"]["categories"]["anthropomorphic"]
    values = responses.filter(pl.col("model") == "distilled-32b-example")["anthropomorphic"]
    assert block["median_per_response"] == float(values.median())


def test_arrow_batch_score_equals_score_batch(single):
    _, responses, terms = single
    traces = load_traces(EXAMPLE)
    got = [batches.score_table(traces.slice(i, 7).to_arrow(), config=ScoreConfig())
           for i in range(0, len(traces), 7)]
    resp = pl.concat([pl.from_arrow(batches.responses_of(g)) for g in got])
    long = pl.concat([pl.from_arrow(batches.terms_of(g)) for g in got])
    assert resp.equals(responses)
    assert long.sort(TERM_KEYS).equals(terms.sort(TERM_KEYS))


def test_raw_records_become_the_loaders_trace_rows():
    import pyarrow.json as pj

    table = pj.read_json(EXAMPLE)
    got = pl.from_arrow(batches.traces_table(table, source=EXAMPLE))
    want = load_traces(EXAMPLE)
    cols = [c for c in want.columns if c not in ("source_line", "metadata")]
    assert got.select(cols).equals(want.select(cols))


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray with 2 CPUs for the module's Ray tests."""
    ray = pytest.importorskip("ray")
    from reasonlens.scale.ray_run import RayConfig, init

    init(RayConfig(num_cpus=2))
    yield
    ray.shutdown()


@pytest.mark.slow
def test_ray_data_score_matches_single_process(single, tmp_path, local_ray):
    from reasonlens.scale.ray_run import RayConfig, consolidate, run_score_ray

    res, responses, terms = single
    ray_res = run_score_ray([EXAMPLE], tmp_path, ScoreConfig(),
                            RayConfig(num_cpus=2, batch_rows=10))
    assert ray_res.n_responses == len(responses) == 48
    assert ray_res.summary["models"] == res.summary["models"]
    files = consolidate(tmp_path)
    got = pl.read_parquet(files["responses"])
    assert got.sort("id").equals(responses.sort("id"))
    assert pl.read_parquet(files["terms"]).sort(TERM_KEYS).equals(terms.sort(TERM_KEYS))


@pytest.mark.slow
def test_ray_data_grade_matches_single_process(tmp_path, local_ray):
    from reasonlens.grade.run import GradeRunConfig, run_grade
    from reasonlens.scale.ray_run import RayConfig, run_grade_ray

    config = GradeRunConfig(n_boot=200)
    one = run_grade([EXAMPLE], tmp_path / "one", config)
    dist = run_grade_ray([EXAMPLE], tmp_path / "ray", config, RayConfig(num_cpus=2, batch_rows=10))
    assert dist.n_graded == one.n_graded == 48
    assert dist.metrics["models"] == one.metrics["models"]
    a = pl.read_parquet(tmp_path / "one" / "graded.parquet").sort("id")
    b = pl.read_parquet(sorted((tmp_path / "ray" / "graded").glob("*.parquet"))).sort("id")
    cols = ["id", "extracted", "correct", "grade_reason", "answer_type"]
    assert a.select(cols).equals(b.select(cols))
