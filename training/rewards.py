"""Reward functions for trl's GRPOTrainer, built on the reasonlens grader.

trl calls a reward function with keyword arguments ``prompts``, ``completions``,
``completion_ids``, ``trainer_state``, ``log_extra``, ``log_metric`` and every dataset column
except ``prompt`` (here ``gold`` or ``solution``, ``answer_type``, ``problem_id``, ...), and
expects one float per completion, ``None`` meaning "ungradable: skip this sample for this
function". Conversational completions are lists of messages; plain ones are strings.

:class:`ReasonlensAccuracy` grades with :func:`reasonlens.grade.grade_one` (the same grader as
evaluation; its Math-Verify path runs in worker processes with a hard timeout, so it is safe in
the training process). Rewards are callable class instances, so they stay picklable.

Registry (names usable in a recipe's ``rewards`` list): ``reasonlens_accuracy``,
``soft_overlong`` (DAPO's overlong penalty, trl's ``get_soft_overlong_punishment``),
``think_format`` (trl's ``think_format_reward``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reasonlens.errors import ConfigError, UnknownNameError

GRADABLE_FAILURES = ("no_answer", "truncated")


@dataclass(frozen=True)
class RewardConfig:
    """How grades become rewards.

    Attributes:
        correct / wrong: reward for a correct / a wrong answer.
        no_answer: reward when no final answer was found or the completion was cut ("no_answer",
            "truncated"): the model's failure, so a real (low) reward, not a skip.
        skip_reasons: grader reasons that yield ``None`` (ungradable: the gold is missing, the
            verifier timed out or could not parse).
        max_completion_length: completions of this many tokens are treated as cut
            (finish_reason "length") when grading; None: unknown.
        default_answer_type: used when the dataset has no ``answer_type`` column.
        timeout: Math-Verify wall-clock limit per item (seconds).
    """

    correct: float = 1.0
    wrong: float = 0.0
    no_answer: float = 0.0
    skip_reasons: tuple[str, ...] = ("no_gold", "timeout", "parse_error")
    max_completion_length: int | None = None
    default_answer_type: str | None = None
    timeout: float = 5.0

    def __post_init__(self):
        from reasonlens.grade import REASONS

        bad = [r for r in self.skip_reasons if r not in REASONS]
        if bad:
            raise ConfigError(f"skip_reasons: unknown grader reasons {bad}; valid: "
                              f"{', '.join(REASONS)}")
        if "ok" in self.skip_reasons:
            raise ConfigError("skip_reasons may not contain 'ok'")
        object.__setattr__(self, "skip_reasons", tuple(self.skip_reasons))


def completion_text(completion: Any) -> str:
    """The text of one completion: a string, or the assistant contents of a message list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        return str(completion.get("content") or "")
    if isinstance(completion, list):
        parts = []
        for m in completion:
            if isinstance(m, dict) and m.get("role", "assistant") == "assistant":
                c = m.get("content")
                if isinstance(c, list):  # content blocks
                    c = "".join(b.get("text", "") for b in c if isinstance(b, dict))
                parts.append(str(c or ""))
        return "".join(parts)
    raise TypeError(f"unsupported completion type {type(completion).__name__}")


def _column(kwargs: dict[str, Any], names: tuple[str, ...], n: int) -> list[Any] | None:
    for name in names:
        col = kwargs.get(name)
        if col is not None:
            if len(col) != n:
                raise ConfigError(f"dataset column {name!r} has {len(col)} values for {n} "
                                  "completions")
            return list(col)
    return None


class ReasonlensAccuracy:
    """Accuracy reward: grade each completion against the row's gold answer."""

    __name__ = "reasonlens_accuracy"

    def __init__(self, config: RewardConfig | None = None):
        from reasonlens.grade import GradeConfig

        self.config = config or RewardConfig()
        self.grade_config = GradeConfig(timeout=self.config.timeout)

    def grade(self, text: str, gold: Any, answer_type: str, n_tokens: int | None):
        from reasonlens.grade import grade_one

        finish = None
        limit = self.config.max_completion_length
        if limit is not None and n_tokens is not None and n_tokens >= limit:
            finish = "length"
        return grade_one(text, None if gold is None else str(gold), answer_type,
                         config=self.grade_config, finish_reason=finish)

    def reward_of(self, result) -> float | None:
        c = self.config
        if result.correct is True:
            return c.correct
        if result.correct is False:
            return c.wrong
        if result.reason in c.skip_reasons:
            return None
        if result.reason in GRADABLE_FAILURES:
            return c.no_answer
        return None

    def __call__(self, prompts: list[Any] | None = None, completions: list[Any] | None = None,
                 completion_ids: list[list[int]] | None = None, **kwargs: Any
                 ) -> list[float | None]:
        from reasonlens.grade import infer_answer_type

        completions = list(completions or [])
        n = len(completions)
        golds = _column(kwargs, ("gold", "solution", "answer"), n)
        if golds is None:
            raise ConfigError("the GRPO dataset needs a 'gold' (or 'solution') column for the "
                              "reasonlens_accuracy reward")
        types = _column(kwargs, ("answer_type",), n)
        benches = _column(kwargs, ("benchmark",), n)
        rewards: list[float | None] = []
        reasons: Counter[str] = Counter()
        extracted: list[str] = []
        for i, comp in enumerate(completions):
            gold = golds[i]
            atype = (types[i] if types else None) or self.config.default_answer_type \
                or infer_answer_type(None if gold is None else str(gold),
                                     benches[i] if benches else None)
            n_tok = len(completion_ids[i]) if completion_ids is not None else None
            res = self.grade(completion_text(comp), gold, atype, n_tok)
            reasons[res.reason] += 1
            extracted.append("" if res.extracted is None else str(res.extracted))
            rewards.append(self.reward_of(res))
        log_metric: Callable | None = kwargs.get("log_metric")
        if log_metric is not None and n:
            for reason in ("no_answer", "truncated", "timeout", "parse_error"):
                log_metric(f"reasonlens/{reason}_rate", reasons.get(reason, 0) / n)
            log_metric("reasonlens/skipped_rate", sum(r is None for r in rewards) / n)
        log_extra: Callable | None = kwargs.get("log_extra")
        if log_extra is not None and n:
            log_extra("extracted", extracted)
        return rewards


def make_reward(name: str, args: dict[str, Any] | None = None) -> Callable:
    """A reward function by registry name with its arguments."""
    args = dict(args or {})
    if name == "reasonlens_accuracy":
        if "skip_reasons" in args:
            args["skip_reasons"] = tuple(args["skip_reasons"])
        try:
            return ReasonlensAccuracy(RewardConfig(**args))
        except TypeError as exc:
            raise ConfigError(f"reward reasonlens_accuracy: {exc}") from exc
    if name == "soft_overlong":
        from trl.rewards import get_soft_overlong_punishment

        try:
            return get_soft_overlong_punishment(int(args["max_completion_len"]),
                                                int(args["soft_punish_cache"]))
        except KeyError as exc:
            raise ConfigError("reward soft_overlong needs max_completion_len and "
                              "soft_punish_cache") from exc
    if name == "think_format":
        from trl.rewards import think_format_reward

        if args:
            raise ConfigError("reward think_format takes no arguments")
        return think_format_reward
    raise UnknownNameError("reward", name, list(REWARD_NAMES))


REWARD_NAMES = ("reasonlens_accuracy", "soft_overlong", "think_format")
