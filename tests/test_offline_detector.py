"""The offline behaviour detector: planted cues, output contract, determinism, no API needed."""

from __future__ import annotations

import json

import polars as pl
import pytest

from reasonlens.errors import ConfigError
from reasonlens.judge import offline
from reasonlens.judge.gold import load_gold
from reasonlens.judge.sentences import find_quote, split_sentences

EXPECTED_SCHEMA = {
    "id": pl.String, "model": pl.String, "benchmark": pl.String, "problem_id": pl.String,
    "sample": pl.Int64,
    "multi_perspective_count": pl.Int64, "multi_perspective_status": pl.String,
    "multi_perspective_instances": pl.String,
    "metacognitive_count": pl.Int64, "metacognitive_status": pl.String,
    "metacognitive_instances": pl.String,
    "judge": pl.String, "n_chunks": pl.Int64,
}

PLANTED = (
    "Okay, so we need the sum of the roots. By Vieta the sum is 7.\n"
    "Wait, that can't be right, the leading coefficient is 2.\n"
    "So the sum is 7/2.\n"
    "Alternatively, I could factor the quadratic directly: (2x - 1)(x - 3).\n"
    "The roots are 1/2 and 3, and 1/2 + 3 = 7/2.\n"
    "Let me double-check the factorization: 2x^2 - 7x + 3. Yes.\n"
)
PLAIN = ("We factor 360 = 2^3 * 3^2 * 5. The number of divisors is 4 * 3 * 2 = 24. "
         "The answer is 24.")


def _traces(responses: list[str | None]) -> pl.DataFrame:
    n = len(responses)
    return pl.DataFrame({"id": [f"r{i}" for i in range(n)], "model": ["m"] * n,
                         "benchmark": ["b"] * n, "problem_id": [f"p{i}" for i in range(n)],
                         "sample": list(range(n)), "response": responses},
                        schema={"id": pl.String, "model": pl.String, "benchmark": pl.String,
                                "problem_id": pl.String, "sample": pl.Int64,
                                "response": pl.String})


@pytest.fixture(scope="module")
def result() -> pl.DataFrame:
    return offline.detect(_traces([PLANTED, PLAIN, None, "   "]))


def test_output_columns_and_dtypes_are_the_agreed_ones(result):
    assert dict(result.schema) == EXPECTED_SCHEMA
    assert result.get_column("id").to_list() == ["r0", "r1", "r2", "r3"]
    assert set(result.get_column("judge")) == {offline.JUDGE_NAME}
    assert offline.JUDGE_NAME.startswith("offline-detector@")


def test_detects_planted_cues_and_quotes_their_sentences(result):
    row = result.row(0, named=True)
    mc = json.loads(row["metacognitive_instances"])
    mp = json.loads(row["multi_perspective_instances"])
    assert row["metacognitive_count"] == len(mc) == 2
    assert row["multi_perspective_count"] == len(mp) == 1
    assert mp[0]["quote"].startswith("Alternatively, I could factor")
    assert [m["quote"][:5] for m in mc] == ["Wait,", "Let m"]
    sents = split_sentences(PLANTED)
    for m in mc + mp:
        s = sents[m["sentence"] - 1]  # 1-based, the judge's numbering
        assert s.text == m["quote"] and m["chunk"] is None
        assert find_quote(PLANTED, m["quote"]) == (s.start, s.end)


def test_plain_response_has_zero_counts(result):
    row = result.row(1, named=True)
    assert row["multi_perspective_count"] == 0 and row["metacognitive_count"] == 0
    assert row["metacognitive_status"] == "ok" and row["n_chunks"] == 1


def test_empty_responses_are_missing_not_zero(result):
    for i in (2, 3):
        row = result.row(i, named=True)
        for b in ("multi_perspective", "metacognitive"):
            assert row[f"{b}_count"] is None and row[f"{b}_status"] == "skipped"
        assert row["n_chunks"] == 0


def test_filler_wait_and_task_checks_are_not_cues():
    assert offline.cue_hits("Wait, so then the next term is 11.", "metacognitive") == []
    assert offline.cue_hits("Wait, the sign.", "metacognitive") == ["wait"]
    assert offline.cue_hits("Let me try 7: 7 × 1427 = 9989.", "multi_perspective") == []
    assert offline.cue_hits("I used 9 choices instead of 10.", "multi_perspective") == []
    assert "instead" in offline.cue_hits("Let me try coordinates instead.", "multi_perspective")


def test_deterministic_across_retraining():
    frame = _traces([PLANTED, PLAIN] + [r["response"] for r in load_gold(split="test")[:6]])
    a = offline.detect(frame)
    offline._trained.cache_clear()
    b = offline.detect(frame)
    assert a.equals(b)
    models, _ = offline.trained_models(offline.OfflineConfig())
    p1 = offline.score_sentences(["Let me verify that."], models)
    offline._trained.cache_clear()
    p2 = offline.score_sentences(["Let me verify that."],
                                 offline.trained_models(offline.OfflineConfig())[0])
    assert p1 == p2


def test_trained_on_the_train_split_only(tmp_path):
    """Poisoning the test split of a copy of the gold file changes nothing."""
    from reasonlens.judge.gold import DEFAULT_GOLD

    lines = DEFAULT_GOLD.read_text().splitlines()
    poisoned = []
    for line in lines:
        rec = json.loads(line)
        if rec["split"] == "test":
            for b in ("multi_perspective", "metacognitive"):
                rec["labels"][b] = {"count": 0, "instances": []}
        poisoned.append(json.dumps(rec))
    p = tmp_path / "poisoned.jsonl"
    p.write_text("\n".join(poisoned) + "\n")
    frame = _traces([PLANTED, PLAIN])
    a = offline.detect(frame)
    b = offline.detect(frame, offline.OfflineConfig(gold_path=str(p)))
    assert a.drop("judge").equals(b.drop("judge"))
    rec = offline.provenance_record(offline.OfflineConfig(gold_path=str(p)))
    assert rec["trained_on"]["split"] == "train" and rec["approximate"] is True


def test_merge_adjacent_counts_episodes():
    text = "Wait, is that right? Let me double-check it. So 5."
    split = offline.detect(_traces([text]))
    merged = offline.detect(_traces([text]), offline.OfflineConfig(merge_adjacent=True))
    assert split["metacognitive_count"][0] == 2
    assert merged["metacognitive_count"][0] == 1


def test_config_errors_and_missing_gold(tmp_path):
    with pytest.raises(ConfigError):
        offline.OfflineConfig(threshold=1.5)
    with pytest.raises(ConfigError, match="gold"):
        offline.detect(_traces([PLAIN]), offline.OfflineConfig(gold_path=str(tmp_path / "x")))
    with pytest.raises(ConfigError, match="response"):
        offline.detect(pl.DataFrame({"id": ["a"]}))


def test_needs_no_network(monkeypatch):
    import socket

    def refuse(*a, **k):
        raise AssertionError("the offline detector opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    offline._trained.cache_clear()
    out = offline.detect(_traces([PLANTED]))
    assert out["metacognitive_count"][0] >= 1


def test_combined_cue_regex_agrees_with_the_named_cues():
    sentences = [s.text for r in load_gold(split="train")[:20]
                 for s in split_sentences(r["response"])]
    sentences += ["Wait, so x = 2.", "Hmm, wait, is that right?", "Check: 2 + 2 = 4.",
                  "Alternatively, use the formula.", "We check whether 91 is prime."]
    for b in ("multi_perspective", "metacognitive"):
        for s in sentences:
            assert bool(offline.cue_hits(s, b)) == (offline._ANY_CUE[b].search(s) is not None), s
