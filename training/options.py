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


def recipe_command(*, help: str, kind: str, example: str, load_recipe: Callable[[], Callable],
                   run: Callable, validate: Callable, report: Callable[[dict[str, Any]], str]
                   ) -> click.Command:
    """The click entry point of a trainer (``training.sft``, ``training.grpo``).

    ``load_recipe()`` returns the recipe loader (imported when the command runs, so ``--help``
    stays light); ``report(summary)`` is the line printed after training (then "; wrote DIR").
    """
    @click.command(help=help)
    @recipe_options(kind, example)
    def main(config_path: str, overrides: tuple[str, ...], output_dir: str | None,
             dataset: str | None, validate_only: bool) -> None:
        done = run_recipe_command(load_recipe(), run, validate, config_path=config_path,
                                  overrides=overrides, output_dir=output_dir, dataset=dataset,
                                  validate_only=validate_only)
        if done is not None:
            summary, out = done
            click.echo(f"{report(summary)}; wrote {out}")
    return main
