"""The reward adapter: reasonlens.grade.grade_one behind trl's reward-function signature."""

from __future__ import annotations

import pytest

from reasonlens.errors import ConfigError, UnknownNameError
from training.rewards import (ReasonlensAccuracy, RewardConfig, completion_text, make_reward)

pytestmark = pytest.mark.train


def _msg(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def test_rewards_for_correct_wrong_missing_and_ungradable():
    reward = ReasonlensAccuracy()
    completions = [_msg("<think>\nwork\n</think>\n\nSo \\boxed{025}."),   # correct ("025" = 25)
                   _msg("The answer is \\boxed{24}."),                   # wrong
                   _msg("I give up."),                                    # no answer
                   _msg("anything \\boxed{7}")]                           # no gold: ungradable
    out = reward(prompts=[[{"role": "user", "content": "q"}]] * 4, completions=completions,
                 completion_ids=[[1, 2, 3]] * 4, gold=["25", "25", "25", None],
                 answer_type=["integer"] * 4)
    assert out == [1.0, 0.0, 0.0, None]


def test_plain_text_completions_and_solution_column():
    reward = ReasonlensAccuracy(RewardConfig(correct=1.0, wrong=-0.5, no_answer=-1.0))
    out = reward(prompts=["q", "q", "q"], completions=["\\boxed{3}", "\\boxed{4}", "..."],
                 solution=["3", "3", "3"], answer_type=["integer"] * 3)
    assert out == [1.0, -0.5, -1.0]


def test_unparseable_answers_count_as_wrong_and_missing_gold_is_skipped_everywhere():
    """Issue 13 finding 1 (unit level; the trl-summation test is in test_training_grpo_rewards):
    an answer the verifier cannot parse is the model's, so it gets the wrong reward; only a row
    without gold is left out, by every reward function."""
    from training.rewards import UnlessUngradable

    acc = ReasonlensAccuracy(RewardConfig(correct=1.0, wrong=-1.0, no_answer=-1.0))
    comps = ["\\boxed{" + "1" * 2100 + "}", "\\boxed{2}", "\\boxed{2}"]
    kw = {"gold": ["2", "2", None], "answer_type": ["integer"] * 3}
    assert acc(completions=comps, **kw) == [-1.0, 1.0, None]
    other = UnlessUngradable(lambda completions, **_: [0.5] * len(completions), acc)
    assert other(completions=comps, **kw) == [0.5, 0.5, None]
    with pytest.raises(ConfigError, match="no_answer"):
        RewardConfig(wrong=-1.0, no_answer=0.0)


def test_expression_answers_go_through_math_verify():
    reward = ReasonlensAccuracy()
    out = reward(completions=[_msg("\\boxed{\\frac{1}{2}}"), _msg("\\boxed{\\frac{2}{3}}")],
                 gold=["0.5", "0.5"], answer_type=["expression"] * 2)
    assert out == [1.0, 0.0]


def test_cut_completions_count_as_truncated():
    """At max_completion_length tokens with no answer, the grader reason is 'truncated'."""
    seen: dict[str, float] = {}
    reward = ReasonlensAccuracy(RewardConfig(max_completion_length=4, no_answer=-1.0))
    out = reward(completions=[_msg("<think>\nstill thinking"), _msg("\\boxed{1}")],
                 completion_ids=[[1, 2, 3, 4], [1, 2]], gold=["1", "1"],
                 answer_type=["integer", "integer"],
                 log_metric=lambda k, v: seen.__setitem__(k, v))
    assert out == [-1.0, 1.0]
    assert seen["reasonlens/truncated_rate"] == 0.5 and seen["reasonlens/skipped_rate"] == 0.0


def test_answer_type_inferred_and_extracted_logged():
    extra: dict[str, list] = {}
    reward = ReasonlensAccuracy()
    out = reward(completions=["\\boxed{B}", "\\boxed{12}"], gold=["B", "12"],
                 log_extra=lambda col, vals: extra.__setitem__(col, vals))
    assert out == [1.0, 1.0] and extra["extracted"] == ["B", "12"]


def test_missing_gold_column_and_bad_config():
    with pytest.raises(ConfigError, match="gold"):
        ReasonlensAccuracy()(completions=["x"], prompts=["p"])
    with pytest.raises(ConfigError, match="values for 2"):
        ReasonlensAccuracy()(completions=["x", "y"], gold=["1"])
    with pytest.raises(ConfigError, match="unknown grader reasons"):
        RewardConfig(skip_reasons=("nope",))
    with pytest.raises(ConfigError, match="'ok'"):
        RewardConfig(skip_reasons=("ok",))


def test_completion_text_shapes():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "a"},
                            {"role": "assistant", "content": [{"type": "text", "text": "b"}]}]
                           ) == "ab"
    with pytest.raises(TypeError):
        completion_text(3)


def test_registry_names():
    acc = make_reward("reasonlens_accuracy", {"correct": 2.0, "skip_reasons": ["no_gold"]})
    assert acc.__name__ == "reasonlens_accuracy" and acc.config.correct == 2.0
    assert acc.config.skip_reasons == ("no_gold",)
    pytest.importorskip("trl")
    soft = make_reward("soft_overlong", {"max_completion_len": 10, "soft_punish_cache": 4})
    assert soft(completion_ids=[[0] * 5, [0] * 8, [0] * 11]) == [0.0, -0.5, -1.0]
    with pytest.raises(UnknownNameError):
        make_reward("nope")
    with pytest.raises(ConfigError, match="soft_punish_cache"):
        make_reward("soft_overlong", {"max_completion_len": 10})
