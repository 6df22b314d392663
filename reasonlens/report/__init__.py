"""``reasonlens report``: one self-contained HTML file from whichever stage outputs exist.

    from reasonlens.report import build_report
    build_report([Path("out/score"), Path("out/grade")], Path("reports/run.html"))

Pipeline: :func:`reasonlens.stats.load_inputs` -> :func:`reasonlens.stats.analyse` (tidy frames)
-> :mod:`.sections` (Altair charts from :mod:`.charts` + escaped tables) -> :mod:`.html` (one
file, Vega JavaScript embedded once, no URL) -> optional PNG/SVG per figure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reasonlens.report.viewer import ViewerConfig
from reasonlens.stats.bootstrap import StatsConfig


@dataclass(frozen=True)
class ReportConfig:
    """Report settings.

    Attributes:
        stats: statistics settings (bootstrap replicates, seed, level, model family).
        reference: reference model for comparisons (default: first in sorted order).
        top_terms: terms per category chart and per side of a log-odds chart.
        max_excerpts: example judge quotes shown per (model, behaviour); 0 shows none.
        excerpt_chars: longest excerpt shown (longer ones are cut).
        image_scale: PNG scale factor for --png-dir.
        viewer: the trace viewer's sample (responses per model, characters kept ...).
    """

    stats: StatsConfig = field(default_factory=StatsConfig)
    reference: str | None = None
    top_terms: int = 20
    max_excerpts: int = 3
    excerpt_chars: int = 200
    image_scale: float = 2.0
    viewer: ViewerConfig = field(default_factory=ViewerConfig)


def build_sections(tables, inputs, config: ReportConfig, texts: list = ()):
    """The report's sections for the given statistics tables (only those with data).

    ``texts``: extra places holding the response texts for the trace viewer (trace files or
    frames), besides the grade outputs and trace files among the inputs.
    """
    from reasonlens.report import sections as S
    from reasonlens.report.behaviour import section as behaviour_section
    from reasonlens.report.viewer import collect
    from reasonlens.stats.analysis import _models

    models = _models(inputs)
    out = [S.overview(tables, inputs, models),
           S.token_usage(tables, models, config.top_terms),
           S.distinctive(tables, config.top_terms),
           S.length_control(tables, models),
           S.behaviours(tables, inputs, models, max_excerpts=config.max_excerpts,
                        excerpt_chars=config.excerpt_chars),
           behaviour_section(tables, inputs, models),
           S.lengths(tables, models),
           S.accuracy(tables, models),
           S.curves(tables, models, inputs),
           S.ablation(tables),
           S.agreement(tables, inputs),
           S.traces(collect(inputs, config.viewer, list(texts)))]
    return [s for s in out if s is not None]


@dataclass
class ReportBuild:
    """A written report: its path, the statistics tables behind it, section titles, provenance."""

    path: Path
    tables: dict
    sections: list[str]
    provenance: dict


def build_report(inputs, out: Path, *, title: str | None = None,
                 png_dir: Path | None = None, svg_dir: Path | None = None,
                 config: ReportConfig | None = None,
                 on_step: Callable[[str], None] | None = None, texts: list = ()) -> Path:
    """Build the HTML report for ``inputs`` (stage output dirs or trace files) at ``out``.

    Returns the path written. Raises :class:`reasonlens.errors.InputError` for unreadable inputs.
    """
    return render_report(inputs, out, title=title, png_dir=png_dir, svg_dir=svg_dir,
                         config=config, on_step=on_step, texts=texts).path


def render_report(inputs, out: Path, *, title: str | None = None,
                  png_dir: Path | None = None, svg_dir: Path | None = None,
                  config: ReportConfig | None = None,
                  on_step: Callable[[str], None] | None = None,
                  texts: list = ()) -> ReportBuild:
    """:func:`build_report`, returning the tables and provenance too.

    ``inputs``: paths, or an already loaded :class:`reasonlens.stats.inputs.Inputs`.
    ``texts``: trace files or frames holding the response texts for the viewer.
    """
    from reasonlens.io import atomic_write_bytes
    from reasonlens.provenance import provenance
    from reasonlens.report.bundle import bundle_versions, javascript_bundle, vega_lite_version
    from reasonlens.report.html import export_images, render_html
    from reasonlens.stats.analysis import analyse
    from reasonlens.stats.inputs import Inputs, load_inputs

    config = config or ReportConfig()
    step = on_step or (lambda _s: None)
    out = Path(out)
    step("loading inputs")
    loaded = inputs if isinstance(inputs, Inputs) else load_inputs([Path(p) for p in inputs])
    tables = analyse(loaded, config.stats, reference=config.reference, on_step=step)
    step("charts")
    sections = build_sections(tables, loaded, config, texts)
    step("bundling JavaScript")
    js = javascript_bundle(vega_lite_version())
    prov = provenance(command="report", config={
        "stats": config.stats.__dict__, "reference": config.reference,
        "top_terms": config.top_terms, "max_excerpts": config.max_excerpts,
        "viewer": config.viewer.__dict__},
        inputs=[{"kind": i.kind, "path": str(i.path)} for i in loaded.items],
        extra_packages=("vl-convert-python", "numpy", "scipy"))
    prov["bundle"] = bundle_versions()
    prov["data_files"] = [d for i in loaded.items for d in ((i.provenance or {}).get(
        "data_files") or []) if isinstance(d, dict)]
    doc = render_html(sections, title=title or "reasonlens report", bundle_js=js,
                      report_provenance=prov,
                      inputs_provenance=[(i.kind, str(i.path), i.provenance)
                                         for i in loaded.items])
    step("writing")
    atomic_write_bytes(out, doc.encode("utf-8"))
    if png_dir is not None or svg_dir is not None:
        step("exporting images")
        export_images(sections, png_dir=Path(png_dir) if png_dir else None,
                      svg_dir=Path(svg_dir) if svg_dir else None,
                      vl_version=vega_lite_version(), scale=config.image_scale)
    return ReportBuild(out, tables, [s.title for s in sections], prov)


__all__ = ["ReportBuild", "ReportConfig", "build_report", "build_sections", "render_report"]
