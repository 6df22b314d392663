"""``reasonlens demo``: the main job on the shipped example traces, offline, end to end."""

from __future__ import annotations

from pathlib import Path

import click

from reasonlens.errors import ConfigError


def example_traces() -> Path:
    """The shipped, illustrative example traces (a package resource)."""
    from importlib import resources

    p = Path(str(resources.files("reasonlens"))) / "resources" / "examples" / "traces.jsonl"
    if not p.is_file():
        raise ConfigError(f"the shipped example traces are missing: {p}")
    return p


@click.command(name="demo")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False),
              help="Traces to run on (default: the shipped illustrative example, two models in "
                   "contrasting styles).")
@click.option("--out", default="out/demo", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the stage outputs (score/, grade/, judge/).")
@click.option("--report", "report_path", default="reports/demo.html", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the HTML report.")
def command(input_path: str | None, out: str, report_path: str) -> None:
    """Run score -> grade -> judge (offline detector) -> report on example traces.

    Needs no network and no API key: the behaviour counts come from the offline detector, which is
    approximate (see docs/judge-validation.md for its agreement with the human gold set).
    """
    from reasonlens.cli import cli

    src = input_path or str(example_traces())
    outd = Path(out)
    steps = [
        ["score", src, "--out", str(outd / "score"), "--behaviours"],
        ["grade", src, "--out", str(outd / "grade")],
        ["judge", src, "--out", str(outd / "judge")],
        ["report", str(outd / "score"), str(outd / "grade"), str(outd / "judge"),
         "-o", report_path, "--title",
         "reasonlens demo: illustrative example traces (distilled-like vs zero-RL-like)"],
    ]
    for args in steps:
        click.echo(f"\n$ reasonlens {' '.join(args)}", err=True)
        cli.main(args=args, prog_name="reasonlens", standalone_mode=False)
    click.echo(f"\nreport written to {report_path}", err=True)
