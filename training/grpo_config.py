"""The zero-RL (GRPO) recipe: YAML -> frozen :class:`GRPORecipe` -> trl ``GRPOConfig``.

Validation (no model, no GPU): unknown keys, a stated source for every trl value, the values that
must be explicit so trl's small defaults (``max_completion_length=512``, ``num_generations=8``,
``learning_rate=1e-6``...) cannot slip in, overlong handling (``mask_truncated_completions`` or a
``soft_overlong`` reward whose length matches ``max_completion_length``), and that the generation
batch of the target launch holds whole groups of ``num_generations``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reasonlens.errors import ConfigError
from training.model_setup import ModelSpec, model_spec_from
from training.recipe import (Expect, apply_overrides, build_dataclass, check_keys, check_sources,
                             load_yaml, recipe_record, require_keys, trl_config)

TOP_KEYS = ("name", "description", "model", "data", "rewards", "trl", "sources", "expect",
            "launch")
REQUIRED_TRL = ("max_completion_length", "num_generations", "learning_rate", "temperature",
                "beta", "loss_type", "epsilon", "epsilon_high", "per_device_train_batch_size",
                "gradient_accumulation_steps", "bf16", "use_vllm")


@dataclass(frozen=True)
class GRPOData:
    """Prompts with reference answers: a dataset with ``prompt`` (chat messages or text),
    ``gold`` (or ``solution``) and optionally ``answer_type`` (see ``training.data rl-prompts``)."""

    train: str
    split: str = "train"
    limit: int | None = None
    gold_field: str = "gold"


@dataclass(frozen=True)
class RewardSpec:
    name: str
    weight: float = 1.0
    args: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class GRPORecipe:
    name: str
    description: str
    model: ModelSpec
    data: GRPOData
    rewards: tuple[RewardSpec, ...]
    trl: MappingProxyType
    sources: MappingProxyType
    expect: Expect
    launch: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    path: str | None = None

    def record(self) -> dict[str, Any]:
        return recipe_record(self)

    def generation_batch(self, num_processes: int | None = None) -> int:
        """Completions per generation round for ``num_processes`` (default: expect's)."""
        n = num_processes or self.expect.num_processes or 1
        per_dev = int(self.trl.get("per_device_train_batch_size", 8))
        if self.trl.get("generation_batch_size"):
            return int(self.trl["generation_batch_size"])
        steps = int(self.trl.get("steps_per_generation")
                    or self.trl.get("gradient_accumulation_steps", 1))
        return per_dev * n * steps


def _rewards(raw: Any, path: str | None) -> tuple[RewardSpec, ...]:
    from training.rewards import REWARD_NAMES

    where = f"{path}: " if path else ""
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}rewards must be a non-empty list of {{name, weight, args}}")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"name": item}
        if not isinstance(item, dict):
            raise ConfigError(f"{where}rewards[{i}] must be a mapping")
        check_keys(f"rewards[{i}]", item, ("name", "weight", "args"), path)
        name = str(item.get("name") or "")
        if name not in REWARD_NAMES:
            raise ConfigError(f"{where}rewards[{i}]: unknown reward {name!r}; valid: "
                              f"{', '.join(REWARD_NAMES)}")
        out.append(RewardSpec(name, float(item.get("weight", 1.0)),
                              MappingProxyType(dict(item.get("args") or {}))))
    return tuple(out)


def parse_grpo_recipe(data: dict[str, Any], path: str | None = None) -> GRPORecipe:
    """Validate a recipe mapping (no trl import; see :func:`to_grpo_config` for the rest)."""
    where = f"{path}: " if path else ""
    check_keys("recipe", data, TOP_KEYS, path)
    for section in ("model", "data", "trl"):
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"{where}section {section} is required")
    trl = dict(data["trl"])
    sources = dict(data.get("sources") or {})
    check_sources(trl, sources, path)
    require_keys(trl, REQUIRED_TRL, path, "trl's GRPO defaults (e.g. max_completion_length=512) "
                 "are not the recipe's")
    if "reward_weights" in trl:
        raise ConfigError(f"{where}set reward weights in the rewards list, not trl.reward_weights")
    recipe = GRPORecipe(
        name=str(data.get("name") or Path(path or "recipe").stem),
        description=str(data.get("description") or ""),
        model=model_spec_from(data["model"], path),
        data=build_dataclass(GRPOData, "data", data["data"], path),
        rewards=_rewards(data.get("rewards"), path),
        trl=MappingProxyType(trl), sources=MappingProxyType(sources),
        expect=build_dataclass(Expect, "expect", data.get("expect"), path),
        launch=MappingProxyType(dict(data.get("launch") or {})), path=path)
    _check(recipe, where)
    return recipe


