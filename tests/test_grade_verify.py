"""grade_one / grade_values: the strict integer path, letters, Math-Verify in worker processes with
a hard wall-clock timeout, and the traps listed in the issue."""

from __future__ import annotations

import threading
import time

import pytest

from reasonlens.errors import ConfigError
from reasonlens.grade import GradeConfig, grade_one, grade_values
from reasonlens.grade.verify import VerifyItem, VerifyPool

CFG = GradeConfig(timeout=3.0, workers=2)


@pytest.mark.parametrize("response, gold, kind, correct", [
    # strict integer path: leading zeros, decimals, boxed, bold
    ("\\boxed{025}", "25", "integer", True),
    ("\\boxed{25}", "025", "integer", True),
    ("The final answer is 25.0", "025", "integer", True),
    ("**73**", "73", "integer", True),
    ("The answer is **73**.", "73", "integer", True),
    ("\\boxed{26}", "025", "integer", False),
    # expressions through Math-Verify, gold first
    ("\\boxed{0.5}", "\\frac{1}{2}", "expression", True),
    ("\\boxed{\\frac{1}{2}}", "0.5", "expression", True),
    ("\\boxed{(1,2]}", "(1,2]", "expression", True),
    ("\\boxed{[1,2]}", "(1,2]", "expression", False),
    ("\\boxed{\\{3,2,1\\}}", "\\{1,2,3\\}", "expression", True),
    ("\\boxed{\\{1,2\\}}", "\\{1,2,3\\}", "expression", False),
    ("\\boxed{5\\text{ cm}}", "5", "expression", True),
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", "expression", True),
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", "expression", True),
    ("\\boxed{\\frac{-1-\\sqrt{17}}{2}, \\frac{-1+\\sqrt{17}}{2}}",
     "\\frac{-1+\\sqrt{17}}{2}, \\frac{-1-\\sqrt{17}}{2}", "expression", True),
    ("first \\boxed{3}, no wait: \\boxed{4}", "4", "expression", True),
    ("first \\boxed{4}, no wait: \\boxed{3}", "4", "expression", False),
    # multiple choice
    ("Answer: C", "C", "choice", True),
    ("Answer: B", "C", "choice", False),
])
def test_grade_one_traps(response, gold, kind, correct):
    r = grade_one(response, gold, kind, config=CFG)
    assert r.reason == "ok", r
    assert r.correct is correct, r


def test_integer_gold_with_alternatives():
    # the AIME 1983-2024 CSV has one "080 or 081 (both were accepted)" gold; the loader keeps
    # "080 or 081" and both are accepted on the strict path
    assert grade_one("\\boxed{80}", "080 or 081", "integer", config=CFG).correct is True
    assert grade_one("\\boxed{081}", "080 or 081", "integer", config=CFG).correct is True
    r = grade_one("\\boxed{79}", "080 or 081", "integer", config=CFG)
    assert (r.correct, r.reason) == (False, "ok")


@pytest.mark.parametrize("response, finish, reason", [
    ("I could not decide.", "stop", "no_answer"),
    ("<think>let me think about \\boxed{3} and more", "length", "truncated"),
    ("<think>still going", None, "truncated"),
    ("plain text cut off mid", "length", "truncated"),
    ("", "stop", "no_answer"),
])
def test_ungradable_reasons(response, finish, reason):
    r = grade_one(response, "3", "integer", config=CFG, finish_reason=finish)
    assert (r.correct, r.reason) == (None, reason)


def test_no_gold_and_bad_type():
    assert grade_one("\\boxed{3}", None, "integer", config=CFG).reason == "no_gold"
    assert grade_one("\\boxed{3}", "  ", "integer", config=CFG).reason == "no_gold"
    with pytest.raises(ConfigError):
        grade_one("\\boxed{3}", "3", "number", config=CFG)
    r = grade_one("Answer: C", "7", "choice", config=CFG)
    assert r.reason == "parse_error" and r.correct is None


def test_reasoning_excluded_unless_asked():
    resp = "<think>I guess \\boxed{7}</think> Final: I am not sure."
    assert grade_one(resp, "7", "integer", config=CFG).correct is None
    with_reasoning = GradeConfig(timeout=3.0, include_reasoning=True)
    assert grade_one(resp, "7", "integer", config=with_reasoning).correct is True


