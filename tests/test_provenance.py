"""reasonlens.provenance.input_records: the one way every stage records its inputs."""

from __future__ import annotations

import os

import pytest

from reasonlens.provenance import InputHasher, file_hash, frame_record, input_records


def test_files_directories_and_dataset_ids(tmp_path):
    (tmp_path / "d").mkdir()
    a, b = tmp_path / "d" / "a.jsonl", tmp_path / "d" / "b.parquet"
    a.write_text('{"response": "x"}\n')
    b.write_bytes(b"PAR1")
    recs = input_records([str(tmp_path / "d"), "org/some-dataset"])
    assert [r["path"] for r in recs] == [str(a), str(b), "org/some-dataset"]
    assert recs[0] == {"path": str(a), "bytes": a.stat().st_size, "hash": file_hash(a)}
    assert recs[2]["hash"] is None and "not hashed" in recs[2]["note"]
    # a directory records the same hashes as its files given one by one
    assert input_records([str(a), str(b)]) == recs[:2]
    assert input_records(str(a), max_bytes=4)[0]["hash"].endswith(":first4")


def test_background_hasher_and_frames(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text("{}\n")
    h = InputHasher([str(p)])
    h.start()
    h.join()
    assert h.records == input_records([str(p)])
    r = frame_record(["a", "b"], 2)
    assert r["rows"] == 2 and r["hash"] != frame_record(["a", "c"], 2)["hash"]


def _stream_hash(path, name: str, max_bytes: int | None = None) -> str:
    """SHA-256 of the name and the content, in whole MiB blocks up to max_bytes (the rule)."""
    import hashlib

    data = path.read_bytes()
    if max_bytes is not None:
        data = data[:-(-max_bytes // (1 << 20)) * (1 << 20)]
    return "sha256:" + hashlib.sha256(name.encode() + data).hexdigest()


def test_file_hash_mapped_in_windows_and_read_when_not_mappable(tmp_path, monkeypatch):
    import mmap

    from reasonlens import provenance

    p = tmp_path / "t.jsonl"
    p.write_bytes(bytes(range(256)) * 20_000)  # 5.1 MB: several windows of 2 MiB
    monkeypatch.setattr(provenance, "_WINDOW", 2 << 20)
    want = _stream_hash(p, "t.jsonl")
    assert file_hash(p) == want
    assert file_hash(p, max_bytes=(1 << 20) + 1) == _stream_hash(p, "t.jsonl", (1 << 20) + 1) \
        + f":first{(1 << 20) + 1}"

    def unmappable(*args, **kwargs):
        raise OSError("not mappable")

    monkeypatch.setattr(mmap, "mmap", unmappable)
    assert file_hash(p) == want
    assert file_hash(p, max_bytes=5).startswith(_stream_hash(p, "t.jsonl", 5))
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    assert file_hash(empty) == _stream_hash(empty, "e.jsonl")


def test_a_hasher_started_ahead_is_handed_over_unless_its_file_changed(tmp_path):
    from reasonlens import provenance

    p = tmp_path / "t.jsonl"
    p.write_text('{"response": "a"}\n')
    InputHasher.ahead([str(p)])
    early = InputHasher.started([str(p)])
    early.join()
    assert early.records == input_records([str(p)])
    assert InputHasher.started([str(p)]) is not early   # handed over once only

    InputHasher.ahead([str(p)])
    p.write_text('{"response": "changed"}\n')
    os.utime(p, ns=(1, 1))                               # even within the clock's resolution
    late = InputHasher.started([str(p)])
    late.join()
    assert late.records == input_records([str(p)]) != early.records
    InputHasher.ahead([str(tmp_path)])                   # a directory is not hashed ahead
    assert (str(tmp_path),) not in provenance._AHEAD
    other = tmp_path / "u.jsonl"
    other.write_text("{}\n")
    InputHasher.ahead([str(p)])
    InputHasher.ahead([str(other)])                      # one held at a time
    assert list(provenance._AHEAD) == [(str(other),)]


@pytest.mark.timeout(30)   # reading a pipe with no writer would block
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_pipe_is_recorded_unhashed_and_left_to_its_reader(tmp_path):
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    rec = input_records([str(fifo)])[0]   # returns at once: nothing is read from the pipe
    assert rec["hash"] is None and "not a regular file" in rec["note"]
