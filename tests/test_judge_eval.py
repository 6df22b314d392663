"""judge-eval: metrics on hand-made cases with known values, the CLI, and the offline detector's
agreement on the gold test split."""

from __future__ import annotations

import json

import numpy as np
import orjson
import polars as pl
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from reasonlens.cli import cli
from reasonlens.io import parquet_provenance, read_json, write_parquet
from reasonlens.judge import agreement as ag
from reasonlens.judge.gold import load_gold
from reasonlens.schema import BEHAVIOURS

TEXT = "First we factor. Wait, that is wrong. Alternatively, use Vieta. Let me check: 3 + 4 = 7."
#        sentences:  1                  2                     3                     4


def _gold_rec(rid: str, style: str, mc: list[str], mp: list[str], text: str = TEXT) -> dict:
    def spans(quotes):
        out = []
        for q in quotes:
            i = text.index(q)
            out.append({"start": i, "end": i + len(q), "quote": q})
        return {"count": len(out), "instances": out}
    return {"id": rid, "style": style, "split": "test", "problem": "p", "response": text,
            "labels": {"metacognitive": spans(mc), "multi_perspective": spans(mp)},
            "annotator": "t", "notes": None}


def _judged(rows: list[dict]) -> pl.DataFrame:
    out = []
    for r in rows:
        row = {"id": r["id"], "model": "m", "benchmark": "b", "problem_id": r["id"], "sample": 0,
               "judge": "test-judge", "n_chunks": 1}
        for b in BEHAVIOURS:
            inst = r.get(b)
            row[f"{b}_count"] = None if inst is None else len(inst)
            row[f"{b}_status"] = r.get("status", "ok") if inst is not None else "parse_error"
            row[f"{b}_instances"] = orjson.dumps(inst or []).decode()
        out.append(row)
    return pl.DataFrame(out)


# ------------------------------------------------------------------ metrics with known values


def test_kappa_known_values_and_sklearn_equivalence():
    g = np.array([1, 1, 0, 0])
    p = np.array([1, 0, 0, 0])
    # po = 0.75, pe = 0.5 * 0.25 + 0.5 * 0.75 = 0.5  ->  kappa = 0.5
    assert ag._kappa_np(g, p) == pytest.approx(0.5)
    # perfectly reversed, three uniform classes: quadratic kappa = 1 - (8/3)/(12/9) = -1
    assert ag._kappa_np(np.array([0, 1, 2]), np.array([2, 1, 0]), "quadratic") == pytest.approx(-1)
    assert ag._kappa_np(np.array([0, 1, 2]), np.array([0, 1, 2]), "quadratic") == pytest.approx(1)
    assert ag._kappa_np(np.array([1, 1]), np.array([1, 1])) is None  # one class: undefined
    rng = np.random.default_rng(1)
    for _ in range(50):
        a, b = rng.integers(0, 5, 30), rng.integers(0, 5, 30)
        assert ag._kappa_np(a, b, "quadratic") == pytest.approx(
            cohen_kappa_score(a, b, weights="quadratic"))
        assert ag._kappa_np(a > 1, b > 1) == pytest.approx(cohen_kappa_score(a > 1, b > 1))
        assert ag._spearman_np(a, b) == pytest.approx(spearmanr(a, b).statistic)


def test_precision_recall_f1_known_values():
    assert ag._prf(2, 3, 4) == (pytest.approx(2 / 3), pytest.approx(0.5), pytest.approx(4 / 7))
    assert ag._prf(0, 0, 0) == (None, None, None)


def test_instance_matching_by_quote_sentence_and_unlocated():
    gold = [{"start": TEXT.index("Wait"), "end": TEXT.index("Wait") + 20, "quote": "x"},
            {"start": TEXT.index("Let me"), "end": len(TEXT), "quote": "y"}]
    pred = [{"quote": "wait,  THAT is wrong", "sentence": None},   # quote, re-spaced/re-cased
            {"quote": None, "sentence": 4},                          # sentence index only
            {"quote": "not in the text at all", "sentence": None},  # unlocatable: a false positive
            {"quote": "Wait, that is wrong.", "sentence": 2}]        # duplicate: matches nothing new
    m = ag.match_instances(TEXT, gold, pred)
    assert m == {"tp": 2, "n_pred": 4, "n_gold": 2, "n_unlocated": 1}
    assert ag.locate(TEXT, {"quote": None, "sentence": 3}) == (
        TEXT.index("Alternatively"), TEXT.index("Vieta.") + 6)


