"""The ``reasonlens`` command line.

Commands live one per module, ``reasonlens/cli/cmd_<name>.py`` (underscores become dashes), each
exposing a click command named ``command``. They are imported only when invoked, so start-up stays
light (no torch, transformers, trl, vllm or datasets; ``tests/test_imports.py`` checks it).

Every :class:`~reasonlens.errors.ReasonlensError` becomes a one-line ``Error: ...`` message on
stderr with its exit code. Anything else is caught by the last-resort handler in :func:`main`: an
``OSError`` naming a file becomes one line (exit 2); any other exception becomes one line naming
the command, its inputs and the exception, with a hint to rerun with ``reasonlens -v COMMAND``
(which prints the traceback) or ``REASONLENS_RAISE_ERRORS=1`` (which lets it propagate), exit 1.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import sys
import traceback
from pathlib import Path

import click

from reasonlens import __version__
from reasonlens.allocator import keep_freed_memory
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
        before_polars(cmd_name)
        module = importlib.import_module(f"reasonlens.cli.{mod_name}")
        return checked_numbers(module.command)


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


#: polars' jemalloc for ``score`` (see :func:`before_polars`)
SCORE_JEMALLOC = "dirty_decay_ms:10000,muzzy_decay_ms:10000"


def before_polars(cmd_name: str) -> None:
    """What must be set before polars is imported (its thread pool is sized then).

    ``score`` on at most 2 usable CPUs gets a polars pool of one thread, unless
    ``POLARS_MAX_THREADS`` is set: its own threads (two batches counted at once, two chunks
    parsed ahead, the writer) already fill two cores, and a pool of two more threads competing
    for them made it 9% slower end to end (benchmarks/scoring.md). On more CPUs polars keeps
    its default pool.

    Likewise ``OPENBLAS_NUM_THREADS=1`` for ``score`` there (before numpy is imported): score
    makes no BLAS call, yet OpenBLAS' idle threads spun for 1.9% of its CPU time.

    On any number of CPUs, ``score`` sets polars' jemalloc (``_RJEM_MALLOC_CONF``, read when
    polars is loaded) to keep freed pages for 10 s instead of half a second: every batch frees
    and allocates the same sizes again, and purging them between batches cost page faults and
    system time. Over 8 interleaved pairs of runs on 1 GB: 5.8% less CPU, 5.3% less wall
    (benchmarks/scoring.md). A value the user set is kept.

    And glibc's malloc (numpy, pyarrow's buffers, Python's large objects: the 16 MB chunks of
    input read from the file) gets :func:`reasonlens.allocator.keep_freed_memory`."""
    if cmd_name != "score":
        return
    if "polars" not in sys.modules:
        os.environ.setdefault("_RJEM_MALLOC_CONF", SCORE_JEMALLOC)
    keep_freed_memory()
    if usable_cpus() > 2:
        return
    for var, module in (("POLARS_MAX_THREADS", "polars"), ("OPENBLAS_NUM_THREADS", "numpy")):
        if module not in sys.modules and var not in os.environ:
            os.environ[var] = "1"


_INT64 = 2**63


def _check_number(ctx: click.Context, param: click.Parameter, value):
    """Refuse what no reasonlens option can use, before any work: NaN, integers beyond 64 bits
    (parquet, polars and orjson hold int64), negative seeds (numpy refuses them)."""
    for v in value if isinstance(value, (tuple, list)) else (value,):
        if isinstance(v, float) and math.isnan(v):
            raise click.BadParameter("NaN is not a number this option accepts", ctx, param)
        if isinstance(v, int) and not isinstance(v, bool):
            if not -_INT64 <= v < _INT64:
                raise click.BadParameter(f"{v} is out of range (at most 2**63 - 1 in size)",
                                         ctx, param)
            if param.name == "seed" and v < 0:
                raise click.BadParameter(f"a seed is a non-negative integer, got {v}", ctx, param)
    return value


def checked_numbers(command: click.Command) -> click.Command:
    """Give every numeric option of ``command`` (and of its subcommands) :func:`_check_number`,
    ahead of the option's own callback."""
    if getattr(command, "_numbers_checked", False):
        return command
    for param in command.params:
        if isinstance(param.type, (click.types.IntParamType, click.types.FloatParamType)):
            def callback(ctx, p, value, _orig=param.callback):
                value = _check_number(ctx, p, value)
                return _orig(ctx, p, value) if _orig is not None else value
            param.callback = callback
    for sub in getattr(command, "commands", {}).values():
        checked_numbers(sub)
    command._numbers_checked = True  # type: ignore[attr-defined]
    return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(__version__, prog_name="reasonlens")
