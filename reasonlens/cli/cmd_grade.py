"""``reasonlens grade``: extract and verify final answers, then accuracy metrics."""

from __future__ import annotations

from typing import Any

import click

from reasonlens.cli._common import echo_table, load_options, progress, trace_input_options


def metrics_table(metrics: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    cols = ["model", "benchmark", "problems", "samples", "accuracy", "95% CI", "pass@k",
            "maj@k", "clip", "mean len", "ungradable"]
    rows = []
    for m, md in metrics["models"].items():
        for b, bd in md["benchmarks"].items():
            ks = list(bd["pass_at_k"])
            top = ks[-1] if ks else None
            ci = bd["accuracy_ci"]
            rows.append([m, b, bd["n_problems"], bd["n_samples"], bd["accuracy"],
                         f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci[0] is not None else "",
                         f"@{top} {bd['pass_at_k'][top]:.3f}" if top else "",
                         f"@{top} {bd['maj_at_k'][top]:.3f}" if top else "",
                         bd["clip_ratio"],
                         f"{bd['mean_length']:.0f} {bd['length_unit']}"
                         if bd["mean_length"] is not None else "",
                         bd["ungradable"]])
    return cols, rows


@click.command("grade")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output directory for graded.parquet and metrics.json.")
@click.option("--benchmark", "benchmark",
              help="Take gold answers (and answer types) from this registered benchmark, joined "
                   "on problem_id (else on the problem text). See `reasonlens benchmarks`.")
@click.option("--benchmark-source", type=click.Path(exists=True),
              help="Local file or directory for --benchmark (default: its hub dataset).")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=5.0, show_default=True,
              help="Wall-clock seconds per symbolic check; the worker is killed after it and the "
                   "answer is marked 'timeout'.")
@click.option("--workers", type=click.IntRange(1), default=2, show_default=True,
              help="Math-Verify worker processes.")
@click.option("--include-reasoning", is_flag=True,
              help="Look for the answer in the whole response, not only after </think>.")
@click.option("--strict-integers", is_flag=True,
              help="For integer answers, never fall back to Math-Verify: anything that is not a "
                   "plain integer is wrong.")
@click.option("--ks", default=None, metavar="K,K,...",
              help="k values for pass@k and maj@k (default: 1, 2, 4, ..., n).")
@click.option("--n-boot", type=click.IntRange(0), default=1000, show_default=True,
              help="Bootstrap resamples (over problems) for the accuracy CI.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@trace_input_options
@click.option("--quiet", "-q", is_flag=True, help="Do not print the metrics table.")
def command(inputs: tuple[str, ...], out_dir: str, benchmark: str | None,
            benchmark_source: str | None, timeout: float, workers: int, include_reasoning: bool,
            strict_integers: bool, ks: str | None, n_boot: int, seed: int, quiet: bool,
            **kwargs: Any) -> None:
    """Grade final answers in traces and compute accuracy metrics.

    \b
    IN... are trace files (as for `reasonlens score`), e.g. the output of
    `reasonlens generate`. Gold answers come from the traces' gold field or
    from --benchmark. Writes to --out:
      graded.parquet  the traces plus extracted, correct (null = ungradable),
                      grade_reason (ok, no_answer, truncated, parse_error,
                      timeout, no_gold) and answer_type
      metrics.json    per model and benchmark: accuracy (avg@k) with a
                      bootstrap CI, pass@k, maj@k, clip ratio, lengths
    Example:
      reasonlens grade runs/aime24.jsonl --benchmark aime24 --out out/grade
    """
    from reasonlens.provenance import InputHasher

    InputHasher.ahead(inputs)  # hashed on the other core while the imports below load
    from reasonlens.errors import ConfigError
    from reasonlens.grade import GradeConfig
    from reasonlens.grade.run import GradeRunConfig, run_grade
    from reasonlens.lexcount.run import input_bytes

    if benchmark_source and not benchmark:
        raise ConfigError("--benchmark-source needs --benchmark NAME")
    k_list = None
    if ks:
        try:
            k_list = tuple(sorted({int(k) for k in ks.split(",") if k.strip()}))
        except ValueError as exc:
            raise ConfigError(f"--ks must be comma-separated integers, got {ks!r}") from exc
        if not k_list or k_list[0] < 1:
            raise ConfigError(f"--ks values must be >= 1, got {ks!r}")
    config = GradeRunConfig(
        grade=GradeConfig(timeout=timeout, workers=workers, include_reasoning=include_reasoning,
                          integer_fallback=not strict_integers),
        benchmark=benchmark, benchmark_source=benchmark_source, ks=k_list, n_boot=n_boot,
        seed=seed)
    opts = load_options(kwargs)
    total = input_bytes(list(inputs))
    with progress("grading", total=total) as bar:
        task = bar.add_task("grading", total=total)
        run = run_grade(list(inputs), out_dir, config, opts,
                        on_progress=lambda rep, n: bar.update(task, completed=rep.bytes_read))
    out = run.out_dir
    if not quiet:
        cols, rows = metrics_table(run.metrics)
        echo_table("reasonlens grade (accuracy = avg@k over samples; CI: bootstrap over "
                   "problems)", cols, rows)
    resumed = f" ({run.n_resumed} from a killed run's journal)" if run.n_resumed else ""
    click.echo(f"Graded {run.n_graded} responses{resumed} in {run.elapsed_s:.1f} s; wrote "
               f"{out / 'graded.parquet'} and {out / 'metrics.json'}", err=True)
    for w in run.warnings:
        click.echo(f"Warning: {w}", err=True)
    if run.join and run.join["unmatched"]:
        click.echo(f"Warning: {run.join['unmatched']} response(s) matched no {benchmark} "
                   "problem (by id or text); they keep their own gold", err=True)
    rep = run.report
    if rep.n_rejected:
        click.echo(f"Skipped {rep.n_rejected} bad record(s), written to "
                   f"{out / 'rejects.jsonl'}; first: {rep.first_errors[0]}", err=True)
    if rep.dropped_line():
        click.echo(rep.dropped_line(), err=True)
