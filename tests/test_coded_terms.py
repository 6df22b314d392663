"""The streaming run's coded terms (pl.Enum text columns, reasonlens.lexcount.engine.coded_terms):
the same rows and values as score_batch's string terms, the same partial counts, and parquet
files that read back as strings equal to the string terms'."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from reasonlens.io.sinks import ParquetSink
from reasonlens.lexcount.aggregate import partial_counts
from reasonlens.lexcount.engine import ScoreConfig, score_batch
from reasonlens.schema import TERMS_SCHEMA, conform, empty_traces
from reasonlens.traces import load_traces

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "traces.jsonl"
CONFIG = ScoreConfig()


def _traces(n: int, offset: int = 0) -> pl.DataFrame:
    """Traces with nulls in the label columns, a problem shared by several responses and
    texts that hit terms in the reasoning, the answer or both."""
    texts = ["<think>Wait, let me check. Maybe so.</think> So the answer is 4, but wait.",
             "Hmm, alternatively we compute it. Therefore 4.", "", "no terms here at all",
             "<think>but but but</think>but"]
    rows = [{"id": f"r{offset + i}", "model": None if i % 7 == 3 else f"m{i % 3}",
             "benchmark": None if i % 5 == 4 else "aime", "problem_id": None if i % 11 == 5
             else f"p{i % 4}", "reasoning": texts[i % 5].partition("</think>")[0]
             .removeprefix("<think>") if "</think>" in texts[i % 5] else None,
             "answer": texts[i % 5].partition("</think>")[2] or texts[i % 5]}
            for i in range(n)]
    return conform(pl.DataFrame(rows), dict(empty_traces().schema))


@pytest.mark.parametrize("traces", [
    _traces(40), _traces(700, 5), empty_traces(),
    load_traces([str(EXAMPLE)]) if EXAMPLE.exists() else empty_traces()])
def test_coded_terms_hold_the_same_values_and_partials(traces):
    matcher = CONFIG.matcher()
    resp, terms = score_batch(traces, matcher, CONFIG)
    resp_c, coded = score_batch(traces, matcher, CONFIG, coded=True)
    assert resp_c.equals(resp)
    assert coded.columns == list(TERMS_SCHEMA)
    assert all(isinstance(coded[c].dtype, pl.Enum) for c in TERMS_SCHEMA if c != "count")
    assert coded.cast(TERMS_SCHEMA).equals(terms)
    cats = matcher.categories
    for parts in ("all", "reasoning", "answer"):
        assert partial_counts(resp_c, coded, cats, parts=parts).equals(
            partial_counts(resp, terms, cats, parts=parts)), parts
    if len(traces) > 100:
        assert len(terms) > 1000 and terms["model"].null_count() > 0


def test_a_file_of_coded_batches_reads_back_as_the_string_terms(tmp_path):
    """Batches whose Enums differ (a dictionary of under 256 values, then of thousands) go to
    one file, which stores no Arrow schema: polars and pyarrow read strings back."""
    import pyarrow.parquet as pq

    matcher = CONFIG.matcher()
    batches = [_traces(30), _traces(3000, 30), _traces(5, 3030)]
    sink = ParquetSink(tmp_path / "terms.parquet")
    expected = []
    for b in batches:
        sink.write(score_batch(b, matcher, CONFIG, coded=True)[1])
        expected.append(score_batch(b, matcher, CONFIG)[1])
    sink.close({"note": "test"})
    back = pl.read_parquet(tmp_path / "terms.parquet")
    assert back.schema == pl.Schema(TERMS_SCHEMA)
    assert back.equals(pl.concat(expected))
    schema = pq.read_schema(tmp_path / "terms.parquet")
    assert str(schema.field("term").type) == "string" and b"reasonlens" in schema.metadata
