"""The columnar path for parquet files (reasonlens.traces.columnar_parquet) gives exactly the
record-by-record rows: random typed tables (widths of integers and floats, NaN and the
infinities, categoricals, timestamps, bytes, decimals, unsigned 64-bit integers, structs, lists,
chat layouts, think tags, duplicates, long and other-script texts) and real traces, loaded both
ways and compared (tests/test_columnar.py's ``assert_same``), in tables of many sizes."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from reasonlens.traces import columnar_parquet, readers
from reasonlens.traces.load import LoadOptions, load_traces
from tests.test_columnar import SHARED, _text, assert_same


def _nullable(rng, values, p=0.2):
    return [None if rng.random() < p else v for v in values]


def _flat_table(rng: random.Random, n: int) -> pa.Table:
    bad = 0.1 if rng.random() < 0.3 else 0.0   # blank or missing responses, negative samples
    cols = {"response": pa.array([rng.choice([_text(rng), _text(rng), "", " ", None])
                                  if rng.random() < bad else _text(rng) + "x" for _ in range(n)],
                                 rng.choice([pa.string(), pa.large_string()]))}
    extra = {
        "reasoning_content": lambda: pa.array(_nullable(rng, [_text(rng) for _ in range(n)],
                                                        0.5)),
        "model": lambda: pa.array([rng.choice(["m1", "m2"]) for _ in range(n)]).dictionary_encode(),
        "problem_id": lambda: pa.array([rng.randrange(5) for _ in range(n)], pa.int32()),
        "sample": lambda: pa.array(_nullable(rng, [rng.randrange(-1 if bad else 0, 40)
                                                   for _ in range(n)]),
                                   rng.choice([pa.int16(), pa.int64()])),
        "gold": lambda: rng.choice([
            pa.array(_nullable(rng, [str(rng.randrange(100)) for _ in range(n)])),
            pa.array(_nullable(rng, [rng.randrange(100) for _ in range(n)]), pa.int32()),
            pa.array(_nullable(rng, [rng.choice([27.0, 3.21] + [float("nan"), 1e30] * bool(bad))
                                     for _ in range(n)]))]),
        "usage": lambda: pa.array([{"prompt_tokens": rng.randrange(9),
                                    "completion_tokens": rng.randrange(9)} for _ in range(n)],
                                  pa.struct([("prompt_tokens", pa.int32()),
                                             ("completion_tokens", pa.int64())])),
        "reward": lambda: pa.array(_nullable(rng, [rng.choice([0.0, -0.0, 1.0, 0.1, 0.5]
                                                              + [float("inf"), 2.0**60] * bool(bad))
                                                   for _ in range(n)]),
                                   rng.choice([pa.float32(), pa.float64()])),
        "flag": lambda: pa.array(_nullable(rng, [rng.random() < 0.5 for _ in range(n)])),
        "when": lambda: pa.array([dt.datetime(2026, 1, 1 + i % 28) for i in range(n)]),
        "blob": lambda: pa.array([b"\x00\x01" for _ in range(n)], pa.binary()),
        "price": lambda: pa.array([decimal.Decimal("1.25")] * n, pa.decimal128(5, 2)),
        "big": lambda: pa.array([2**63 + i for i in range(n)], pa.uint64()),
        "label": lambda: pa.array([rng.choice(["a", "é" * 600, "所以", "5", "true", "{}"])
                                   for _ in range(n)]),
        "tags": lambda: pa.array([["x"] * rng.randrange(3) for _ in range(n)],
                                 pa.list_(pa.string())),
        "id": lambda: pa.array([f"r{rng.randrange(n * 4) if bad else i}" for i in range(n)]),
    }
    for name in rng.sample(sorted(extra), rng.randrange(len(extra) + 1)):
        if name in ("price", "big", "when", "blob", "id") and rng.random() < 0.6:
            continue  # the rarer types (some send every table to the row path)
        cols[name] = extra[name]()
    return pa.table(cols)


def _nested_table(rng: random.Random, n: int) -> pa.Table:
    if rng.random() < 0.5:  # OpenAI chat completions: one row per choice
        choices = [[{"message": {"content": _text(rng) + "y",
                                 "reasoning_content": rng.choice([None, _text(rng)])},
                     "finish_reason": rng.choice(["stop", "length"])}
                    for _ in range(rng.randrange(1, 3))] for _ in range(n)]
        return pa.table({"choices": pa.array(choices),
                         "model": pa.array([rng.choice(["a", "b"]) for _ in range(n)])})
    messages = [[{"role": "user", "content": _text(rng)},
                 {"role": "assistant", "content": _text(rng) + "z"}] for _ in range(n)]
    return pa.table({"messages": pa.array(messages),
                     "problem_id": pa.array([str(i % 7) for i in range(n)])})


def _write(tmp_path, table: pa.Table, rng: random.Random) -> str:
    path = tmp_path / f"t{rng.randrange(10**9)}.parquet"
    pq.write_table(table, path, row_group_size=rng.choice([13, 100, 1000]))
    return str(path)


@pytest.mark.parametrize("seed", range(24))
def test_random_parquet_tables_load_the_same_both_ways(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    make = _nested_table if seed % 4 == 3 else _flat_table
    path = _write(tmp_path, make(rng, rng.choice([40, 300])), rng)
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", rng.choice([7, 64, 2048]))
    for options in (LoadOptions(batch_rows=rng.choice([50, 16384])),
                    LoadOptions(on_error="skip", on_duplicate="keep-first")):
        assert_same([path], options, monkeypatch=monkeypatch)


def test_clean_parquet_goes_through_the_columnar_path(tmp_path, monkeypatch):
    """A plain table of every common type takes the columnar path for every table."""
    rng = random.Random(5)
    n = 500
    table = pa.table({"response": [_text(rng) + "x" for _ in range(n)],
                      "model": pa.array(["m"] * n).dictionary_encode(),
                      "problem_id": pa.array(list(range(n)), pa.int32()),
                      "gold": pa.array([float(i) for i in range(n)]),
                      "reward": pa.array([0.5] * n, pa.float32()),
                      "usage": pa.array([{"prompt_tokens": 3, "completion_tokens": i}
                                         for i in range(n)], pa.struct(
                          [("prompt_tokens", pa.int16()), ("completion_tokens", pa.int32())]))})
    path = _write(tmp_path, table, rng)
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 64)
    calls = []
    real = columnar_parquet.columnar.finish_chunk
    monkeypatch.setattr(columnar_parquet.columnar, "finish_chunk",
                        lambda *a: calls.append(real(*a)) or calls[-1])
    frame = load_traces(path, LoadOptions(batch_rows=200))
    assert len(calls) == 3 and all(f is not None for f in calls)   # 200 + 200 + 100 rows
    assert frame["gold"][:3].to_list() == ["0", "1", "2"]
    assert frame["completion_tokens"][:3].to_list() == [0, 1, 2]
    assert frame["metadata"][0] == '{"reward":0.5}'
    assert_same([path], monkeypatch=monkeypatch)


def test_nan_and_unsigned_64_bit_integers_go_to_the_row_path(tmp_path, monkeypatch):
    for col in (pa.array([float("nan"), 1.0]), pa.array([1, 2**64 - 1], pa.uint64())):
        path = _write(tmp_path, pa.table({"response": ["a", "b"], "extra": col}),
                      random.Random(1))
        got = []
        real = columnar_parquet.columnar.finish_chunk
        with monkeypatch.context() as m:
            m.setattr(columnar_parquet.columnar, "finish_chunk",
                      lambda *a: got.append(real(*a)) or got[-1])
            load_traces(path)
        assert got == [None]
        assert_same([path], monkeypatch=monkeypatch)


def test_a_corrupt_row_group_gives_the_same_error_both_ways(tmp_path, monkeypatch):
    rng = random.Random(2)
    table = pa.table({"response": [_text(rng) + "x" for _ in range(300)]})
    path = tmp_path / "broken.parquet"
    pq.write_table(table, path, row_group_size=100, compression="none")
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 400] = b"\xff" * 400   # inside the second row group's pages
    path.write_bytes(bytes(data))
    for options in (LoadOptions(), LoadOptions(on_error="skip")):
        assert_same([str(path)], options, monkeypatch=monkeypatch)


@pytest.mark.skipif(not (SHARED / "schoenfeld-dev").is_dir(),
                    reason="../shared/data/schoenfeld-dev is absent (real R1 traces)")
def test_real_traces_as_parquet_load_the_same_both_ways(tmp_path, monkeypatch):
    """Real R1 traces and MATH-500 solutions as score_bench.py builds them, as parquet."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "score_bench", Path(__file__).parents[1] / "benchmarks" / "score_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "real.parquet"
    bench.build(tmp_path / "real.jsonl", 3)
    pl.read_ndjson(tmp_path / "real.jsonl").write_parquet(path, row_group_size=500)
    monkeypatch.setattr(readers, "PARQUET_BATCH_ROWS", 256)
    assert_same([str(path)], LoadOptions(batch_rows=1000), monkeypatch=monkeypatch)


def test_a_stage_output_read_back_as_traces_loads_the_same_both_ways(tmp_path, monkeypatch):
    """A stage's parquet (the trace columns plus its own, as grade writes) read as traces."""
    from pathlib import Path

    traces = load_traces(str(Path(__file__).parents[1] / "examples" / "traces.jsonl"))
    graded = traces.with_columns(pl.col("response").str.len_chars().gt(500).alias("correct"),
                                 pl.lit("42").alias("extracted"))
    path = tmp_path / "graded.parquet"
    graded.write_parquet(path)
    got = []
    real = columnar_parquet.columnar.finish_chunk
    with monkeypatch.context() as m:
        m.setattr(columnar_parquet.columnar, "finish_chunk",
                  lambda *a: got.append(real(*a)) or got[-1])
        again = load_traces(str(path))
    assert got and all(f is not None for f in got)
    assert again.select(traces.columns).drop("source", "source_line", "metadata").equals(
        traces.drop("source", "source_line", "metadata"))
    assert_same([str(path)], monkeypatch=monkeypatch)
