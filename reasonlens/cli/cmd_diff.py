"""``reasonlens diff``: the words and bigrams that distinguish two models or two groups."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reasonlens.cli._common import echo_table, load_options, progress, trace_input_options


@click.command("diff")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--a", "value_a", metavar="VALUE", help="Group A: responses whose --by column "
              "(default: model) equals VALUE.")
@click.option("--b", "value_b", metavar="VALUE", help="Group B, like --a.")
@click.option("--by", default="model", show_default=True,
              help="Column that --a/--b select on (a trace column or a metadata key).")
@click.option("--group-a", metavar="COLUMN=VALUE[,VALUE]",
              help="Group A by any column, e.g. correct=true (metadata keys work too).")
@click.option("--group-b", metavar="COLUMN=VALUE[,VALUE]", help="Group B, like --group-a.")
@click.option("--text", "text_part", type=click.Choice(["all", "reasoning", "answer"]),
              default="all", show_default=True, help="Which part of each response to read.")
@click.option("--top", type=click.IntRange(1), default=20, show_default=True,
              help="How many n-grams to keep per side.")
@click.option("--min-count", type=click.IntRange(1), default=5, show_default=True,
              help="Leave out n-grams seen fewer times in A and B together.")
@click.option("--ngrams", default="1,2", show_default=True,
              help="N-gram orders, comma-separated (1, 2, 3).")
@click.option("--prior-scale", type=click.FloatRange(min=0, min_open=True), default=0.1,
              show_default=True, help="Weight of the informative Dirichlet prior relative to "
              "the data (see docs/scoring.md).")
@click.option("--out", "-o", "out_file", type=click.Path(dir_okay=False),
              help="Write the full ranking (all n-grams, not only --top) to FILE.parquet or "
                   "FILE.csv.")
@trace_input_options
def command(inputs: tuple[str, ...], value_a: str | None, value_b: str | None, by: str,
            group_a: str | None, group_b: str | None, text_part: str, top: int,
            min_count: int, ngrams: str, prior_scale: float, out_file: str | None,
            **kwargs: Any) -> None:
    """Rank words and bigrams that distinguish two models (or two groups of responses).

    \b
    Weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi & Quinn
    2008): positive z means over-used by A, negative by B. Examples:
      reasonlens diff traces.jsonl --a distilled-32b --b zero-rl-32b
      reasonlens diff graded.parquet --group-a correct=true --group-b correct=false
    With exactly two models in the input, --a/--b may be left out.
    """
    import polars as pl

    from reasonlens.errors import ConfigError
    from reasonlens.io import refuse_overwriting_inputs, write_parquet
    from reasonlens.lexcount.run import input_bytes
    from reasonlens.provenance import InputHasher, provenance
    from reasonlens.stats.diff import DiffCounts, Group, count_sources

    if out_file:
        refuse_overwriting_inputs(out_file, inputs)
    try:
        orders = tuple(int(x) for x in ngrams.split(",") if x.strip())
    except ValueError as exc:
        raise ConfigError(f"--ngrams expects numbers like 1,2, got {ngrams!r}") from exc
    if (group_a is None) != (group_b is None):
        raise ConfigError("give both --group-a and --group-b")
    if (value_a is None) != (value_b is None):
        raise ConfigError("give both --a and --b")
    if group_a and value_a:
        raise ConfigError("use either --a/--b or --group-a/--group-b, not both")
    groups = ((Group.parse(group_a, "--group-a"), Group.parse(group_b, "--group-b"))
              if group_a else (Group.of(by, value_a), Group.of(by, value_b)) if value_a
              else None)  # None: the input must hold exactly two models
    opts = load_options(kwargs)
    hasher = InputHasher(list(inputs))
    hasher.start()
    diff = DiffCounts(groups, text_part, orders)
    total = input_bytes(list(inputs))
    with progress("reading", total=total) as bar:
        task = bar.add_task("reading", total=total)
        count_sources(list(inputs), diff, opts,
                      on_batch=lambda r: bar.update(task, completed=r.bytes_read))
    label_a, label_b, full = diff.ranking(min_count=min_count, prior_scale=prior_scale)
    shown = pl.concat([full.filter(pl.col("z") > 0).head(top),
                       full.filter(pl.col("z") < 0).sort("z").head(top)])
    cols = ["term", "count_a", "count_b", "per_1k_a", "per_1k_b", "z"]
    for side, label, frame in (("A", label_a, shown.filter(pl.col("z") > 0)),
                               ("B", label_b, shown.filter(pl.col("z") < 0))):
        echo_table(f"over-used by {side} ({label})", cols,
                   [list(r) for r in frame.select(cols).iter_rows()])
    if out_file:
        hasher.join()
        prov = provenance(command="diff", config={
            "a": label_a, "b": label_b, "text": text_part, "ngrams": list(orders),
            "min_count": min_count, "prior_scale": prior_scale, "load": vars(opts)},
            inputs=hasher.records)
        path = Path(out_file)
        if path.suffix == ".csv":
            path.parent.mkdir(parents=True, exist_ok=True)
            full.write_csv(path)
            from reasonlens.io import write_json

            write_json(path.with_name(path.name + ".provenance.json"), prov)
        elif path.suffix == ".parquet":
            write_parquet(full, path, prov)
        else:
            raise ConfigError(f"--out must end in .parquet or .csv, got {path.name}")
        click.echo(f"Wrote {len(full)} ranked n-grams to {path}", err=True)

