"""The loader's one-parse read (reasonlens/traces/jsonkeys.py): the key count of the compiled
scanner against a reference on generated JSON, and read_lines against polars' full inference
on chunks where a schema inferred from the first rows (or an earlier chunk) loses keys."""

from __future__ import annotations

import copy
import io
import json
import random

import orjson
import polars as pl
import pytest

from reasonlens.traces import jsonkeys
from reasonlens.traces.jsonkeys import (FIRST_ROWS, KeysLost, SchemaHint, key_count, read_lines,
                                        repeated_keys)

needs_scanner = pytest.mark.skipif(jsonkeys._library() is None,
                                   reason="the compiled _jsonkeys scanner is not built "
                                          "(pip install -e . with a C compiler)")

# strings that look like JSON structure: quotes, runs of backslashes, colons, null
_TEXTS = ['', 'a', '"', '\\', '\\\\', '\\"', '":', '": null', 'null', ' : ', '{"k": 1}', 'é',
          '所以wait', '\n\t', '\\\\":', 'x\\', ':', ',"k":null}']


def _value(rng: random.Random, depth: int):
    kind = rng.randrange(8 if depth < 4 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False, 0, -3, 1.5, 1e-7, 2**62])
    if kind in (2, 3, 4):
        return "".join(rng.choice(_TEXTS) for _ in range(rng.randrange(4)))
    if kind in (5, 6):
        return {"".join(rng.choice(_TEXTS) for _ in range(rng.randrange(3))) + str(i):
                _value(rng, depth + 1) for i in range(rng.randrange(4))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def _keys(v) -> int:
    """Reference: keys whose value is not null, at every depth."""
    if isinstance(v, dict):
        return sum((x is not None) + _keys(x) for x in v.values())
    if isinstance(v, list):
        return sum(_keys(x) for x in v)
    return 0


def _dump(rng: random.Random, rec) -> bytes:
    style = rng.randrange(3)
    if style == 0:
        return orjson.dumps(rec)
    seps = [(", ", ": "), (",", " : "), (" ,\t", ":\t")][rng.randrange(3)]
    return json.dumps(rec, separators=seps, ensure_ascii=rng.random() < 0.5).encode()


@needs_scanner
@pytest.mark.parametrize("seed", range(4))
def test_key_count_matches_a_reference_on_generated_json(seed):
    rng = random.Random(seed)
    recs = [{f"k{i}": _value(rng, 1) for i in range(rng.randrange(5))} for _ in range(400)]
    lines = [_dump(rng, r) for r in recs]
    for line, rec in zip(lines, recs):
        assert key_count(line) == _keys(rec), line
    assert key_count(b"\n".join(lines) + b"\n") == sum(map(_keys, recs))
    assert key_count(b'{"a": "open') is None   # a string left open


_REPEATS = {  # line -> keys that repeat one before them in their own object
    b'{"a": 1, "a": 2}': 1,
    b'{"a": 1, "b": {"a": 2}}': 0,                       # the same name one level down
    b'{"m": [{"r": 1, "c": "x"}, {"r": 2, "c": "y"}]}': 0,  # siblings, each its own object
    b'{"m": [{"c": "x", "c": "y"}], "c": 3}': 1,
    b'{"t": "{\\"a\\": 1, \\"a\\": 2}", "a": 1}': 0,   # braces and keys inside a string
    b'{"a": {"x": 1}, "b": 2, "a": 3}': 1,              # after a nested object closes
    b'{"a": [1, {"b": 1}, 2], "b": 1, "b": null}': 1,   # a null value repeats too
    b'{"k\\"": 1, "k": 2}': 0,
    b'{"": 1, "": 2, "x": {"": 3}}': 1,
}


@needs_scanner
def test_repeated_keys_are_counted_per_object():
    for line, want in _REPEATS.items():
        assert repeated_keys(line) == want, line
        assert repeated_keys(line + b"\n" + line + b"\n") == 2 * want, line
    rng = random.Random(5)   # the generated JSON of the reference test has none
    recs = [{f"k{i}": _value(rng, 1) for i in range(rng.randrange(5))} for _ in range(200)]
    assert repeated_keys(b"\n".join(_dump(rng, r) for r in recs)) == 0


@needs_scanner
def test_a_chunk_with_a_repeated_key_is_refused_before_it_is_parsed(monkeypatch):
    calls = []
    real = pl.read_ndjson
    monkeypatch.setattr(pl, "read_ndjson", lambda *a, **k: calls.append(k) or real(*a, **k))
    with pytest.raises(KeysLost, match="twice"):
        read_lines(b'{"response": "a"}\n{"response": "b", "response": "c"}\n')
    assert calls == []


def _chunk(recs) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in recs)


