"""Recipe files shared by SFT and GRPO: YAML with ``--set`` overrides, key checks with
suggestions, the ``expect`` checks and the step from a recipe's ``trl`` section to trl's config.

A recipe is a YAML file with sections ``model`` (what to train and how to tokenize), ``data``,
``trl`` (keyword arguments of trl's ``SFTConfig`` / ``GRPOConfig``, passed through unchanged),
``sources`` (for every ``trl`` key: where the value comes from, e.g. "s1 (not from the paper)"),
``expect`` (checks for the target cluster: process count, global batch, minimum lengths) and
``launch`` (documentation of how to launch it). Nothing heavy is imported at module level.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reasonlens.errors import ConfigError


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a recipe file; YAML errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"recipe file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{where}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a recipe must be a YAML mapping at the top level")
    return data


def apply_overrides(data: dict[str, Any], overrides: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a copy of ``data``."""
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        dotted, raw = item.split("=", 1)
        keys = [k for k in dotted.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {dotted}: value {raw!r} is not valid YAML") from exc
        node = out
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {dotted}: {k!r} is not a section")
            node = nxt
        node[keys[-1]] = value
    return out


def check_keys(section: str, given: Mapping[str, Any], allowed: list[str] | tuple[str, ...],
               path: str | None = None) -> None:
    """Unknown keys are errors that suggest the closest valid key."""
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = f"{path}: " if path else ""
            raise ConfigError(f"{where}unknown key {section}.{key}{hint}")


def build_dataclass(cls: type, section: str, raw: Mapping[str, Any] | None,
                    path: str | None = None, **extra: Any):
    """Build a frozen spec dataclass from a YAML section, rejecting unknown keys."""
    raw = dict(raw or {})
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys(section, raw, names, path)
    raw.update(extra)
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"{path + ': ' if path else ''}section {section}: {exc}") from exc


@dataclass(frozen=True)
class Expect:
    """Checks for the target run (not trl arguments): the launch's process count, the global
    batch it should give, and lower bounds on sequence lengths so trl's small defaults
    (``max_length=1024``, ``max_completion_length=512``) cannot slip in."""

    num_processes: int | None = None
    global_batch: int | None = None
    min_max_length: int | None = None
    min_completion_length: int | None = None
    gpus: str | None = None  # free text for humans, e.g. "16 x 80 GB"


def check_sources(trl: Mapping[str, Any], sources: Mapping[str, Any], path: str | None) -> None:
    """Every trl value needs a stated origin (e.g. "s1 (not from the paper)")."""
    where = f"{path}: " if path else ""
    missing = [k for k in trl if not str(sources.get(k) or "").strip()]
    if missing:
        raise ConfigError(f"{where}sources has no entry for trl keys: {', '.join(missing)} "
                          "(say where each value comes from; the paper's are not public)")
    stale = [k for k in sources if k not in trl]
    if stale:
        raise ConfigError(f"{where}sources names keys that trl does not set: {', '.join(stale)}")


def require_keys(trl: Mapping[str, Any], keys: tuple[str, ...], path: str | None,
                 why: str) -> None:
    missing = [k for k in keys if k not in trl]
    if missing:
        raise ConfigError(f"{path + ': ' if path else ''}trl must set {', '.join(missing)} "
                          f"explicitly ({why})")


# the oldest versions the recipes work with (see pyproject's [train] extra)
VERSION_FLOORS = {"transformers": (5, 0), "trl": (1, 16)}


def check_versions(installed: Mapping[str, str] | None = None) -> None:
    """Refuse versions below the recipes' floors with one line (under transformers 4.x the
    recipes' ``activation_checkpointing`` and float ``warmup_steps`` fail with a TypeError)."""
    import re
    from importlib.metadata import PackageNotFoundError, version

    for pkg, floor in VERSION_FLOORS.items():
        if installed is not None:
            got = installed.get(pkg)
        else:
            try:
                got = version(pkg)
            except PackageNotFoundError:
                got = None
        if got is None:
            continue
        nums = tuple(int(x) for x in re.findall(r"\d+", got)[:2])
        if nums < floor:
            raise ConfigError(f"{pkg} {got} is installed; the training recipes need "
                              f"{pkg}>={'.'.join(map(str, floor))} (pip install -e '.[train]')")


def trl_config(cls: type, trl: Mapping[str, Any], *, output_dir: str, forced: Mapping[str, Any],
               path: str | None, validate_only: bool):
    """Instantiate a trl config class from a recipe's ``trl`` section.

    ``forced`` values come from other recipe sections (e.g. eos_token from ``model``) and may not
    be set in ``trl`` too. With ``validate_only`` on a machine without an accelerator, ``use_cpu``
    is added so bf16 settings validate; nothing else changes.
    """
    check_versions()
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys("trl", trl, names, path)
    clash = [k for k in forced if k in trl]
    if clash:
        raise ConfigError(f"{path + ': ' if path else ''}set {', '.join(clash)} in the model "
                          "section, not in trl")
    kwargs = {**trl, **forced, "output_dir": output_dir}
    if validate_only and not _has_accelerator():
        kwargs["use_cpu"] = True
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path + ': ' if path else ''}trl rejects the recipe: {exc}") from exc


def _has_accelerator() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def recipe_record(obj: Any) -> Any:
    """JSON-able copy of a recipe (dataclasses, mapping proxies, tuples) for provenance."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: recipe_record(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): recipe_record(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [recipe_record(v) for v in obj]
    return obj
