"""The SFT recipe: YAML -> frozen :class:`SFTRecipe` -> trl ``SFTConfig``.

Validation (no model, no GPU): unknown keys, a stated source for every trl value, explicit
``max_length`` (trl's default 1024 would cut 10-16k-token traces), assistant-only loss, eos/pad
distinct, and the ``expect`` checks (global batch for the launch's process count, minimum length).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from reasonlens.errors import ConfigError
from training.model_setup import ModelSpec, model_spec_from
from training.recipe import (Expect, apply_overrides, build_dataclass, check_keys, check_sources,
                             load_yaml, recipe_record, require_keys, trl_config)

TOP_KEYS = ("name", "description", "model", "data", "trl", "sources", "expect", "launch")
# trl values every SFT recipe must state, so no trl default is used unknowingly.
REQUIRED_TRL = ("max_length", "learning_rate", "lr_scheduler_type", "warmup_steps",
                "per_device_train_batch_size", "gradient_accumulation_steps", "bf16",
                "assistant_only_loss")


@dataclass(frozen=True)
class SFTData:
    """Training data: a dataset with a ``messages`` column (chat format, see training.data).

    ``on_truncation``: what to do with examples longer than ``trl.max_length`` once tokenized
    with the chat template: ``warn`` (count and report; trl cuts them), ``drop`` or ``error``.
    """

    train: str
    split: str = "train"
    messages_field: str = "messages"
    limit: int | None = None
    on_truncation: Literal["warn", "drop", "error"] = "warn"

    def __post_init__(self):
        if self.on_truncation not in ("warn", "drop", "error"):
            raise ConfigError(f"data.on_truncation must be warn, drop or error, got "
                              f"{self.on_truncation!r}")


@dataclass(frozen=True)
class SFTRecipe:
    name: str
    description: str
    model: ModelSpec
    data: SFTData
    trl: MappingProxyType
    sources: MappingProxyType
    expect: Expect
    launch: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    path: str | None = None

    def record(self) -> dict[str, Any]:
        """A JSON-able copy for provenance and summaries."""
        return recipe_record(self)

    @property
    def global_batch(self) -> int | None:
        if self.expect.num_processes is None:
            return None
        return (int(self.trl.get("per_device_train_batch_size", 8))
                * int(self.trl.get("gradient_accumulation_steps", 1)) * self.expect.num_processes)


def parse_sft_recipe(data: dict[str, Any], path: str | None = None) -> SFTRecipe:
    """Validate a recipe mapping (no trl import; see :func:`to_sft_config` for the rest)."""
    check_keys("recipe", data, TOP_KEYS, path)
    for section in ("model", "data", "trl"):
        if not isinstance(data.get(section), dict):
            raise ConfigError(f"{path + ': ' if path else ''}section {section} is required")
    trl = dict(data["trl"])
    sources = dict(data.get("sources") or {})
    check_sources(trl, sources, path)
    require_keys(trl, REQUIRED_TRL, path, "trl's defaults are not the recipe's")
    if trl.get("assistant_only_loss") is not True:
        raise ConfigError(f"{path + ': ' if path else ''}trl.assistant_only_loss must be true: "
                          "the loss is on the assistant part only")
    if trl.get("packing"):
        raise ConfigError(f"{path + ': ' if path else ''}packing is not supported here: it "
                          "needs padding-free attention to keep examples apart")
    recipe = SFTRecipe(
        name=str(data.get("name") or Path(path or "recipe").stem),
        description=str(data.get("description") or ""),
        model=model_spec_from(data["model"], path),
        data=build_dataclass(SFTData, "data", data["data"], path),
        trl=MappingProxyType(trl), sources=MappingProxyType(sources),
        expect=build_dataclass(Expect, "expect", data.get("expect"), path),
        launch=MappingProxyType(dict(data.get("launch") or {})), path=path)
    _check_expect(recipe, path)
    return recipe


def _check_expect(recipe: SFTRecipe, path: str | None) -> None:
    where = f"{path}: " if path else ""
    e = recipe.expect
    max_length = recipe.trl.get("max_length")
    if e.min_max_length is not None and (max_length is None or max_length < e.min_max_length):
        raise ConfigError(f"{where}trl.max_length={max_length} is below expect.min_max_length="
                          f"{e.min_max_length} (long traces would be cut)")
    if e.global_batch is not None:
        if e.num_processes is None:
            raise ConfigError(f"{where}expect.global_batch needs expect.num_processes")
        if recipe.global_batch != e.global_batch:
            raise ConfigError(
                f"{where}per_device_train_batch_size x gradient_accumulation_steps x "
                f"num_processes = {recipe.global_batch}, but expect.global_batch is "
                f"{e.global_batch}")


def load_sft_recipe(path: str | Path, overrides: tuple[str, ...] | list[str] = ()) -> SFTRecipe:
    """Read, override (``section.key=value``) and validate an SFT recipe file."""
    data = apply_overrides(load_yaml(path), overrides)
    return parse_sft_recipe(data, str(path))


def to_sft_config(recipe: SFTRecipe, output_dir: str, *, validate_only: bool = False):
    """trl ``SFTConfig`` for the recipe (imports trl). ``eos_token`` comes from ``model``."""
    from trl import SFTConfig

    return trl_config(SFTConfig, recipe.trl, output_dir=output_dir,
                      forced={"eos_token": recipe.model.eos_token}, path=recipe.path,
                      validate_only=validate_only)
