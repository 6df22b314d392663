"""``reasonlens benchmarks``: list the registered benchmarks; show or export one."""

from __future__ import annotations

import click

from reasonlens.cli._common import echo_table


@click.command("benchmarks")
@click.argument("name", required=False)
@click.option("--source", type=click.Path(exists=True),
              help="Local file or directory to read NAME from (default: its hub dataset).")
@click.option("--export", "export_path", type=click.Path(dir_okay=False),
              help="Write NAME's problems to this JSONL file (benchmark, problem_id, problem, "
                   "gold, answer_type, choices, metadata).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N problems.")
@click.option("--show", "show_n", type=click.IntRange(0), default=3, show_default=True,
              help="Problems to print when showing NAME.")
def command(name: str | None, source: str | None, export_path: str | None, limit: int | None,
            show_n: int) -> None:
    """List benchmarks, or show / export one.

    \b
    Without NAME: the registry (answer type, default template, hub dataset,
    local layouts). With NAME: load it (from --source or the hub) and print
    the first problems; --export writes all of them as JSONL.
    Examples:
      reasonlens benchmarks
      reasonlens benchmarks aime24 --source ../shared/data
      reasonlens benchmarks gpqa_diamond --export gpqa.jsonl
    """
    from reasonlens.problems import BENCHMARKS, get_spec, load_benchmark

    if name is None:
        rows = [[s.name, s.title, s.answer_type, s.n_expected, s.template,
                 ", ".join(h.path + (f"/{h.name}" if h.name else "") for h in s.hub)]
                for s in BENCHMARKS.values()]
        echo_table("reasonlens benchmarks", ["name", "title", "answer", "problems", "template",
                                             "hub dataset"], rows)
        click.echo("Local layouts per benchmark: `reasonlens benchmarks NAME --source DIR`; "
                   "see docs/grading.md.", err=True)
        return
    spec = get_spec(name)
    df = load_benchmark(spec.name, source, limit=limit)
    if export_path:
        import orjson

        from reasonlens.io import atomic_write_bytes

        data = b"".join(orjson.dumps(r) + b"\n" for r in df.iter_rows(named=True))
        atomic_write_bytes(export_path, data)
        click.echo(f"Wrote {df.height} {spec.name} problems to {export_path}", err=True)
        return
    click.echo(f"{spec.name}: {spec.title}; {df.height} problems; answer type "
               f"{spec.answer_type}; template {spec.template}")
    for r in df.head(show_n).iter_rows(named=True):
        text = r["problem"] if len(r["problem"]) < 300 else r["problem"][:300] + "..."
        click.echo(f"\n[{r['problem_id']}] gold={r['gold']}\n{text}")
        if r["choices"]:
            click.echo(f"choices: {r['choices']}")
