"""Answer extraction and normalisation: pure, no worker processes."""

from __future__ import annotations

import time
from fractions import Fraction

import pytest

from reasonlens.grade.extract import (exact_number, extract_answer, extract_letter, find_boxed,
                                      last_boxed, normalize_integer, split_answer, vote_key)


@pytest.mark.parametrize("text, expected", [
    ("so the answer is \\boxed{73}.", "73"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("nested \\boxed{\\frac{\\sqrt{3}}{2}} done", "\\frac{\\sqrt{3}}{2}"),
    ("first \\boxed{12}, wait, actually \\boxed{13}", "13"),
    ("\\boxed 5", "5"),
    ("$\\boxed 7$.", "7"),
    ("\\fbox{42}", "42"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
    ("\\boxed{} then \\boxed{9}", "9"),
    ("The final answer is $\\frac{3}{4}$.", "\\frac{3}{4}"),
    ("Final Answer: 204", "204"),
    ("Answer: 17", "17"),
    ("The answer is **73**.", "73"),
    ("Therefore the count is **73**", "73"),
    ("no answer here at all", None),
    ("\\boxedx{3}", None),
])
def test_extract_answer(text, expected):
    assert extract_answer(text, "expression") == expected


def test_adjacent_boxes_joined_for_expressions_only():
    text = "The roots are $\\boxed{2}$ and $\\boxed{3}$"
    assert extract_answer(text, "expression") == "2, 3"
    assert extract_answer(text, "integer") == "3"
    # boxes far apart are not joined: the last one wins
    far = "\\boxed{2} " + "blah " * 50 + "\\boxed{3}"
    assert extract_answer(far, "expression") == "3"
    # the same answer boxed twice in a row is one answer, not a list
    assert extract_answer("$\\boxed{5}$\n\n$\\boxed{5}$", "expression") == "5"


def test_find_boxed_positions_and_unclosed():
    got = find_boxed("a \\boxed{1} b \\fbox{2} c \\boxed{3")
    assert [g[0] for g in got] == ["1", "2"]
    assert last_boxed("\\boxed{3") is None


@pytest.mark.parametrize("s, expected", [
    ("025", 25), ("25", 25), ("25.0", 25), ("25.00", 25), ("\\boxed{025}", 25), ("$25$", 25),
    ("\\text{25}", 25), ("**73**", 73), ("x = 25", 25), ("-4", -4), ("1,000", 1000),
    ("25^\\circ", 25), ("0", 0), ("25.5", None), ("\\frac{50}{2}", None), ("twenty", None),
    ("25 apples", None), ("", None), (None, None), ("9" * 100, None),
])
def test_normalize_integer(s, expected):
    assert normalize_integer(s) == expected


@pytest.mark.parametrize("s, expected", [
    ("0.5", Fraction(1, 2)), ("\\frac{1}{2}", Fraction(1, 2)), ("\\dfrac12", Fraction(1, 2)),
    ("-\\frac{3}{4}", Fraction(-3, 4)), ("1/2", Fraction(1, 2)), ("3", Fraction(3)),
    ("$2.50$", Fraction(5, 2)), ("\\sqrt{2}", None), ("x+1", None), ("1/0", None),
])
def test_exact_number(s, expected):
    assert exact_number(s) == expected


@pytest.mark.parametrize("text, expected", [
    ("Reasoning...\nAnswer: C", "C"),
    ("The answer is (B).", "B"),
    ("so \\boxed{D}", "D"),
    ("\\boxed{\\text{A}}", "A"),
    ("I pick option A", "A"),
    ("**B**", "B"),
    ("Answer: E", None),   # not a valid letter for four choices
    ("I think the answer is a prime, so Answer: D", "D"),
    ("so the answer is a prime number", None),
    ("nothing", None),
])
def test_extract_letter(text, expected):
    assert extract_letter(text) == expected


def test_split_answer_excludes_reasoning_by_default():
    r = "<think>maybe \\boxed{3}</think>The answer is \\boxed{4}"
    part = split_answer(r)
    assert part.think_closed is True and "\\boxed{3}" not in part.text
    assert extract_answer(part.text, "integer") == "4"
    assert "\\boxed{3}" in split_answer(r, include_reasoning=True).text
    # R1 template: <think> in the prompt, only the closing tag in the response
    assert split_answer("thinking</think> \\boxed{5}").text.strip() == "\\boxed{5}"
    unclosed = split_answer("<think>still thinking \\boxed{7}")
    assert unclosed.think_closed is False and unclosed.text == ""
    assert split_answer("plain \\boxed{1}").think_closed is None


def test_extraction_on_5mb_response_is_fast():
    big = ("word " * 1_000_000) + "\\boxed{42}"
    assert len(big) > 5_000_000
    t0 = time.perf_counter()
    assert extract_answer(big, "integer") == "42"
    assert extract_answer("word " * 1_000_000, "expression") is None
    assert time.perf_counter() - t0 < 2.0


def test_vote_key_groups_equivalent_answers():
    assert vote_key("025", "integer") == vote_key("25.0", "integer") == "25"
    assert vote_key("\\frac{1}{2}", "expression") == vote_key("0.5", "expression")
    assert vote_key("(c)", "choice") == "C"
    assert vote_key(None, "integer") is None
