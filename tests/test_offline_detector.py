"""The offline behaviour detector: output contract, missing-not-zero, determinism, trained
detectors (save/load, taxonomies), and agreement with real human labels (schoenfeld-dev)."""

from __future__ import annotations

import json

import numpy as np
import orjson
import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.cli import cli
from reasonlens.errors import ConfigError, InputError
from reasonlens.judge import detector as D
from reasonlens.judge import offline
from reasonlens.judge.corpus import load_corpus
from reasonlens.judge.gold import load_gold
from reasonlens.judge.sentences import locate_quote, split_sentences
from reasonlens.judge.taxonomy import load_taxonomy
from reasonlens.schema import INSTANCE_SCHEMA, judgment_schema

PLANTED = (
    "Okay, so we need the sum of the roots. By Vieta the sum is 7.\n"
    "Wait, that can't be right, the leading coefficient is 2.\n"
    "So the sum is 7/2.\n"
    "Alternatively, maybe I could factor the quadratic directly: (2x - 1)(x - 3).\n"
    "The roots are 1/2 and 3, and 1/2 + 3 = 7/2.\n"
    "Let me double-check the factorization: 2x^2 - 7x + 3. Yes, that matches.\n"
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
def frames():
    return offline.detect_frames(_traces([PLANTED, PLAIN, None, "   "]))


def test_output_columns_are_the_declared_schemas(frames):
    frame, inst = frames
    assert dict(frame.schema) == judgment_schema(["multi_perspective", "metacognitive"])
    assert dict(inst.schema) == INSTANCE_SCHEMA
    assert frame.get_column("id").to_list() == ["r0", "r1", "r2", "r3"]
    assert set(frame.get_column("judge")) == {offline.JUDGE_NAME}
    assert set(frame.get_column("count_unit")) == {"episodes"}


def test_planted_cues_are_found_and_quoted_at_their_sentences(frames):
    frame, inst = frames
    row = frame.row(0, named=True)
    mc = json.loads(row["metacognitive_instances"])
    mp = json.loads(row["multi_perspective_instances"])
    assert any(m["quote"].startswith("Wait, that can't be right") for m in mc)
    assert any(m["quote"].startswith("Let me double-check") for m in mc)
    assert any(m["quote"].startswith("Alternatively") for m in mp)
    sents = split_sentences(PLANTED)
    for m in mc + mp:
        s = sents[m["sentence"] - 1]  # 1-based, the judge's numbering
        assert s.text == m["quote"] and m["chunk"] is None
        a, b = locate_quote(m["quote"], PLANTED)  # (final punctuation is not part of a quote)
        assert s.start == a and s.end - 1 <= b <= s.end
    # counts: episodes = runs of consecutive labelled sentences; sentences = labelled ones
    idx = sorted(m["sentence"] for m in mc)
    runs = sum(1 for k, i in enumerate(idx) if k == 0 or idx[k - 1] != i - 1)
    assert row["metacognitive_count"] == runs and row["metacognitive_sentences"] == len(idx)
    r0 = inst.filter((pl.col("id") == "r0") & (pl.col("behaviour") == "metacognitive"))
    assert r0.get_column("episode").max() == runs


def test_empty_responses_are_missing_not_zero(frames):
    frame, _ = frames
    assert frame.row(1, named=True)["metacognitive_status"] == "ok"
    for i in (2, 3):
        row = frame.row(i, named=True)
        for b in ("multi_perspective", "metacognitive"):
            assert row[f"{b}_count"] is None and row[f"{b}_status"] == "skipped"
        assert row["n_chunks"] == 0


def test_deterministic_across_rebuilding():
    frame = _traces([PLANTED, PLAIN] + [r["response"] for r in load_gold(split="test")[:6]])
    a = offline.detect(frame)
    offline._default.cache_clear()
    assert a.equals(offline.detect(frame))


def test_default_detector_is_fitted_on_the_gold_train_split_only():
    rec = offline.provenance_record()
    assert rec["trained_on"]["split"] == "train" and rec["approximate"] is True
    assert rec["detector"]["thresholds"] == {"multi_perspective": offline.DEFAULT_THRESHOLD,
                                             "metacognitive": offline.DEFAULT_THRESHOLD}


def _toy_corpus(path, labels=("verification", "backtracking", "subgoal_setting")):
    """A tiny hand-written gandhi-labelled sentence JSONL (machinery, not a measurement)."""
    kinds = {"verification": ["Let me verify: 3 x 8 = 24, correct.", "Check: 5 + 7 = 12, yes."],
             "backtracking": ["That does not work, so let me go back and try another way.",
                              "This approach fails; back to the start."],
             "subgoal_setting": ["First we need the radius.", "Next, find the common ratio."],
             None: ["So x = 4.", "We compute 12 / 3 = 4.", "The area is 20."]}
    rows = []
    for t in range(6):
        k = 0
        for lab in [None, labels[t % 3], None, labels[(t + 1) % 3], None, None]:
            k += 1
            rows.append({"trace_id": f"t{t}", "sentence": k,
                         "text": kinds[lab][(t + k) % len(kinds[lab])],
                         "labels": [lab] if lab else []})
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_train_save_load_and_use_a_gandhi_detector(tmp_path):
    gandhi = load_taxonomy("gandhi")
    corpus = load_corpus(_toy_corpus(tmp_path / "g.jsonl"), gandhi)
    det, cv = D.train(corpus, gandhi, config=D.DetectorConfig(folds=3, min_df=1))
    assert det.outputs == ("verification", "backtracking", "subgoal_setting",
                           "backward_chaining", "metacognitive", "multi_perspective")
    assert cv["flags"].shape == (corpus.height, len(det.outputs))
    path = D.save(det, tmp_path / "g.npz", {"ok": True})
    back = D.load_detector(path)
    assert back.sha256 == det.sha256 and D.cv_path(path).is_file()
    frame = offline.detect(_traces(["Let me verify: 2 x 6 = 12, correct. So x = 4."]),
                           offline.OfflineConfig(detector=str(path)))
    assert {"verification_count", "metacognitive_count"} <= set(frame.columns)
    assert set(frame.get_column("taxonomy")) == {"gandhi"}
    with pytest.raises(ConfigError, match="labels taxonomy 'gandhi', not 'paper'"):
        offline.load(offline.OfflineConfig(detector=str(path), taxonomy="paper"))


def test_score_behaviours_summary_records_the_effective_taxonomy_and_unit():
    """score --behaviours' summary.json said mean_per_response without the unit (its recorded
    config held unit None); the behaviour source now names taxonomy and unit."""
    import reasonlens as rl
    from reasonlens.judge.stage import behaviour_hook

    t = rl.load_traces(_traces(["Wait, let me check. Hmm, is that right? Yes."]))
    scored = rl.score(t, behaviours=True)
    src = scored.summary["behaviour_source"]
    from reasonlens.lexcount.aggregate import model_table

    cols, _ = model_table(scored.summary, list(scored.summary["lexicons"]))
    assert "metacognitive episodes/resp" in cols          # the CLI's printed table
    assert (src["taxonomy"], src["unit"]) == ("paper", "episodes") and src["unit_note"]
    _, info = behaviour_hook(unit="sentences")
    assert info["unit"] == "sentences"
    # --parts reasoning: behaviours judged on the reasoning too (their per-1k rates divide by
    # the reasoning's words); --parts answer is refused, not silently the whole response
    hook, info = behaviour_hook(parts="reasoning")
    assert info["config"]["text_field"] == "reasoning"
    t2 = rl.load_traces(_traces(["<think>Wait, let me check. Hmm.</think> Wait, let me verify "
                                 "this again: 2 + 2 = 4, correct. Hmm, am I sure? Let me "
                                 "double-check."]))
    whole = rl.score(t2, behaviours=True).responses["metacognitive_sentences"][0]
    reasoning = rl.score(t2, behaviours=True, parts="reasoning").responses
    assert reasoning["metacognitive_sentences"][0] < whole
    with pytest.raises(ConfigError, match="not with --parts answer"):
        behaviour_hook(parts="answer")
    from reasonlens.lexcount.engine import ScoreConfig
    from reasonlens.scale.batches import score_table   # the Ray path (no Ray needed here)

    ray_r = pl.from_arrow(score_table(t2.to_arrow(), config=ScoreConfig(parts="reasoning"),
                                      behaviours=True))
    assert ray_r["metacognitive_sentences"][0] == reasoning["metacognitive_sentences"][0]
    _, info = behaviour_hook(("http://127.0.0.1:9/v1",), "m", taxonomy="schoenfeld")
    assert (info["source"], info["taxonomy"], info["unit"]) == ("llm-judge", "schoenfeld",
                                                               "episodes")


def test_detector_file_is_not_pickle_and_bad_files_fail_cleanly(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ConfigError, match="not a reasonlens detector file") as e:
        D.load_detector(bad)
    assert "pickle" not in str(e.value)   # numpy's advice to load pickles unsafely is not ours


def test_corpus_reader_errors_name_file_line_and_field(tmp_path):
    gandhi = load_taxonomy("gandhi")
    p = tmp_path / "c.jsonl"
    p.write_text('{"trace_id": "a", "sentence": 1, "text": "x", "labels": []}\n'
                 '{"trace_id": "a", "sentence": 1, "text": "y", "labels": []}\n')
    with pytest.raises(InputError, match=r"c.jsonl, line 2, field 'sentence': sentence 1 of "
                                         r"trace 'a' appears twice"):
        load_corpus(p, gandhi)
    p.write_text('{"trace_id": "a", "sentence": 1, "text": "x", "label": "nope"}\n')
    with pytest.raises(InputError, match=r"line 1, field 'label': unknown label 'nope'"):
        load_corpus(p, gandhi)


# ---------------------------------------------------------------- real human labels


@pytest.fixture(scope="module")
def dev(shared_data):
    d = shared_data / "schoenfeld-dev"
    if not d.is_dir():
        pytest.skip(f"{d} is absent (the human-labelled dev corpus sits beside the checkout)")
    return d


def test_detector_trained_on_dev_by_grouped_cv_and_default_on_dev(dev, tmp_path):
    """Regression floors a little below the figures in benchmarks/offline-detector.md. The
    trained model goes to tmp_path only (the corpus has no license)."""
    out = tmp_path / "dev.npz"
    res = CliRunner().invoke(cli, ["detector", "train", str(dev), "--taxonomy", "paper",
                                   "--out", str(out), "--n-boot", "50"])
    assert res.exit_code == 0, res.output
    cv = json.loads(D.cv_path(out).read_text())
    assert cv["behaviours"]["metacognitive"]["f1"]["value"] >= 0.65
    assert cv["behaviours"]["multi_perspective"]["f1"]["value"] >= 0.55
    ev = tmp_path / "ev"
    res = CliRunner().invoke(cli, ["judge-eval", "offline", "--labels", str(dev), "--n-boot",
                                   "50", "--out", str(ev)])
    assert res.exit_code == 0, res.output
    agg = json.loads((ev / "agreement.json").read_text())
    assert agg["kind"] == "sentences" and agg["unit"] == "episodes"
    mc, mp = agg["behaviours"]["metacognitive"], agg["behaviours"]["multi_perspective"]
    assert mc["f1"]["value"] >= 0.5 and mp["f1"]["value"] >= 0.45
    for e in (mc, mp):
        lo, hi = e["f1"]["ci"]
        assert lo <= e["f1"]["value"] <= hi and e["n_traces"] == 19
    res = CliRunner().invoke(cli, ["judge-eval", str(out), "--labels", str(dev), "--n-boot",
                                   "20"])
    assert "in-sample" in res.output and "grouped cross-validation" in res.output


def test_llm_judge_output_maps_back_onto_corpus_sentences(dev, tmp_path):
    """judge-eval of a judge output over --write-traces: instance sentences land on the corpus
    sentences they came from (a perfect judge scores 1.0)."""
    from reasonlens.judge.corpus import corpus_traces, label_matrix
    from reasonlens.judge.sentence_eval import flags_from_judgments

    sch = load_taxonomy("schoenfeld")
    corpus = load_corpus(dev, sch)
    traces, spans = corpus_traces(corpus)
    gold = label_matrix(corpus, sch, ("metacognitive",))["metacognitive"]
    rows = []
    k = 0
    for tid, resp in zip(traces.get_column("id"), traces.get_column("response")):
        own = split_sentences(resp)
        n = spans.filter(pl.col("trace_id") == tid).height
        starts = spans.filter(pl.col("trace_id") == tid).get_column("start").to_list()
        inst = [{"quote": s.text, "sentence": s.index, "chunk": 0} for s in own
                if gold[k + max(i for i, a in enumerate(starts) if a <= s.start)]]
        k += n
        rows.append({"id": tid, "metacognitive_count": len(inst), "metacognitive_status": "ok",
                     "metacognitive_instances": orjson.dumps(inst).decode()})
    flags, answered, missing = flags_from_judgments(pl.DataFrame(rows), traces, spans,
                                                    ("metacognitive",))
    assert answered.all() and not missing
    assert np.array_equal(flags["metacognitive"], np.asarray(gold))
