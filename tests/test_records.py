"""The one JSON/JSONL reader (reasonlens.records) and the one gold normaliser (issue 15/11)."""

from __future__ import annotations

import gzip
import json

import pytest

from reasonlens.errors import InputError
from reasonlens.records import iter_json_records, loads, read_json_records, scan_append_log
from reasonlens.traces import LoadOptions, load_traces
from reasonlens.traces.model import gold_text

RECS = [{"model": "m", "problem_id": f"p{i}", "response": f"Wait {i}."} for i in range(3)]


def _gz(path, data: bytes):
    path.write_bytes(gzip.compress(data))
    return path


@pytest.mark.parametrize("name, data", [
    ("a.json", json.dumps(RECS, indent=2).encode()),
    ("b.json", json.dumps({"data": RECS}, indent=2).encode()),
    ("c.json", json.dumps({"data": RECS}).encode()),
    ("d.json", b"\n".join(json.dumps(r).encode() for r in RECS)),
    ("e.jsonl", b"\n".join(json.dumps(r).encode() for r in RECS) + b"\n"),
])
def test_json_family_layouts_give_the_same_records(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    assert read_json_records(p) == RECS
    gz = _gz(tmp_path / (name + ".gz"), data)
    assert read_json_records(gz) == RECS
    assert load_traces(str(gz))["problem_id"].to_list() == ["p0", "p1", "p2"]


def test_corrupt_and_fake_gzip_are_one_clear_error(tmp_path):
    good = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in RECS * 200))
    torn = tmp_path / "torn.jsonl.gz"
    torn.write_bytes(good[: len(good) // 2])
    with pytest.raises(InputError, match="truncated gzip file") as e:
        load_traces(str(torn))
    assert e.value.path == str(torn)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(InputError, match="gzip"):
        load_traces(str(bad))
    plain = tmp_path / "plain.jsonl.gz"
    plain.write_text(json.dumps(RECS[0]) + "\n")
    with pytest.raises(InputError, match="not a gzip file"):
        load_traces(str(plain))
    # skip mode: the readable records are kept, the broken rest is one reject
    report_rows = load_traces([str(plain), str(torn)], LoadOptions(on_error="skip"))
    assert 0 < report_rows.height < 600


def test_pretty_printed_document_errors_name_the_line(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{\n  "data": [\n    {"response": "a"},\n    {"response": }\n  ]\n}\n')
    with pytest.raises(InputError, match="broken JSON document") as e:
        read_json_records(p)
    assert e.value.line == 4


def test_bad_lines_are_yielded_as_errors_with_file_and_line(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_bytes(b'{"a": 1}\n\n{"a": \n\xff\xfe\n')
    items = list(iter_json_records(p))
    assert [i[0] for i in items] == [1, 3, 4]
    assert isinstance(items[1][1], InputError) and "line 3" in str(items[1][1])
    assert "not valid UTF-8" in str(items[2][1])
    with pytest.raises(InputError, match="expected a JSON object"):
        p.write_text('{"a": 1}\n[1, 2]\n')
        read_json_records(p)


def test_scan_append_log_repairs_only_a_torn_tail(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_bytes(b'{"k": 1}\n{"k": 2}\n{"k": ')
    keys, info = scan_append_log(p, lambda r: r["k"], what="test")
    assert keys == [1, 2] and info["repaired_bytes"] == len(b'{"k": ')
    assert p.read_bytes() == b'{"k": 1}\n{"k": 2}\n'
    p.write_bytes(b'{"k": 1}\n{"k": 3}')
    assert scan_append_log(p, lambda r: r["k"], what="test")[0] == [1, 3]
    assert p.read_bytes().endswith(b"}\n")
    p.write_bytes(b'{"k": 1}\nnot json\n{"k": 2}\n')
    with pytest.raises(InputError, match="line 2"):
        scan_append_log(p, lambda r: r["k"], what="test")


@pytest.mark.parametrize("value, expected", [
    (27.0, "27"), (70, "70"), ("025", "025"), (" 3 ", "3"), (0.5, "0.5"),
    ("080 or 081 (both were accepted)", "080 or 081"), (None, None), ("", None), ("  ", None),
    ([5], "5"), (["080", "081"], "080 or 081"), (["x+1", "y"], None),
    ({"value": 3}, None), ([{"value": 3}], None), (True, None), (float("nan"), None),
    (10**30, str(10**30)), (1e30, "1e+30")])
def test_one_gold_normaliser(value, expected):
    assert gold_text(value) == expected


def test_trace_loader_and_benchmark_loader_share_the_gold_normaliser(tmp_path):
    from reasonlens.problems.load import gold_text as problems_gold_text

    assert problems_gold_text is gold_text
    p = tmp_path / "t.jsonl"
    p.write_text("\n".join(json.dumps({"response": "r", "problem_id": str(i), "gold": g})
                           for i, g in enumerate([{"v": 1}, " 42 ", 7.0, ["3"]])) + "\n")
    assert load_traces(str(p))["gold"].to_list() == [None, "42", "7", "3"]


def test_mistyped_paths_are_never_guessed_to_be_hub_ids(tmp_path, monkeypatch):
    import time

    from reasonlens.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    for ref in ("runs/mytraces", "nosuchdir/traces"):
        t0 = time.monotonic()
        with pytest.raises(ConfigError, match=rf"input not found: {ref} \(.*hf://{ref}\)"):
            load_traces(ref)
        assert time.monotonic() - t0 < 2  # no network retries


def test_integers_beyond_64_bits_are_read_exactly(tmp_path):
    """orjson turns them into floats: 2**70 and 2**70 + 1 would be one id, 10**30 another gold."""
    assert loads(b'{"a": 1180591620717411303425, "b": "x", "c": 1.5}') == {
        "a": 2**70 + 1, "b": "x", "c": 1.5}
    p = tmp_path / "t.jsonl"
    p.write_bytes(b'{"id": 1180591620717411303424}\n{"id": 1180591620717411303425}\n')
    assert [r["id"] for _, r, _ in iter_json_records(p)] == [2**70, 2**70 + 1]


@pytest.mark.parametrize("compiled", [True, False])
def test_count_newlines_counts_across_its_steps(compiled, monkeypatch):
    """count_newlines (the loader's line count per chunk) equals bytes.count wherever the
    newlines fall: by the compiled scanner's memchr, and by numpy's steps (none, at the edges
    of a step, at the very end) where it is not built."""
    import random

    from reasonlens.records import count_newlines
    from reasonlens.traces import jsonkeys

    if compiled and jsonkeys.count_byte(b"a\nb\n", 10) is None:
        pytest.skip("the compiled JSON scanner is not built (pip install -e . builds it)")
    if compiled:
        assert jsonkeys.count_byte(b"\n\x00\n", 0) == 1
    else:
        monkeypatch.setattr(jsonkeys, "count_byte", lambda data, byte: None)
    rng = random.Random(5)
    for n in (0, 1, 7, 8, 9, 100, 1000):
        for step in (1, 8, 64, 1 << 18):
            data = bytes(rng.choice(b"ab\n\xc3\x00") for _ in range(n))
            assert count_newlines(data, step) == data.count(b"\n"), (n, step)
    assert count_newlines(b"\n" * 17, 8) == 17


@pytest.mark.parametrize("pipe", [False, True])
def test_chunks_are_whole_lines_wherever_a_read_ends(tmp_path, pipe):
    """iter_jsonl_chunks completes a read that ends inside a line (a plain file: the end of that
    line found first, then one read; a pipe, which cannot seek: by joining the parts), and the
    chunks put together are the file, with the right first line numbers: also where a read
    ends on a newline, one byte before or after it, or at the end of the file."""
    import os
    import threading

    from reasonlens.records import iter_jsonl_chunks

    lines = [json.dumps({"i": i, "t": "x" * (i % 13)}).encode() + b"\n" for i in range(200)]
    data = b"".join(lines) + b'{"last": "no newline"}'
    path = tmp_path / "t.jsonl"
    first = len(lines[0])
    for size in (1, 7, 64, 1000, first - 1, first, first + 1, len(data) - 1, len(data),
                 len(data) + 5):
        if pipe:
            path.unlink(missing_ok=True)
            os.mkfifo(path)
            writer = threading.Thread(target=path.write_bytes, args=(data,))
            writer.start()
        else:
            path.write_bytes(data)
        chunks = list(iter_jsonl_chunks(path, lambda: size))
        if pipe:
            writer.join()
        assert b"".join(c for _, c, _ in chunks) == data, size
        assert all(c.endswith(b"\n") for _, c, _ in chunks[:-1])
        firsts = [first for first, _, _ in chunks]
        assert firsts == [1 + sum(n for _, _, n in chunks[:k]) for k in range(len(chunks))]
        assert sum(n for _, _, n in chunks) == 201
