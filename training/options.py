"""The command-line options of the training entry points, defined once.

``training.sft``, ``training.grpo`` and ``training.pipeline`` all take a recipe override list
(``--set SECTION.KEY=VALUE``); the two trainers also take ``--config``, ``--output-dir``,
``--dataset`` and ``--validate-only`` (:func:`recipe_options`). :func:`run_recipe_command` is the
shared flow behind the trainers: load the recipe with its overrides, then validate or train;
:func:`recipe_command` builds a trainer's click command around it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

SET_HELP = ("Override a recipe value, e.g. --set trl.max_steps=3 (repeatable; values are "
            "parsed as YAML).")


def set_option(help: str = SET_HELP) -> Callable:
    """``--set SECTION.KEY=VALUE`` (repeatable) into the ``overrides`` parameter."""
    return click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                        help=help)


def recipe_options(kind: str, example: str) -> Callable:
    """The options shared by ``training.sft`` (``kind`` "an SFTConfig") and ``training.grpo``."""
    def deco(fn: Callable) -> Callable:
        for opt in reversed((
            click.option("--config", "config_path", required=True,
                         type=click.Path(exists=True, dir_okay=False),
                         help=f"Recipe YAML (e.g. {example})."),
            set_option(),
            click.option("--output-dir",
                         help="Where to write the checkpoint (default out/<recipe name>)."),
            click.option("--dataset", help="Override data.train (datasets dir, JSONL or hub id)."),
            click.option("--validate-only", is_flag=True,
                         help=f"Parse and validate the recipe into {kind} without loading a "
                              "model (works without a GPU), print the resolved values and "
                              "exit."),
        )):
            fn = opt(fn)
        return fn
    return deco


def run_recipe_command(load_recipe, run, validate, *, config_path: str,
                       overrides: tuple[str, ...], output_dir: str | None, dataset: str | None,
                       validate_only: bool) -> tuple[dict[str, Any], str] | None:
    """Load a recipe (with ``--set`` overrides and ``--dataset``), then validate or train it.

    Returns ``(summary, output_dir)`` after training, None after ``--validate-only`` (the resolved
    values are printed). A ReasonlensError becomes ``error: ...`` on stderr and its exit code.
    """
    import json
    import logging
    import sys

    from reasonlens.errors import ReasonlensError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        ov = list(overrides) + ([f"data.train={dataset}"] if dataset else [])
        recipe = load_recipe(config_path, ov)
        out = output_dir or f"out/{recipe.name}"
        if validate_only:
            click.echo(json.dumps(validate(recipe, out), indent=2, default=str))
            return None
        summary = run(recipe, out)
    except ReasonlensError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 1))
    return summary, out


#: Per trainer: its help text, the trl config --validate-only resolves, an example recipe, the
#: recipe loader ("module:function", imported when the command runs so --help stays light) and
#: the line printed after training (formatted with the run summary).
TRAINERS: dict[str, dict[str, str]] = {
    "sft": {"help": "Supervised fine-tuning (distillation) with trl's SFTTrainer from a YAML "
                    "recipe. Writes the model, tokenizer (inference chat template) and "
                    "run_summary.json to the output directory.",
            "kind": "an SFTConfig", "example": "training/configs/sft_tiny.yaml",
            "loader": "training.sft_config:load_sft_recipe",
            "report": "trained {global_step} steps; loss {loss_first} -> {loss_last}; "
                      "{truncation[n_truncated]} truncated"},
    "grpo": {"help": "Zero-RL: GRPO on a base model with the reasonlens grader as reward, from a "
                     "YAML recipe. Writes the model, tokenizer and run_summary.json (per-step "
                     "rewards) to the output directory.",
             "kind": "a GRPOConfig", "example": "training/configs/grpo_tiny.yaml",
             "loader": "training.grpo_config:load_grpo_recipe",
             "report": "trained {global_step} steps; reward {reward_first} -> {reward_last}"},
}


def recipe_command(trainer: str, run: Callable, validate: Callable) -> click.Command:
    """The click entry point of a trainer of :data:`TRAINERS` (``training.sft``,
    ``training.grpo``): :func:`recipe_options` around :func:`run_recipe_command`."""
    import importlib

    spec = TRAINERS[trainer]

    @click.command(help=spec["help"])
    @recipe_options(spec["kind"], spec["example"])
    def main(config_path: str, overrides: tuple[str, ...], output_dir: str | None,
             dataset: str | None, validate_only: bool) -> None:
        module, _, name = spec["loader"].partition(":")
        load_recipe = getattr(importlib.import_module(module), name)
        done = run_recipe_command(load_recipe, run, validate, config_path=config_path,
                                  overrides=overrides, output_dir=output_dir, dataset=dataset,
                                  validate_only=validate_only)
        if done is not None:
            summary, out = done
            click.echo(spec["report"].format(**summary) + f"; wrote {out}")
    return main
