"""``reasonlens report``: one self-contained HTML report from stage outputs."""

from __future__ import annotations

from pathlib import Path

import click

from reasonlens.cli._report_options import stats_config, stats_options


@click.command(name="report")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False,
                                                                    path_type=Path),
              help="HTML file to write, e.g. reports/run.html.")
@click.option("--title", help="Report title (default: 'reasonlens report').")
@click.option("--png-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write every figure as a PNG into this directory.")
@click.option("--svg-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Also write every figure as an SVG into this directory.")
@click.option("--top-terms", type=click.IntRange(min=1), default=20, show_default=True,
              help="Terms per token-usage chart and per side of a log-odds chart.")
@click.option("--max-excerpts", type=click.IntRange(min=0), default=3, show_default=True,
              help="Example judge quotes shown per model and behaviour (escaped, shortened).")
@click.option("--traces", "trace_files", multiple=True, type=click.Path(exists=True,
              dir_okay=False, path_type=Path),
              help="Trace file holding the response texts for the trace viewer (repeatable); "
                   "grade outputs and trace inputs are used without it.")
@click.option("--viewer", "viewer_n", type=click.IntRange(min=0), default=12, show_default=True,
              help="Responses per model in the trace viewer (0: no viewer).")
@click.option("--viewer-chars", type=click.IntRange(min=200), default=20_000,
              show_default=True, help="Characters kept per reasoning / answer in the viewer.")
@click.option("--check", is_flag=True,
              help="Open the report in headless Chromium (offline) and fail unless every chart "
                   "renders.")
@stats_options
def command(inputs: tuple[Path, ...], out: Path, title: str | None, png_dir: Path | None,
            svg_dir: Path | None, top_terms: int, max_excerpts: int,
            trace_files: tuple[Path, ...], viewer_n: int, viewer_chars: int, check: bool,
            **kwargs) -> None:
    """Write ONE self-contained HTML report (charts, tables, provenance; works offline).

    INPUTS are stage output directories -- score (summary.json + responses.parquet), grade
    (metrics.json + graded.parquet), judge (judgments.parquet), judge-eval (agreement.json),
    ablate (ablation.json); a directory holding several of them is searched one level down -- or
    trace files, scored on the fly with the default lexicons. Sections appear for whichever
    inputs exist. The Vega JavaScript is embedded once; the file references no URL. A trace
    viewer holds a stated sample of responses (--viewer per model) with highlights, read from
    grade outputs, trace inputs or --traces.

    \b
    Example:
      reasonlens report out/score out/grade out/judge -o reports/run.html --png-dir reports/png
    """
    from reasonlens.api import report
    from reasonlens.report import ReportConfig
    from reasonlens.report.viewer import ViewerConfig

    stats, reference = stats_config(kwargs)
    cfg = ReportConfig(stats=stats, reference=reference, top_terms=top_terms,
                       max_excerpts=max_excerpts,
                       viewer=ViewerConfig(per_model=viewer_n, max_chars=viewer_chars,
                                           seed=stats.seed))
    path = report(*inputs, path=out, title=title, png_dir=png_dir, svg_dir=svg_dir,
                  config=cfg, traces=trace_files, progress=True).path
    size = path.stat().st_size
    click.echo(f"wrote {path} ({size / 1e6:.2f} MB)")
    if check:
        from reasonlens.errors import ReasonlensError
        from reasonlens.report.browser import check_report

        try:
            r = check_report(path)
        except RuntimeError as exc:  # no chromium, or the page never finished
            raise ReasonlensError(f"report check could not run: {exc}") from exc
        bad = [c["id"] for c in r.charts if not (c["svg"] or c["canvas"]) or c["error"]]
        if bad or r.console_errors or r.exceptions:
            raise ReasonlensError(f"report check failed: not rendered {bad}; console errors "
                                  f"{r.console_errors[:3]}; exceptions {r.exceptions[:3]}")
        click.echo(f"check: {len(r.charts)} charts rendered offline in headless Chromium")
