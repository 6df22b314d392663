"""``reasonlens stats``: tidy statistics tables (parquet/CSV) from stage outputs."""

from __future__ import annotations

from pathlib import Path

import click

from reasonlens.cli._report_options import stats_options, stats_config


@click.command(name="stats")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Directory for the tables (one file per table) and stats.json.")
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "both"]), default="both",
              show_default=True, help="File format of the tables.")
@stats_options
def command(inputs: tuple[Path, ...], out_dir: Path, fmt: str, **kwargs) -> None:
    """Statistics for score / grade / judge / judge-eval / ablate outputs (or trace files).

    INPUTS are stage output directories (kind detected from the files in them, one level of
    sub-directories searched) or trace files (scored with the default lexicons). Writes tidy
    tables -- rates with problem-clustered bootstrap CIs, GLM rate ratios with length as
    exposure, per-term tests with Holm/BH, correctness model, accuracy, pass@k, lengths -- and
    prints the main comparison.

    \b
    Example:
      reasonlens stats out/score out/grade out/judge --out out/stats
    """
    from reasonlens.api import stats, write_tables
    from reasonlens.cli._common import echo_table

    config, reference = stats_config(kwargs)
    result = stats(*inputs, config=config, reference=reference, progress=True)
    write_tables(result, out_dir, fmt, sources=inputs)
    tables = result.frames
    comp = tables.get("comparisons")
    if comp is not None and comp.height:
        main = comp.filter(comp["benchmark"] == "(all)")
        from reasonlens.report.sections import _p_cell, _ratio_cell
        from reasonlens.report.tables import pval

        ref = main["reference"][0] if main.height else ""
        echo_table(f"Rate ratios vs {ref} (GLM, log(words) exposure, problem-clustered SEs; "
                   "'exact': one model has no hit, exact conditional test)",
                   ["category", "model", "rate ratio [CI]", "p", "p (Holm)", "n", "status"],
                   [[r["category"], r["model"], _ratio_cell(r), _p_cell(r), pval(r["p_holm"]),
                     r["n_responses"], r.get("zero_note") or r["status"]]
                    for r in main.iter_rows(named=True)])
    elif "accuracy" in tables:
        echo_table("Accuracy (avg@n)", ["model", "benchmark", "accuracy", "CI low", "CI high",
                                        "n problems"],
                   [[r["model"], r["benchmark"], r["accuracy"], r["ci_low"], r["ci_high"],
                     r["n_problems"]] for r in tables["accuracy"].iter_rows(named=True)])
    from reasonlens.stats.rates import single_model_strata

    strata = tables.get("stratified_rates")
    lonely = single_model_strata(strata) if strata is not None else []
    if lonely:
        click.echo(f"Warning: {len(lonely)} stratum/strata hold one model only, so nothing is "
                   f"compared within them: {'; '.join(lonely[:4])}", err=True)
    click.echo(f"wrote {len(tables)} tables to {out_dir}", err=True)
