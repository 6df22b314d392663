"""Reward functions for trl's GRPOTrainer, built on the reasonlens grader.

trl calls a reward function with keyword arguments ``prompts``, ``completions``,
``completion_ids``, ``trainer_state``, ``log_extra``, ``log_metric`` and every dataset column
except ``prompt`` (here ``gold`` or ``solution``, ``answer_type``, ``problem_id``, ...), and
expects one float per completion or ``None``.

How trl (1.16) treats ``None``: it becomes NaN and the weighted rewards are summed with
``nansum``, so a ``None`` from one function counts as **0** as soon as another function returns a
number; a completion is left out (advantage 0, excluded from the group baseline) only when
*every* function returns ``None``. So an "ungradable" 0 beside a wrong answer's -1 would reward
unparseable output. Here:

- an answer the model wrote but the verifier could not parse or timed out on (``parse_error``,
  ``timeout``) is the model's output: it gets the ``wrong`` reward;
- a completion that cannot be graded for a reason outside the model (``no_gold``: the row has no
  reference answer; any reason listed in ``skip_reasons``) gets ``None`` from **every** reward
  function: the other functions are wrapped by :class:`UnlessUngradable` (see
  :func:`training.grpo_config.build_rewards`), so trl drops the completion instead of summing.

Either way an ungradable completion never scores above a wrong one of the same length.

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
        correct / wrong: reward for a correct / a wrong answer. An answer the verifier could not
            parse or timed out on (``parse_error``, ``timeout``) counts as wrong unless listed in
            ``skip_reasons``.
        no_answer: reward when no final answer was found or the completion was cut ("no_answer",
            "truncated"): the model's failure, so a real (low) reward, not a skip; it may not
            exceed ``wrong``.
        skip_reasons: grader reasons for which the completion is left out of the update: every
            reward function returns ``None`` for it (default: ``no_gold``, a row without a
            reference answer).
        max_completion_length: completions of this many tokens are treated as cut
            (finish_reason "length") when grading; None: unknown.
        default_answer_type: used when the dataset has no ``answer_type`` column.
        timeout: Math-Verify wall-clock limit per item (seconds).
    """

    correct: float = 1.0
    wrong: float = 0.0
    no_answer: float = 0.0
    skip_reasons: tuple[str, ...] = ("no_gold",)
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
        if self.no_answer > self.wrong:
            raise ConfigError(f"no_answer ({self.no_answer}) may not exceed wrong "
                              f"({self.wrong}): a missing answer would beat a wrong one")
        if self.wrong > self.correct:
            raise ConfigError(f"wrong ({self.wrong}) may not exceed correct ({self.correct})")
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
        self._cache: tuple[tuple, list] | None = None

    def __getstate__(self):
        return {**self.__dict__, "_cache": None}

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
        if result.reason in c.skip_reasons:
            return None
        if result.correct is False:
            return c.wrong
        if result.reason in GRADABLE_FAILURES:
            return c.no_answer
        return c.wrong    # parse_error, timeout: the model's answer, not gradable as right

    def results(self, completions: list[Any], completion_ids: list[list[int]] | None,
                kwargs: dict[str, Any]) -> list:
        """Grades of one batch, cached: :class:`UnlessUngradable` asks for the same batch."""
        from reasonlens.grade import infer_answer_type

        n = len(completions)
        texts = [completion_text(c) for c in completions]
        golds = _column(kwargs, ("gold", "solution", "answer"), n)
        if golds is None:
            raise ConfigError("the GRPO dataset needs a 'gold' (or 'solution') column for the "
                              "reasonlens_accuracy reward")
        types = _column(kwargs, ("answer_type",), n)
        benches = _column(kwargs, ("benchmark",), n)
        n_toks = [len(ids) for ids in completion_ids] if completion_ids is not None else [None] * n
        key = (tuple(texts), tuple(map(repr, golds)), tuple(types or ()), tuple(n_toks))
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        out = []
        for i, text in enumerate(texts):
            gold = golds[i]
            atype = (types[i] if types else None) or self.config.default_answer_type \
                or infer_answer_type(None if gold is None else str(gold),
                                     benches[i] if benches else None)
            out.append(self.grade(text, gold, atype, n_toks[i]))
        self._cache = (key, out)
        return out

    def skipped(self, completions: list[Any], completion_ids: list[list[int]] | None,
                kwargs: dict[str, Any]) -> list[bool]:
        """Per completion: whether it is left out (its grade reason is in ``skip_reasons``)."""
        return [r.correct is not True and r.reason in self.config.skip_reasons
                for r in self.results(completions, completion_ids, kwargs)]

    def __call__(self, prompts: list[Any] | None = None, completions: list[Any] | None = None,
                 completion_ids: list[list[int]] | None = None, **kwargs: Any
                 ) -> list[float | None]:
        completions = list(completions or [])
        n = len(completions)
        results = self.results(completions, completion_ids, kwargs)
        rewards = [self.reward_of(r) for r in results]
        reasons = Counter(r.reason for r in results)
        extracted = ["" if r.extracted is None else str(r.extracted) for r in results]
        log_metric: Callable | None = kwargs.get("log_metric")
        if log_metric is not None and n:
            for reason in ("no_answer", "truncated", "timeout", "parse_error"):
                log_metric(f"reasonlens/{reason}_rate", reasons.get(reason, 0) / n)
            log_metric("reasonlens/skipped_rate", sum(r is None for r in rewards) / n)
        log_extra: Callable | None = kwargs.get("log_extra")
        if log_extra is not None and n:
            log_extra("extracted", extracted)
        return rewards


class UnlessUngradable:
    """Another reward function that returns ``None`` wherever the accuracy reward leaves a
    completion out, so that *every* function returns ``None`` there and trl drops it rather than
    summing the others (see the module doc). Keeps the wrapped function's ``__name__``, which
    trl logs the reward under."""

    def __init__(self, func: Callable, accuracy: ReasonlensAccuracy):
        self.func, self.accuracy = func, accuracy
        self.__name__ = getattr(func, "__name__", type(func).__name__)

    def __call__(self, prompts: list[Any] | None = None, completions: list[Any] | None = None,
                 completion_ids: list[list[int]] | None = None, **kwargs: Any
                 ) -> list[float | None]:
        values = self.func(prompts=prompts, completions=completions,
                           completion_ids=completion_ids, **kwargs)
        skip = self.accuracy.skipped(list(completions or []), completion_ids, kwargs)
        return [None if s else v for v, s in zip(values, skip)]


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