def test_5mb_response_grades_quickly():
    big = "x" * 5_000_000 + " so the answer is \\boxed{42}"
    t0 = time.perf_counter()
    r = grade_one(big, "42", "integer", config=CFG)
    assert r.correct is True and time.perf_counter() - t0 < 3.0
    # a 5 MB response with the answer inside an expression goes through Math-Verify
    r = grade_one("y" * 5_000_000 + " \\boxed{\\frac{84}{2}}", "42", "expression", config=CFG)
    assert r.correct is True


@pytest.mark.slow
@pytest.mark.parametrize("pred", ["9^{9^{9^{9}}}", "(10^{10})!", "9^9^9^9", "(10^{100})!"])
def test_pathological_inputs_are_bounded_by_the_timeout(pred):
    cfg = GradeConfig(timeout=1.5, workers=1)
    pool_start_allowance = 30.0   # a replaced worker re-imports Math-Verify (~1-3 s, more on load)
    t0 = time.perf_counter()
    r = grade_one(f"\\boxed{{{pred}}}", "5", "expression", config=cfg)
    elapsed = time.perf_counter() - t0
    assert r.correct is not True
    assert r.reason in ("timeout", "parse_error", "ok")
    assert elapsed < cfg.timeout + pool_start_allowance
    if r.reason == "timeout":
        assert r.correct is None


def test_pool_kills_and_replaces_a_hung_worker():
    with VerifyPool(workers=1, timeout=1.0) as pool:
        items = [VerifyItem("5", "9^{9^{9^{9}}}"), VerifyItem("\\frac{1}{2}", "0.5")]
        t0 = time.perf_counter()
        out = pool.verify_many(items)
        assert out[0].reason == "timeout" and out[0].correct is None
        assert out[1].reason == "ok" and out[1].correct is True   # served by the replacement
        assert pool.n_timeouts == 1 and pool.n_restarts == 1
        assert time.perf_counter() - t0 < 60


def test_grade_one_is_safe_from_threads():
    # Math-Verify's own signal-based timeouts fail off the main thread; ours must not.
    results: list = []

    def work(i: int) -> None:
        results.append(grade_one(f"\\boxed{{\\frac{{{i}}}{{2}}}}", f"{i / 2}", "expression",
                                 config=CFG))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(1, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(results) == 6
    assert all(r.correct is True and r.reason == "ok" for r in results), results


def test_grade_values_dedupes_and_keeps_order():
    responses = ["\\boxed{0.5}", "\\boxed{\\frac12}", "\\boxed{0.5}", "nothing", "\\boxed{3}"]
    golds = ["\\frac{1}{2}", "0.5", "\\frac{1}{2}", "1", "003"]
    types = ["expression", "expression", "expression", "integer", "integer"]
    res = grade_values(responses, golds, types, config=CFG)
    assert [r.correct for r in res] == [True, True, True, None, True]
    assert [r.reason for r in res] == ["ok", "ok", "ok", "no_answer", "ok"]


def test_raw_fallback_lets_math_verify_find_an_unboxed_expression():
    r = grade_one("We get $x = \\sqrt{2}$ in the end", "\\sqrt{2}", "expression", config=CFG)
    assert r.correct is True
    strict = GradeConfig(timeout=3.0, raw_fallback=False)
    r2 = grade_one("We get $x = \\sqrt{2}$ in the end", "\\sqrt{2}", "expression", config=strict)
    assert r2.reason == "no_answer"


def test_cut_off_responses_are_not_graded_on_stray_numbers():
    text = "First, we can find the logarithm of $x^{4y}$:\n$$\\log_x(xy) = x^3 + 2"
    for kind in ("integer", "expression"):
        r = grade_one(text, "25", kind, config=CFG, finish_reason="length")
        assert (r.extracted, r.correct, r.reason) == (None, None, "truncated")
    r = grade_one("We computed 12 and then 25 apples.", "25", "integer", config=CFG,
                  finish_reason="stop")
    assert r.reason == "no_answer"