def _full(chunk: bytes) -> pl.DataFrame:
    return pl.read_ndjson(io.BytesIO(chunk), infer_schema_length=None)


def _without_null_columns(df: pl.DataFrame) -> pl.DataFrame:
    """A column of nulls only is as absent to every reader of the frame."""
    return df.select(sorted(c for c in df.columns if df[c].null_count() < len(df)))


def _assert_same(got: pl.DataFrame, chunk: bytes) -> None:
    want = _without_null_columns(_full(chunk))
    got = _without_null_columns(got)
    assert got.schema == want.schema
    assert got.rows() == want.rows()


_BASE = [{"response": f"text {i}", "sample": i, "usage": {"tokens": i}, "tags": ["a"],
          "choices": [{"text": f"c{i}"}]} for i in range(FIRST_ROWS + 50)]


def _late(change) -> list[dict]:
    """The base records with ``change`` applied to one record after the first rows."""
    recs = copy.deepcopy(_BASE)
    change(recs[FIRST_ROWS + 20])
    return recs


# (change, parses): a value the schema cannot take or a key it lacks makes a second parse; a
# number in a column of texts reads as its text either way (the columnar path looks it up)
_LATE_CASES = {
    "a new top-level key": (lambda r: r.update(extra=5), 2),
    "a new nested key": (lambda r: r["usage"].update(cached=3), 2),
    "a new key inside a list's objects": (lambda r: r["choices"][0].update(logprobs=1), 2),
    "an integer field given a float": (lambda r: r.update(sample=1.5), 2),
    "a list of strings given objects": (lambda r: r.update(tags=[{"k": 1}]), 2),
    "a text given a number": (lambda r: r.update(response=7), 1),
}


@needs_scanner
@pytest.mark.parametrize("case", sorted(_LATE_CASES))
def test_what_the_first_rows_do_not_show_is_read_as_full_inference_reads_it(case, monkeypatch):
    change, parses = _LATE_CASES[case]
    chunk = _chunk(_late(change))
    calls = []
    real = pl.read_ndjson
    monkeypatch.setattr(pl, "read_ndjson", lambda *a, **k: calls.append(k) or real(*a, **k))
    got = read_lines(chunk)
    assert len(calls) == parses
    assert calls[-1] == ({"infer_schema_length": None} if parses == 2 else
                         {"infer_schema_length": FIRST_ROWS})
    _assert_same(got, chunk)


@needs_scanner
def test_a_list_first_seen_empty_is_parsed_again_when_it_holds_values(monkeypatch):
    """Given ``list[null]`` polars reads ``["x"]`` as ``[null]``: such a schema is not kept."""
    recs = [{"response": "t", "tags": []} for _ in range(FIRST_ROWS + 5)]
    recs[-1]["tags"] = ["x", "y"]
    chunk = _chunk(recs)
    _assert_same(read_lines(chunk), chunk)
    hint = SchemaHint()
    hint.keep(pl.Schema({"response": pl.String, "tags": pl.List(pl.Null)}))
    assert hint.schema is None
    hint.keep(pl.Schema({"response": pl.String, "step": pl.Null}))
    assert hint.schema == pl.Schema({"response": pl.String})   # top-level nulls are dropped


@needs_scanner
def test_a_clean_chunk_is_parsed_once_and_lends_its_schema_to_the_next(monkeypatch):
    first, second = _chunk(_BASE), _chunk(_late(lambda r: r.update(extra=None)))
    calls = []
    real = pl.read_ndjson
    monkeypatch.setattr(pl, "read_ndjson", lambda *a, **k: calls.append(k) or real(*a, **k))
    hint, third = SchemaHint(), _chunk(_late(lambda r: r.update(extra="now a text")))
    got = [read_lines(c, hint) for c in (first, second)]
    assert calls == [{"infer_schema_length": FIRST_ROWS}, {"schema": hint.schema}]
    got.append(read_lines(third, hint))   # a key the hint lacks: parsed again
    assert len(calls) == 4 and calls[-1] == {"infer_schema_length": None}
    assert "extra" in hint.schema
    for frame, chunk in zip(got, (first, second, third)):  # a new key valued null: as absent
        _assert_same(frame, chunk)


def test_without_the_scanner_every_schema_is_inferred_in_full(monkeypatch):
    monkeypatch.setattr(jsonkeys, "_library", lambda: None)
    calls = []
    real = pl.read_ndjson
    monkeypatch.setattr(pl, "read_ndjson", lambda *a, **k: calls.append(k) or real(*a, **k))
    chunk = _chunk(_late(_LATE_CASES["a new top-level key"][0]))
    got = read_lines(chunk)
    assert calls == [{"infer_schema_length": None}]
    _assert_same(got, chunk)
    assert key_count(chunk) is None
