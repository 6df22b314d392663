"""The loader's set of seen response ids (reasonlens/traces/ids.py): the same answers as a set
of strings, whichever path (a chunk at once, or one id at a time) added or looks up an id."""

import random

import polars as pl

from reasonlens.traces.ids import SeenIds, _hashes


def test_an_id_hashes_alike_alone_and_in_any_series():
    """The record-by-record lookup hashes one id alone; the chunk's ids were hashed in a long
    series (short ids inline in their views, long ones in buffers, slices, several chunks)."""
    ids = [f"m:b:p{i}:{i}" for i in range(50)] + ["x" * 40 + str(i) for i in range(50)] + [""]
    whole = pl.concat([pl.Series(ids[:60]), pl.Series(ids[60:])], rechunk=False)
    sliced = pl.Series(["pad"] + ids).slice(1)
    from_json = pl.read_ndjson(("\n".join('{"id": "%s"}' % i for i in ids)).encode())["id"]
    for series in (whole, sliced, from_json):
        h1, h2 = _hashes(series)
        for k, rid in enumerate(ids):
            a1, a2 = _hashes(pl.Series([rid], dtype=pl.String))
            assert (a1[0], a2[0]) == (h1[k], h2[k]), rid


def test_chunks_and_single_ids_give_the_answers_of_a_set():
    rng = random.Random(3)
    seen, ref = SeenIds(), set()
    pool = [f"id-{n}" for n in range(3000)]
    for step in range(300):
        if step % 3 == 0:   # one id at a time, looked up first (the record-by-record path)
            rid = rng.choice(pool)
            assert (rid in seen) == (rid in ref), rid
            if rid not in ref:
                seen.add(rid)
                ref.add(rid)
            continue
        chunk = rng.sample(pool, rng.randint(0, 12))
        if step % 7 == 0 and chunk:
            chunk.append(chunk[0])   # a repeat inside the chunk
        fresh = len(set(chunk)) == len(chunk) and ref.isdisjoint(chunk)
        assert seen.add_new(pl.Series(chunk, dtype=pl.String)) == fresh, (step, chunk)
        if fresh:
            ref.update(chunk)
        assert len(seen) == len(ref)
    assert 2 * len(seen) <= len(seen._t1)   # the table at most half full
    for rid in pool:
        assert (rid in seen) == (rid in ref), rid


def test_a_refused_chunk_keeps_none_of_its_ids():
    seen = SeenIds()
    assert seen.add_new(pl.Series(["a", "b"]))
    assert not seen.add_new(pl.Series(["c", "a"]))   # "a" seen before
    assert "c" not in seen and "a" in seen
    seen.add("d")
    assert not seen.add_new(pl.Series(["e", "d"]))   # "d" added one at a time
    assert not seen.add_new(pl.Series(["f", "f"]))
    assert "e" not in seen and "f" not in seen and len(seen) == 3
    assert seen.add_new(pl.Series([], dtype=pl.String))


def test_an_id_repeated_chunks_later_is_found_by_either_path(tmp_path, monkeypatch):
    """A 3 MB file read in several chunks through the columnar path: an id of its first chunk
    given again near the end is the error on that line, or the one row dropped (keep-first)."""
    import orjson
    import pytest

    from reasonlens.traces import columnar
    from reasonlens.traces.load import DuplicateIdError, LoadOptions, LoadReport, \
        iter_trace_batches

    n = 3000
    recs = [{"id": f"r{i}", "model": "m", "problem_id": f"p{i % 40}", "response": "word " * 200}
            for i in range(n)]
    recs.append(dict(recs[5], response="again " * 200))
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in recs))
    taken = []
    real = columnar.finish_chunk
    monkeypatch.setattr(columnar, "finish_chunk", _counting(real, taken))
    with pytest.raises(DuplicateIdError) as err:
        for _ in iter_trace_batches(str(path), LoadOptions(batch_rows=300)):
            pass
    assert err.value.line == n + 1
    assert len(taken) > 1 and taken[0], taken   # several chunks, the first one columnar
    report = LoadReport()
    rows = sum(len(b) for b in iter_trace_batches(
        str(path), LoadOptions(batch_rows=300, on_duplicate="keep-first"), report))
    assert (rows, report.n_duplicates) == (n, 1)


def _counting(real, taken):
    def finish(*a):
        frame = real(*a)
        taken.append(frame is not None)
        return frame
    return finish


def test_ids_whose_first_slots_all_agree_are_kept_and_found():
    """A run of taken slots longer than the table's rounds: the ids left after them go in one
    by one, and each is found again; a hash 2 that differs is not the same id."""
    import numpy as np

    seen = SeenIds()
    seen._grow(100)
    n = 40
    h1 = (np.uint64(7) << np.uint64(52)) + np.arange(1, n + 1, dtype=np.uint64)  # one slot
    h2 = np.arange(100, 100 + n, dtype=np.uint64)
    seen._insert(h1, h2)
    assert int((seen._t1 != 0).sum()) == n
    assert seen._found(h1, h2).all()
    assert not seen._found(h1, h2 + np.uint64(1)).any()