@click.option("-v", "--verbose", "verbose", is_flag=True, expose_value=False, is_eager=True,
              callback=lambda ctx, _p, v: _set_verbose(v),
              help="Log progress details to stderr and print the traceback of an unexpected error.")
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


_VERBOSE = False


def _set_verbose(value: bool) -> None:
    global _VERBOSE
    if value:
        _VERBOSE = True
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def _command_and_inputs(argv: list[str]) -> tuple[str, list[str]]:
    """The subcommand named in ``argv`` and the arguments that look like existing paths."""
    args = [a for a in argv if a not in ("-v", "--verbose")]
    cmd = next((a for a in args if not a.startswith("-")), "reasonlens")
    rest = args[args.index(cmd) + 1:] if cmd in args else []
    paths = [a for a in rest if not a.startswith("-") and os.path.exists(a)]
    return cmd, paths


def unexpected_error_line(exc: BaseException, argv: list[str]) -> tuple[str, int]:
    """The one line (and exit code) for an exception no reasonlens code anticipated."""
    cmd, paths = _command_and_inputs(argv)
    if isinstance(exc, OSError) and getattr(exc, "filename", None):
        return f"Error: {cmd}: {exc.strerror or exc}: {exc.filename}", 2
    if isinstance(exc, MemoryError):
        return (f"Error: {cmd} ran out of memory"
                f"{' on ' + ', '.join(paths[:3]) if paths else ''}", 1)
    what = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
    on = f" on {', '.join(paths[:3])}" if paths else ""
    return (f"Error: {cmd} failed unexpectedly{on}: {what[:300]}. Rerun with "
            f"`reasonlens -v {cmd} ...` to see the traceback (or set REASONLENS_RAISE_ERRORS=1), "
            "and please report it", 1)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: clean messages for reasonlens errors, one line for anything else."""
    global _VERBOSE
    _VERBOSE = False
    raise_errors = os.environ.get("REASONLENS_RAISE_ERRORS", "") not in ("", "0")
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        cli.main(args=args, prog_name="reasonlens", standalone_mode=False)
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
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): nothing left to say
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - the last-resort handler
        if raise_errors:
            raise
        if _VERBOSE:
            traceback.print_exc()
        line, code = unexpected_error_line(exc, args)
        click.echo(line, err=True)
        sys.exit(code)


def run() -> None:
    """The console script (and ``python -m reasonlens``): :func:`main`, then an exit that skips
    the interpreter's teardown. Freeing every module's objects (polars, pyarrow, numpy) took
    0.3-0.4 s after a 1.1 s `reasonlens score` of a small file here. What the teardown would
    do for others is done first: the threads' exit hooks and the joins of non-daemon threads
    (``threading._shutdown``, as the interpreter calls it), the atexit handlers (logging,
    temporary files, coverage), the streams flushed. Tests call :func:`main`."""
    import atexit
    import threading

    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is not None and not isinstance(code, int):
        sys.stderr.write(f"{code}\n")
        code = 1
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is None:   # (another Python): the ordinary exit
        sys.exit(code)
    shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):   # a closed pipe or stream: nothing left to write
            pass
    os._exit(code or 0)