def test_evaluate_on_a_hand_made_case():
    gold = [_gold_rec("a", "base", mc=["Wait, that is wrong."], mp=[]),
            _gold_rec("b", "base", mc=[], mp=["Alternatively, use Vieta."]),
            _gold_rec("c", "rl", mc=["Wait, that is wrong.", "Let me check:"], mp=[]),
            _gold_rec("d", "rl", mc=[], mp=[])]
    judged = _judged([
        {"id": "a", "metacognitive": [{"quote": "Wait, that is wrong.", "sentence": 2}],
         "multi_perspective": []},
        {"id": "b", "metacognitive": [], "multi_perspective": [{"quote": "First we factor."}]},
        {"id": "c", "metacognitive": [{"quote": "Let me check: 3 + 4 = 7."}],
         "multi_perspective": []},
        {"id": "d", "metacognitive": None, "multi_perspective": None},  # parse error: missing
    ])
    res = ag.evaluate(gold, judged, ag.AgreementConfig(n_boot=200, seed=3))
    mc = res["behaviours"]["metacognitive"]["overall"]
    assert mc["n"] == 3 and mc["n_missing"] == 1
    # presence gold [1,0,1] vs judge [1,0,1] -> kappa 1; counts gold [1,0,2] vs judge [1,0,1]
    assert mc["kappa"]["value"] == pytest.approx(1.0)
    assert mc["mae"]["value"] == pytest.approx(1 / 3)
    assert mc["qwk"]["value"] == pytest.approx(
        cohen_kappa_score([1, 0, 2], [1, 0, 1], weights="quadratic"))
    assert mc["precision"]["value"] == pytest.approx(1.0)
    assert mc["recall"]["value"] == pytest.approx(2 / 3)
    assert mc["f1"]["value"] == pytest.approx(0.8)
    mp = res["behaviours"]["multi_perspective"]["overall"]
    assert mp["precision"]["value"] == 0.0 and mp["recall"]["value"] == 0.0
    lo, hi = mc["qwk"]["ci"]
    assert lo <= mc["qwk"]["value"] <= hi
    assert set(res["behaviours"]["metacognitive"]["by_style"]) == {"base", "rl"}
    again = ag.evaluate(gold, judged, ag.AgreementConfig(n_boot=200, seed=3))
    assert again["behaviours"] == res["behaviours"]
    table = res["table"]
    assert table.filter(pl.col("id") == "d")["pred_count"].null_count() == 2


def test_judge_that_skips_responses_is_not_scored_as_zero():
    gold = [_gold_rec("a", "base", mc=["Wait, that is wrong."], mp=[])]
    other = _judged([{"id": "someone-else", "metacognitive": [], "multi_perspective": []}])
    res = ag.evaluate(gold, other, ag.AgreementConfig(n_boot=10))
    mc = res["behaviours"]["metacognitive"]["overall"]
    assert mc["n"] == 0 and mc["n_missing"] == 1 and mc["kappa"]["value"] is None


# ------------------------------------------------------------------ the CLI


def test_cli_perfect_judge_from_a_judgments_directory(tmp_path):
    gold = load_gold(split="test")
    rows = []
    for r in gold:
        row = {"id": r["id"]}
        for b in BEHAVIOURS:
            row[b] = [{"quote": i["quote"], "sentence": None}
                      for i in r["labels"][b]["instances"]]
        rows.append(row)
    jdir = tmp_path / "judge"
    write_parquet(_judged(rows), jdir / "judgments.parquet", {"command": "judge"})
    out = tmp_path / "eval"
    res = CliRunner().invoke(cli, ["judge-eval", str(jdir), "--out", str(out), "--n-boot", "50"])
    assert res.exit_code == 0, res.output
    assert "metacognitive" in res.output and "instance F1" in res.output
    data = read_json(out / "agreement.json")
    assert data["judge"] == ["test-judge"] and data["split"] == "test"
    for b in BEHAVIOURS:
        o = data["behaviours"][b]["overall"]
        for m in ("kappa", "qwk", "spearman", "precision", "recall", "f1"):
            assert o[m]["value"] == pytest.approx(1.0), (b, m)
        assert o["mae"]["value"] == 0.0
    assert data["provenance"]["command"] == "judge-eval"
    assert data["provenance"]["inputs"][0]["judge_provenance"] == {"command": "judge"}
    assert parquet_provenance(out / "agreement_responses.parquet")["command"] == "judge-eval"


def test_cli_offline_agreement_on_the_test_split(tmp_path):
    out = tmp_path / "eval"
    res = CliRunner().invoke(cli, ["judge-eval", "offline", "--split", "test", "--out", str(out),
                                   "--n-boot", "100"])
    assert res.exit_code == 0, res.output
    data = json.loads((out / "agreement.json").read_text())
    assert data["in_sample"] is False and data["n_responses"] == len(load_gold(split="test"))
    assert data["judge"][0].startswith("offline-detector@")
    assert data["provenance"]["inputs"][0]["trained_on"]["split"] == "train"
    mc = data["behaviours"]["metacognitive"]["overall"]
    mp = data["behaviours"]["multi_perspective"]["overall"]
    # regression floors well below the figures in docs/judge-validation.md
    assert mc["kappa"]["value"] >= 0.6 and mc["f1"]["value"] >= 0.7
    assert mp["f1"]["value"] >= 0.3
    for entry in (mc, mp):
        for m in ("kappa", "qwk", "f1"):
            lo, hi = entry[m]["ci"]
            assert lo <= entry[m]["value"] <= hi


