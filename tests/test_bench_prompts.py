"""Prompt templates: versioned TOML files rendered without touching LaTeX braces."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasonlens.problems import list_templates, load_benchmark, load_template, render_prompt
from reasonlens.errors import ConfigError, UnknownNameError

FIX = Path(__file__).parent / "fixtures" / "bench"


def test_shipped_templates_are_versioned():
    assert {"boxed_cot", "gpqa_letter", "r1_think"} <= set(list_templates())
    for name in ("boxed_cot", "gpqa_letter", "r1_think"):
        t = load_template(name)
        rec = t.record()
        assert rec["kind"] == "template" and rec["version"] and len(rec["sha256"]) == 64


def test_boxed_cot_renders_the_r1_instruction_and_keeps_braces():
    row = {"problem_id": "1", "problem": "Find $\\frac{a}{b}$ where {x} and {problem} appear."}
    msgs = render_prompt(row, "boxed_cot")
    assert msgs == [{"role": "user", "content":
                     "Find $\\frac{a}{b}$ where {x} and {problem} appear.\nPlease reason step by "
                     "step, and put your final answer within \\boxed{}."}]


def test_r1_think_forces_a_think_prefix():
    msgs = render_prompt({"problem": "2+2?"}, "r1_think")
    assert msgs[-1] == {"role": "assistant", "content": "<think>\n"}
    assert msgs[0]["role"] == "user"


def test_gpqa_letter_shows_choices_in_the_recorded_order():
    df = load_benchmark("gpqa_diamond", FIX / "gpqa_mini.csv")
    row = df.row(0, named=True)
    text = render_prompt(row, "gpqa_letter")[0]["content"]
    import orjson

    choices = orjson.loads(row["choices"])
    for letter, c in zip("ABCD", choices):
        assert f"{letter}) {c}" in text
    assert "Answer: $LETTER" in text and "one of ABCD" in text
    with pytest.raises(ConfigError, match="needs choices"):
        render_prompt({"problem": "x", "problem_id": "p"}, "gpqa_letter")


def test_user_templates_by_path_and_errors(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text('name = "mine"\nversion = "0.1"\nsystem = "Be brief."\n'
                 'user = "Q: {problem}\\nA:"\n')
    msgs = render_prompt({"problem": "1+1"}, str(p))
    assert msgs == [{"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Q: 1+1\nA:"}]
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\nversion = "1"\nuser = "no placeholder"\n')
    with pytest.raises(ConfigError, match="problem"):
        load_template(str(bad))
    with pytest.raises(UnknownNameError):
        load_template("no_such_template")
