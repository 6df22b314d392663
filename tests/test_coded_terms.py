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


@pytest.mark.parametrize("kernel", [True, False])
def test_coded_terms_of_a_term_in_two_lexicons_through_either_path(kernel, monkeypatch):
    """The hits' codes come from the term table: gathered by term id, or joined when a term is
    in two lexicons; the compiled kernel and the regex path give the same coded terms."""
    from reasonlens.lexicon import Lexicon
    from reasonlens.lexicon import count as count_mod

    monkeypatch.setattr(count_mod, "USE_KERNEL", kernel)
    config = ScoreConfig(lexicons=("anthropomorphic", "connectors"))
    shared = (Lexicon.from_terms("a", ["wait", "so", "but"]),
              Lexicon.from_terms("b", ["wait", "maybe"]))
    traces = _traces(300)
    for matcher in (config.matcher(), count_mod.compile_lexicons(list(shared))):
        resp, terms = score_batch(traces, matcher, config)
        resp_c, coded = score_batch(traces, matcher, config, coded=True)
        assert resp_c.equals(resp) and coded.cast(TERMS_SCHEMA).equals(terms)
        assert len(terms) > 100
    both = terms.filter(pl.col("term") == "wait")["category"].unique().sort().to_list()
    assert both == ["a", "b"]


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


def test_dictionary_columns_become_int32_codes_of_large_strings_as_a_cast_makes_them():
    """The sink's own conversion of dictionary columns (codes widened by numpy, no
    ``pyarrow.compute``) gives what ``Table.cast`` gives: codes of 8, 16 and 32 bits, nulls,
    tables of several chunks and slices whose validity bits start mid-byte."""
    import random

    import pyarrow as pa

    from reasonlens.io.sinks import _plain_dictionaries

    rng = random.Random(1)
    want = pa.schema([pa.field("a", pa.dictionary(pa.int32(), pa.large_string())),
                      pa.field("c", pa.uint32())])
    widths = set()
    for _ in range(120):
        n, k = rng.randint(0, 300), rng.choice([1, 3, 200, 300, 70_000])
        vals = [f"v{i}" for i in range(k)]
        data = [rng.choice(vals) if rng.random() > 0.2 else None for _ in range(n)]
        df = pl.DataFrame({"a": pl.Series(data, dtype=pl.String).cast(pl.Enum(vals)),
                           "c": pl.Series(range(n), dtype=pl.UInt32)})
        if n > 10 and rng.random() < 0.5:
            a, b = rng.randint(0, n // 2), rng.randint(1, n // 2)
            df = pl.concat([df.slice(a, b), df.slice(b, a + 3)], rechunk=False)
        table = df.to_arrow()
        if len(table) > 5 and rng.random() < 0.5:
            table = table.slice(3)
        widths.add(table.schema.field("a").type.index_type.bit_width)
        got = _plain_dictionaries(table)
        assert got.schema.equals(want)
        assert got.column("a").to_pylist() == table.column("a").to_pylist() \
            == table.cast(want).column("a").to_pylist()
        assert got.column("c").equals(table.column("c"))
    assert widths == {8, 16, 32}
