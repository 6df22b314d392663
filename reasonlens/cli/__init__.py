"""The ``reasonlens`` command line.

Commands live one per module, ``reasonlens/cli/cmd_<name>.py`` (underscores become dashes), each
exposing a click command named ``command``. They are imported only when invoked, so start-up stays
light (no torch, transformers, trl, vllm or datasets; ``tests/test_imports.py`` checks it).

Every :class:`~reasonlens.errors.ReasonlensError` becomes a one-line ``Error: ...`` message on
stderr with its exit code; set ``REASONLENS_RAISE_ERRORS=1`` to see tracebacks instead.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

import click

from reasonlens import __version__
from reasonlens.errors import ReasonlensError

_HERE = Path(__file__).resolve().parent


class LazyGroup(click.Group):
    """A click group whose subcommands are the ``cmd_*.py`` modules of this package."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(p.stem[4:].replace("_", "-") for p in _HERE.glob("cmd_*.py"))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        mod_name = "cmd_" + cmd_name.replace("-", "_")
        if not (_HERE / f"{mod_name}.py").exists():
            return None
        module = importlib.import_module(f"reasonlens.cli.{mod_name}")
        return module.command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="reasonlens")
def cli() -> None:
    """Explain why one reasoning model reasons better than another, from its traces.

    \b
    Data flows one way:
      load traces -> score / judge / grade -> stats -> report
    Typical session:
      reasonlens score traces.jsonl --out out/score
      reasonlens grade traces.jsonl --out out/grade
      reasonlens judge traces.jsonl --out out/judge
      reasonlens report out/score out/grade out/judge -o reports/run.html
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point: clean messages for reasonlens errors."""
    raise_errors = os.environ.get("REASONLENS_RAISE_ERRORS", "") not in ("", "0")
    try:
        cli.main(args=argv, prog_name="reasonlens", standalone_mode=False)
    except ReasonlensError as exc:
        if raise_errors:
            raise
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
