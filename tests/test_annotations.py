"""The gold set, its schema and the guidelines: valid, consistent, in sync with the rubrics."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from reasonlens.errors import InputError
from reasonlens.judge import gold as goldmod
from reasonlens.registry import load
from reasonlens.schema import BEHAVIOURS

ROOT = Path(__file__).resolve().parents[1]
ANN = ROOT / "annotations"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [json.loads(line) for line in (ANN / "gold.jsonl").read_text().splitlines()
            if line.strip()]


def test_every_record_validates_against_the_schema(records):
    schema = json.loads((ANN / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for rec in records:
        errors = [e.message for e in validator.iter_errors(rec)]
        assert not errors, (rec["id"], errors)


def test_schema_rejects_a_bad_record(records):
    validator = jsonschema.Draft202012Validator(json.loads((ANN / "schema.json").read_text()))
    bad = json.loads(json.dumps(records[0]))
    bad["style"] = "chatty"
    del bad["labels"]["metacognitive"]
    assert len(list(validator.iter_errors(bad))) == 2


def test_spans_match_quotes_and_counts(records):
    n_instances = 0
    for rec in records:
        text = rec["response"]
        for b in BEHAVIOURS:
            lab = rec["labels"][b]
            assert lab["count"] == len(lab["instances"]), (rec["id"], b)
            for inst in lab["instances"]:
                assert text[inst["start"]:inst["end"]] == inst["quote"], (rec["id"], b, inst)
                assert inst["quote"] == inst["quote"].strip(), (rec["id"], inst["quote"])
                n_instances += 1
    assert n_instances >= 100


def test_size_styles_split_and_balance(records):
    assert len(records) >= 60
    assert len({r["id"] for r in records}) == len(records)
    assert len({r["problem"] for r in records}) == len(records), "every response has its own problem"
    styles = Counter(r["style"] for r in records)
    assert set(styles) == {"base", "distilled", "rl"} and min(styles.values()) >= 20
    splits = Counter((r["style"], r["split"]) for r in records)
    for style in styles:
        assert splits[(style, "test")] >= 6 and splits[(style, "train")] >= 12, splits
    # both behaviours present and absent, in both splits
    for split in ("train", "test"):
        sub = [r for r in records if r["split"] == split]
        for b in BEHAVIOURS:
            present = sum(r["labels"][b]["count"] > 0 for r in sub)
            assert 0 < present < len(sub), (split, b, present)
    words = [len(r["response"].split()) for r in records]
    assert min(words) >= 80 and max(words) <= 600


def test_loader_agrees_with_the_file_and_filters_splits(records):
    assert len(goldmod.load_gold()) == len(records)
    test = goldmod.load_gold(split="test")
    assert test and all(r["split"] == "test" for r in test)
    assert len(test) + len(goldmod.load_gold(split="train")) == len(records)


def test_gold_file_is_built_from_the_marked_up_sources():
    versions = {load("rubric", b).version for b in BEHAVIOURS}
    assert len(versions) == 1
    built = goldmod.dumps_gold(goldmod.build_gold(guidelines_version=versions.pop()))
    assert built == (ANN / "gold.jsonl").read_bytes(), \
        "annotations/gold.jsonl is out of date: run python annotations/build_gold.py"


def test_guidelines_quote_the_rubric_definitions_verbatim():
    text = (ANN / "GUIDELINES.md").read_text(encoding="utf-8")
    for b in BEHAVIOURS:
        rubric = load("rubric", b).content
        for key in ("definition", "count_rule"):
            m = re.search(rf"<!-- rubric:{b}:{key} -->\n(.*?)\n<!-- /rubric:{b}:{key} -->",
                          text, re.S)
            assert m, f"GUIDELINES.md lacks the {b} {key} block"
            assert m.group(1) == rubric[key].strip(), f"{b} {key} differs from the rubric file"
        assert rubric["title"] in text
        for ex in rubric["positive_examples"] + rubric["negative_examples"]:
            assert ex["quote"] in text


def test_rubric_files_have_the_agreed_keys():
    for b in BEHAVIOURS:
        df = load("rubric", b)
        c = df.content
        assert c["behaviour"] == b and df.name == b
        assert c["title"] in ("Multi-Perspective Thinking or Attempting",
                              "Metacognitive Awareness")
        for key in ("definition", "count_rule", "notes"):
            assert isinstance(c[key], str) and len(c[key]) > 100, key
        for key in ("positive_examples", "negative_examples"):
            assert len(c[key]) >= 4
            assert all(ex["quote"] and ex["why"] for ex in c[key])


def test_markup_parser_offsets_nesting_and_errors():
    clean, spans = goldmod.parse_markup("So x = 3. ⟦mc|Wait, ⟦mp|let me try y⟧ instead.⟧ Done.")
    assert clean == "So x = 3. Wait, let me try y instead. Done."
    (mc,), (mp,) = spans["metacognitive"], spans["multi_perspective"]
    assert clean[mc.start:mc.end] == mc.quote == "Wait, let me try y instead."
    assert clean[mp.start:mp.end] == "let me try y"
    with pytest.raises(InputError, match="unclosed"):
        goldmod.parse_markup("⟦mc|never closed")
    with pytest.raises(InputError, match="bad mark"):
        goldmod.parse_markup("⟦xx|what⟧")


def test_loader_names_file_line_and_field(tmp_path, records):
    rec = json.loads(json.dumps(records[1]))
    rec["labels"]["metacognitive"]["instances"].append(
        {"start": 0, "end": 5, "quote": "nope!"})
    rec["labels"]["metacognitive"]["count"] += 1
    p = tmp_path / "g.jsonl"
    p.write_text(json.dumps(records[0]) + "\n" + json.dumps(rec) + "\n")
    with pytest.raises(InputError) as ei:
        goldmod.load_gold(p)
    assert ei.value.line == 2 and "quote" in ei.value.field and str(p) in str(ei.value)


def test_split_assignment_keeps_recorded_splits(records):
    flipped = {r["id"]: ("train" if r["split"] == "test" else "test") for r in records[:5]}
    out = goldmod.assign_splits(records, flipped)
    for r in out[:5]:
        assert r["split"] == flipped[r["id"]]
    fresh = goldmod.assign_splits(records, {})
    per_style = Counter((r["style"], r["split"]) for r in fresh)
    for style in ("base", "distilled", "rl"):
        n = per_style[(style, "test")] + per_style[(style, "train")]
        assert abs(per_style[(style, "test")] - n / 3) <= 1
