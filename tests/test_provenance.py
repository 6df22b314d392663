"""reasonlens.provenance.input_records: the one way every stage records its inputs."""

from __future__ import annotations

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