def test_cli_errors_and_help(tmp_path):
    r = CliRunner().invoke(cli, ["judge-eval", str(tmp_path / "nowhere")])
    assert r.exit_code != 0
    assert "judgments.parquet" in str(r.exception) + r.output
    h = CliRunner().invoke(cli, ["judge-eval", "--help"])
    assert h.exit_code == 0 and "--split" in h.output and "offline" in h.output


# ------------------------------------------------------------------ bad judgment files (issue 11)


def _write_judged(tmp_path, rows, name="judge"):
    jdir = tmp_path / name
    write_parquet(_judged(rows), jdir / "judgments.parquet", {"command": "judge"})
    return jdir


def _eval(jdir, *extra):
    return CliRunner().invoke(cli, ["judge-eval", str(jdir), "--n-boot", "10", *extra])


def test_duplicate_judgment_ids_are_an_error_unless_keep_first(tmp_path):
    from reasonlens.errors import InputError

    gold = load_gold(split="test")
    first = {"id": gold[0]["id"], "metacognitive": [], "multi_perspective": []}
    again = {"id": gold[0]["id"], "metacognitive": [{"quote": "x", "sentence": 1}],
             "multi_perspective": []}
    jdir = _write_judged(tmp_path, [first, again])
    res = _eval(jdir)
    assert isinstance(res.exception, InputError)
    assert f"id {gold[0]['id']!r} appears 2 times" in str(res.exception)
    assert "line 2, field 'id'" in str(res.exception)
    res = _eval(jdir, "--on-duplicate", "keep-first", "--out", str(tmp_path / "e"))
    assert res.exit_code == 0, res.output
    table = pl.read_parquet(tmp_path / "e" / "agreement_responses.parquet")
    row = table.filter((pl.col("id") == gold[0]["id"]) & (pl.col("behaviour") ==
                                                          "metacognitive")).row(0, named=True)
    assert row["pred_count"] == 0  # the first row, not the last


@pytest.mark.parametrize("change, message", [
    ({"metacognitive_count": -1}, "field 'metacognitive_count': negative count -1"),
    ({"metacognitive_count": 2, "metacognitive_instances": "[]"},
     "field 'metacognitive_count': count 2 has evidence for only 0 instances"),
    ({"metacognitive_count": None}, "status ok without a count"),
    ({"metacognitive_status": "error"}, "a count (0) on a 'error' row"),
])
def test_bad_rows_are_refused_with_file_line_and_field(tmp_path, change, message):
    from reasonlens.errors import InputError

    gold = load_gold(split="test")
    frame = _judged([{"id": r["id"], "metacognitive": [], "multi_perspective": []}
                     for r in gold[:3]])
    frame = frame.with_columns(**{k: pl.when(pl.int_range(pl.len()) == 1).then(pl.lit(v))
                                  .otherwise(pl.col(k)) for k, v in change.items()})
    jdir = tmp_path / "judge"
    write_parquet(frame, jdir / "judgments.parquet", {"command": "judge"})
    res = _eval(jdir)
    assert isinstance(res.exception, InputError), res.output
    assert "judgments.parquet, line 2" in str(res.exception) and message in str(res.exception)


@pytest.mark.parametrize("content", [b"garbage, not parquet at all", b'{"id": "a"}\n'])
def test_unreadable_judgments_file_is_one_clear_error(tmp_path, content):
    from reasonlens.errors import InputError

    p = tmp_path / "judgments.parquet"
    p.write_bytes(content)
    res = _eval(p)
    assert isinstance(res.exception, InputError)
    assert "not a readable judgments parquet file" in str(res.exception)


def test_options_of_the_other_evaluation_are_refused(tmp_path):
    from reasonlens.errors import ConfigError

    res = CliRunner().invoke(cli, ["judge-eval", "offline", "--unit", "sentences"])
    assert isinstance(res.exception, ConfigError) and "--unit is for --labels" in str(
        res.exception)
    p = tmp_path / "c.jsonl"
    p.write_text('{"trace_id": "a", "sentence": 1, "text": "x", "labels": []}\n')
    res = CliRunner().invoke(cli, ["judge-eval", "offline", "--labels", str(p), "--split",
                                   "train"])
    assert isinstance(res.exception, ConfigError) and "--split is for the gold set" in str(
        res.exception)
