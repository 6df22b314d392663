"""``reasonlens scale``: run stages on Ray Data (a local Ray or a cluster); see docs/scale.md."""

from __future__ import annotations

import click


@click.group("scale")
def command() -> None:
    """Run stages over Ray Data, on this machine's cores or a Ray cluster.

    Needs the [scale] extra: pip install 'reasonlens[scale]'. See docs/scale.md.
    """


@command.command("score")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output directory: responses/ and terms/ (parquet shards), summary.json.")
@click.option("--lexicon", "lexicons", multiple=True, metavar="NAME|PATH",
              help="Lexicon to count (repeatable; default: anthropomorphic, connectors, math).")
@click.option("--parts", type=click.Choice(["all", "reasoning", "answer"]), default="all",
              show_default=True, help="What the totals and per-1k rates cover.")
@click.option("--behaviours", is_flag=True,
              help="Also run the offline behaviour detector in the same map_batches step.")
@click.option("--address", default=None, metavar="ADDR",
              help="A running Ray cluster (auto, or ray://HOST:10001). Default: start a local "
                   "Ray on this machine.")
@click.option("--num-cpus", type=click.IntRange(1), default=None,
              help="CPUs of the local Ray (default: all of this machine's).")
@click.option("--batch-rows", type=click.IntRange(1), default=4096, show_default=True,
              help="Responses per map_batches batch.")
@click.option("--consolidate/--no-consolidate", default=True, show_default=True,
              help="Also write single responses.parquet / terms.parquet (what stats and "
                   "report read) from the shards.")
def score(inputs: tuple[str, ...], out_dir: str, lexicons: tuple[str, ...], parts: str,
          behaviours: bool, address: str | None, num_cpus: int | None, batch_rows: int,
          consolidate: bool) -> None:
    """Count lexicon terms like `reasonlens score`, with Ray Data.

    \b
    IN... are JSONL files (one JSON object per line, records carrying `sample`
    or `id`) or parquet tables. The counts are those of `reasonlens score`;
    the summary is merged from per-batch partial counts.
    Example:
      reasonlens scale score examples/traces.jsonl --out out/scale --num-cpus 2
    """
    from reasonlens.lexcount.engine import ScoreConfig
    from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS
    from reasonlens.scale.ray_run import RayConfig, consolidate as merge_shards, run_score_ray

    config = ScoreConfig(lexicons=tuple(lexicons) or DEFAULT_LEXICONS, parts=parts)
    if behaviours:  # refuse --parts answer here, not inside a Ray worker
        from reasonlens.judge.stage import behaviour_hook

        behaviour_hook(parts=parts)
    ray_config = RayConfig(address=address, num_cpus=num_cpus, batch_rows=batch_rows,
                           behaviours=behaviours)
    result = run_score_ray(list(inputs), out_dir, config, ray_config)
    files = merge_shards(out_dir) if consolidate else {}
    click.echo(f"Scored {result.n_responses} responses on Ray in {result.elapsed_s:.1f} s; "
               f"wrote {out_dir}/responses/, {out_dir}/terms/, {out_dir}/summary.json"
               + (f", {files['responses']}, {files['terms']}" if files else ""), err=True)


@command.command("grade")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output directory: graded/ (parquet shards) and metrics.json.")
@click.option("--ks", default=None, metavar="K,K,...",
              help="k values for pass@k and maj@k (default: 1, 2, 4, ... up to the samples).")
@click.option("--n-boot", type=click.IntRange(0), default=1000, show_default=True,
              help="Bootstrap resamples (over problems) for the metrics' CIs.")
@click.option("--address", default=None, metavar="ADDR",
              help="A running Ray cluster (auto, or ray://HOST:10001). Default: a local Ray.")
@click.option("--num-cpus", type=click.IntRange(1), default=None,
              help="CPUs of the local Ray (default: all of this machine's).")
@click.option("--batch-rows", type=click.IntRange(1), default=4096, show_default=True,
              help="Responses per map_batches batch.")
def grade(inputs: tuple[str, ...], out_dir: str, ks: str | None, n_boot: int,
          address: str | None, num_cpus: int | None, batch_rows: int) -> None:
    """Grade answers like `reasonlens grade`, with Ray Data.

    \b
    Gold answers come from the records (`gold`/`answer` fields). Each batch
    is graded on a worker; pass@k, maj@k and their CIs are computed once,
    from all batches' rows, in the driver.
    Example:
      reasonlens scale grade examples/traces.jsonl --out out/scale-grade --num-cpus 2
    """
    from reasonlens.errors import ConfigError
    from reasonlens.grade.run import GradeRunConfig
    from reasonlens.scale.ray_run import RayConfig, run_grade_ray

    try:
        k_values = tuple(int(k) for k in ks.split(",")) if ks else None
    except ValueError as exc:
        raise ConfigError(f"--ks expects integers separated by commas, got {ks!r}") from exc
    result = run_grade_ray(list(inputs), out_dir, GradeRunConfig(ks=k_values, n_boot=n_boot),
                           RayConfig(address=address, num_cpus=num_cpus, batch_rows=batch_rows))
    click.echo(f"Graded {result.n_graded} responses on Ray in {result.elapsed_s:.1f} s; wrote "
               f"{out_dir}/graded/, {out_dir}/metrics.json", err=True)
