"""Options and helpers shared by CLI commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from reasonlens.traces.load import LoadOptions


def trace_input_options(func: Callable) -> Callable:
    """Options that say how to read trace inputs (shared by score, grade, judge, ...)."""
    opts = [
        click.option("--field", "fields", multiple=True, metavar="NAME=PATH",
                     help="Map a trace field to a path in the records, e.g. "
                          "response=choices[].message.content (repeatable). Overrides detection."),
        click.option("--mapping", "mapping_file", type=click.Path(exists=True, dir_okay=False),
                     help="TOML/JSON file with a [fields] table of NAME = \"PATH\"."),
        click.option("--model-name", help="Model name for records that carry none "
                     "(default: the file name)."),
        click.option("--benchmark-name", help="Benchmark name for records that carry none."),
        click.option("--on-error", type=click.Choice(["fail", "skip"]), default="fail",
                     show_default=True, help="On a malformed record: stop with an error naming "
                     "file, line and field, or skip it (counted, written to a rejects file)."),
        click.option("--on-duplicate", type=click.Choice(["error", "keep-first"]),
                     default="error", show_default=True,
                     help="A response id seen twice, or an input given twice: stop with an "
                          "error, or keep the first and count the rest as dropped."),
        click.option("--allow-empty", is_flag=True, help="Accept empty responses."),
        click.option("--split", help="Split to read from a datasets directory or hub id."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def load_options(kwargs: dict[str, Any]) -> LoadOptions:
    """Pop the trace-input options from a command's kwargs into a LoadOptions."""
    from reasonlens.traces.layouts import parse_field_options
    from reasonlens.traces.load import LoadOptions

    return LoadOptions(
        fields=parse_field_options(kwargs.pop("fields", ()) or ()),
        mapping_file=kwargs.pop("mapping_file", None),
        model=kwargs.pop("model_name", None),
        benchmark=kwargs.pop("benchmark_name", None),
        on_error=kwargs.pop("on_error", "fail"),
        on_duplicate=kwargs.pop("on_duplicate", "error"),
        allow_empty=kwargs.pop("allow_empty", False),
        split=kwargs.pop("split", None),
    )


def stderr_console():
    from rich.console import Console

    return Console(stderr=True)


class _NoProgress:
    """What :func:`progress` gives when stderr is not a terminal: the calls of rich's Progress
    that the commands make, doing nothing (and rich is not imported)."""

    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *args: Any, **kwargs: Any) -> int:
        return 0

    def update(self, *args: Any, **kwargs: Any) -> None:
        return None

    def advance(self, *args: Any, **kwargs: Any) -> None:
        return None


def progress(description: str, total: float | None = None, *, unit: str = "MB"):
    """A rich progress bar on stderr (none when stderr is not a terminal)."""
    if not sys.stderr.isatty():
        return _NoProgress()
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn,
                               TextColumn, TimeElapsedColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    cols = [TextColumn("[bold]{task.description}"), BarColumn(), TaskProgressColumn(),
            MofNCompleteColumn() if unit != "MB" else TransferSpeedColumn(),
            TimeElapsedColumn(), TimeRemainingColumn()]
    return Progress(*cols, console=stderr_console(), transient=False)


def echo_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """Print a table to stdout with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for c in columns:
        table.add_column(c, justify="left" if c in (columns[0],) else "right")
    for r in rows:
        table.add_row(*[_fmt(v) for v in r])
    Console(width=max(100, sum(len(c) + 6 for c in columns))).print(table)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else str(v)