def _check(recipe: GRPORecipe, where: str) -> None:
    trl, e = recipe.trl, recipe.expect
    mcl = int(trl["max_completion_length"])
    if e.min_completion_length is not None and mcl < e.min_completion_length:
        raise ConfigError(f"{where}trl.max_completion_length={mcl} is below "
                          f"expect.min_completion_length={e.min_completion_length}")
    if int(trl["num_generations"]) < 2:
        raise ConfigError(f"{where}trl.num_generations must be >= 2 (group advantages)")
    gen = recipe.generation_batch()
    if gen % int(trl["num_generations"]):
        raise ConfigError(f"{where}the generation batch ({gen} completions for "
                          f"{e.num_processes or 1} processes) is not a multiple of "
                          f"num_generations={trl['num_generations']}")
    names = [r.name for r in recipe.rewards]
    if names.count("reasonlens_accuracy") != 1:
        raise ConfigError(f"{where}rewards must include reasonlens_accuracy (the verifiable "
                          "math reward) exactly once")
    negative = [r.name for r in recipe.rewards if r.weight < 0]
    if negative:
        raise ConfigError(f"{where}reward weights must be >= 0 ({', '.join(negative)}): a "
                          "negative weight would rank a wrong answer above a right one")
    soft = [r for r in recipe.rewards if r.name == "soft_overlong"]
    for r in soft:
        if int(r.args.get("max_completion_len", -1)) != mcl:
            raise ConfigError(f"{where}soft_overlong max_completion_len "
                              f"({r.args.get('max_completion_len')}) must equal "
                              f"trl.max_completion_length ({mcl})")
        if not 0 < int(r.args.get("soft_punish_cache", 0)) < mcl:
            raise ConfigError(f"{where}soft_overlong soft_punish_cache must lie in (0, {mcl})")
    if not soft and not trl.get("mask_truncated_completions"):
        raise ConfigError(f"{where}overlong handling is required: set "
                          "trl.mask_truncated_completions: true or add a soft_overlong reward")
    if trl.get("use_vllm") and trl.get("vllm_mode", "colocate") not in ("colocate", "server"):
        raise ConfigError(f"{where}trl.vllm_mode must be colocate or server")


def load_grpo_recipe(path: str | Path, overrides: tuple[str, ...] | list[str] = ()
                     ) -> GRPORecipe:
    """Read, override (``section.key=value``) and validate a GRPO recipe file."""
    data = apply_overrides(load_yaml(path), overrides)
    return parse_grpo_recipe(data, str(path))


def to_grpo_config(recipe: GRPORecipe, output_dir: str, *, validate_only: bool = False):
    """trl ``GRPOConfig`` for the recipe (imports trl); reward weights come from ``rewards``."""
    from trl import GRPOConfig

    return trl_config(GRPOConfig, recipe.trl, output_dir=output_dir,
                      forced={"reward_weights": [r.weight for r in recipe.rewards]},
                      path=recipe.path, validate_only=validate_only)


def build_rewards(recipe: GRPORecipe) -> list:
    """The reward callables; reasonlens_accuracy learns the completion limit (cut = length), and
    every other function is wrapped so that it returns ``None`` where the accuracy reward leaves
    a completion out (trl sums a lone ``None`` as 0; see :mod:`training.rewards`)."""
    from training.rewards import ReasonlensAccuracy, UnlessUngradable, make_reward

    funcs = []
    for r in recipe.rewards:
        args = dict(r.args)
        if r.name == "reasonlens_accuracy":
            args.setdefault("max_completion_length", int(recipe.trl["max_completion_length"]))
        funcs.append(make_reward(r.name, args))
    acc = next(f for f in funcs if isinstance(f, ReasonlensAccuracy))
    return [f if isinstance(f, ReasonlensAccuracy) else UnlessUngradable(f, acc) for f in funcs]
