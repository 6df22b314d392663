"""Chunking and cross-border merging of judge instances (pure)."""

from __future__ import annotations

import polars as pl
import pytest

from reasonlens.errors import ConfigError
from reasonlens.judge.chunking import (Chunk, ChunkConfig, Sentence, chunk_text, merge_instances,
                                       sentence_at, split_sentences)


def _para(i: int, n: int = 6) -> str:
    return " ".join(f"Paragraph {i} sentence {j} says something about x{i}{j}." for j in range(n))


def test_split_sentences_spans_and_paragraphs():
    text = "Let x = 3.14 today. Wait, is that right?\n\n  Yes! (It is.) e.g. fine\nNext line"
    got = [(s.index, text[s.start:s.end], s.paragraph) for s in split_sentences(text)]
    assert got == [(1, "Let x = 3.14 today.", 0), (2, "Wait, is that right?", 0),
                   (3, "Yes!", 1), (4, "(It is.) e.g. fine", 1), (5, "Next line", 1)]


def test_short_text_is_one_chunk():
    text = "  One. Two.  "
    assert chunk_text(text) == [Chunk(0, 2, 11, "One. Two.", 1, 2, 2)]
    assert chunk_text("   \n ") == []


def test_long_text_chunks_cover_everything_within_budget_with_overlap():
    text = "\n\n".join(_para(i) for i in range(30))
    cfg = ChunkConfig(max_chunk_tokens=200, overlap_tokens=40, chars_per_token=4.0)
    chunks = chunk_text(text, cfg)
    assert len(chunks) > 5
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for a, b in zip(chunks, chunks[1:]):
        assert b.start < a.end, "consecutive chunks overlap"
        assert b.start > a.start, "progress"
        assert b.overlap_end == a.end
        assert (a.end - b.start) / 4.0 <= 40 + 1
    for c in chunks:
        assert c.text == text[c.start:c.end]
        assert len(c.text) / 4.0 <= 200 + 1
    covered = set()
    for c in chunks:
        covered.update(range(c.start, c.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_chunks_prefer_paragraph_ends():
    text = "\n\n".join(_para(i, 3) for i in range(10))  # ~170 chars per paragraph
    cfg = ChunkConfig(max_chunk_tokens=120, overlap_tokens=0, chars_per_token=4.0)
    chunks = chunk_text(text, cfg)
    for c in chunks[:-1]:
        assert text[c.end:c.end + 2] == "\n\n", c


def test_overlong_sentence_is_hard_split_and_custom_counter_used():
    text = " ".join(["word"] * 500)  # one sentence, 500 tokens with a word counter
    chunks = chunk_text(text, ChunkConfig(max_chunk_tokens=100, overlap_tokens=10),
                        count_tokens=lambda t: len(t.split()))
    assert all(len(c.text.split()) <= 100 for c in chunks)
    assert len(chunks) >= 5
    assert {c.first_sentence for c in chunks} == {1}


def test_config_validation():
    with pytest.raises(ConfigError, match="overlap"):
        ChunkConfig(max_chunk_tokens=100, overlap_tokens=60)
    with pytest.raises(ConfigError, match="max-chunk-tokens"):
        ChunkConfig(max_chunk_tokens=4)


def test_sentence_at():
    sents = [Sentence(1, 0, 5, 0), Sentence(2, 7, 12, 0)]
    assert [sentence_at(sents, o) for o in (0, 4, 5, 6, 7, 11, 40)] == [1, 1, 2, 2, 2, 2, 2]


def test_merge_drops_duplicate_in_overlap_only():
    c0 = Chunk(0, 0, 100, "", 1, 5, 0)
    c1 = Chunk(1, 80, 200, "", 5, 9, 100)
    per = [[{"quote": "a", "sentence": 5, "start": 85, "end": 95},
            {"quote": "b", "sentence": 2, "start": 10, "end": 20}],
           [{"quote": "a2", "sentence": 5, "start": 6, "end": 14},    # same sentence, overlap
            {"quote": "c", "sentence": 8, "start": 50, "end": 60},    # outside the overlap
            {"quote": "d", "sentence": None, "start": None, "end": None}]]
    merged = merge_instances([c0, c1], per)
    assert merged == [
        {"quote": "b", "sentence": 2, "start": 10, "end": 20, "chunk": 0},
        {"quote": "a", "sentence": 5, "start": 85, "end": 95, "chunk": 0},
        {"quote": "c", "sentence": 8, "start": 130, "end": 140, "chunk": 1},
        {"quote": "d", "sentence": None, "start": None, "end": None, "chunk": 1}]


def test_merge_keeps_two_instances_of_the_same_chunk_in_one_sentence():
    c0 = Chunk(0, 0, 50, "", 1, 2, 0)
    per = [[{"quote": "x", "sentence": 1, "start": 0, "end": 3},
            {"quote": "y", "sentence": 1, "start": 5, "end": 8}]]
    assert [m["quote"] for m in merge_instances([c0], per)] == ["x", "y"]


def test_response_merge_missing_never_zero():
    from reasonlens.judge.request import Judgment
    from reasonlens.judge.run import _merge

    c0, c1 = Chunk(0, 0, 100, "", 1, 5, 0), Chunk(1, 80, 200, "", 5, 9, 100)
    ok0 = Judgment("ok", 1, ({"quote": "a", "sentence": 5, "start": 85, "end": 95},))
    ok1 = Judgment("ok", 2, ({"quote": "a", "sentence": 5, "start": 5, "end": 15},
                             {"quote": "c", "sentence": 8, "start": 50, "end": 60}))
    status, merged, bare, reason, raw = _merge({0: ok0, 1: ok1}, [c0, c1])
    assert (status, bare, reason, raw) == ("ok", 0, None, None)
    assert [m["quote"] for m in merged] == ["a", "c"]
    bad = Judgment("parse_error", None, reason="no JSON", raw="blah")
    status, merged, bare, reason, raw = _merge({0: ok0, 1: bad}, [c0, c1])
    assert (status, reason, raw) == (
        "parse_error", "chunk 1: parse_error: no JSON", '[{"chunk":1,"raw":"blah"}]')
    err = Judgment("error", None, reason="HTTP 500")
    assert _merge({0: err, 1: bad}, [c0, c1])[0] == "error"
    assert _merge({}, []) == ("skipped", [], 0, "empty text", None)
    assert _merge({0: ok0}, [c0, c1])[0] == "error"  # a chunk never judged


def test_counts_are_missing_never_zero_and_in_the_unit():
    """build_frames: a failed chunk makes the count null; ok counts follow the unit."""
    import polars as pl

    from reasonlens.judge.request import Judgment
    from reasonlens.judge.run import build_frames
    from reasonlens.judge.taxonomy import load_taxonomy

    tax = load_taxonomy("paper")
    c0 = Chunk(0, 0, 100, "", 1, 9, 0)
    insts = tuple({"quote": q, "sentence": i, "start": 10 * i, "end": 10 * i + 5}
                  for q, i in (("a", 2), ("b", 3), ("c", 7)))
    traces = pl.DataFrame({"id": ["r0", "r1"], "response": ["x", "y"]})
    results = {(0, "metacognitive"): {0: Judgment("ok", 3, insts)},
               (1, "metacognitive"): {0: Judgment("parse_error", None, reason="bad", raw="?")}}
    for unit, want in (("episodes", 2), ("sentences", 3)):
        frame, inst, _ = build_frames(traces, ["metacognitive"], results, [[c0], [c0]],
                                      judge="llm:x", tax=tax, mode="count", unit=unit)
        assert frame.get_column("metacognitive_count").to_list() == [want, None]
        assert frame.get_column("metacognitive_sentences").to_list() == [3, None]
        assert set(frame.get_column("count_unit")) == {unit}
    assert inst.get_column("episode").to_list() == [1, 1, 2]


@pytest.mark.parametrize("text, spans", [
    ('He said "hi." Then left.', [(0, 12, 0), (14, 24, 0)]),  # closing quote: in no sentence
    ("x. ! Y and z", [(0, 2, 0), (3, 4, 0), (5, 12, 0)]),     # a boundary right after another
    ("A.\n\n\nB", [(0, 2, 0), (5, 6, 1)]),                     # blank lines: one paragraph break
    ("\n\nA b.  C d!\n \n\nE f?", [(2, 6, 1), (8, 12, 1), (16, 20, 2)]),
    ("e.g. this and 3.14 ok. Next.", [(0, 22, 0), (23, 28, 0)]),
    ("A.) (B) c.", [(0, 2, 0), (4, 10, 0)]),
    ("Wait... Hmm? Yes! ok", [(0, 7, 0), (8, 12, 0), (13, 20, 0)]),
    ("\u201cQuote.\u201d Next", [(0, 13, 0)]),
])
def test_the_one_splitter_on_edge_cases(text, spans):
    """Pinned outputs of the sentence rule (computed by the former regex implementation); the
    vectorised split_many is the only implementation, split_sentences wraps it."""
    from reasonlens.judge.sentences import split_many

    got = [(s.start, s.end, s.paragraph) for s in split_sentences(text)]
    assert got == spans
    many = split_many([text, None, text])
    assert many.filter(pl.col("row") == 2).select("start", "end", "paragraph").rows() == spans
    assert many.filter(pl.col("row") == 1).height == 0
