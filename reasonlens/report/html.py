"""Render sections into ONE self-contained HTML file (no network, no URL).

Layout: a header with a table of contents, one ``<section>`` per input kind present, a provenance
footer. The Vega/Vega-Lite/Vega-Embed JavaScript is embedded once (:mod:`.bundle`); all specs sit
in one ``<script type="application/json">`` element and a small script calls ``vegaEmbed`` once per
spec, then records the outcome on ``<html data-charts-ok=N data-charts-failed=M
data-charts-done=1>`` (read by the browser test). Data text is escaped (:mod:`.tables`).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

from reasonlens.report.bundle import _script_safe
from reasonlens.report.sections import Section
from reasonlens.report.viewer_page import CSS as VIEWER_CSS
from reasonlens.report.tables import clean_json, esc, script_json

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --accent: #0969da; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
       color: var(--fg); background: var(--bg); margin: 0; }
header, main, footer { max-width: 1400px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; border-bottom: 1px solid var(--line); }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 22px; margin-top: 40px;
     border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.meta, .note { color: var(--muted); font-size: 13px; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 6px 18px; }
nav a { color: var(--accent); text-decoration: none; }
figure { margin: 20px 0; overflow-x: auto; } figcaption { color: var(--muted); font-size: 13px; }
.chart { min-height: 60px; }
.table-wrap { overflow: auto; max-height: 640px; max-width: 100%; margin: 12px 0 20px; }
table { border-collapse: separate; border-spacing: 0; font-size: 13px;
        font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 6px 0; font-size: 14px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; z-index: 1; white-space: normal; }
td { white-space: normal; overflow-wrap: break-word; } td.n { white-space: nowrap; }
td.text { min-width: 320px; max-width: 640px; }
details { margin: 10px 0; } summary { cursor: pointer; color: var(--accent); }
footer { border-top: 1px solid var(--line); margin-top: 48px; padding-bottom: 40px; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; font-size: 13px; }
footer dt { color: var(--muted); } footer dd { margin: 0; overflow-wrap: anywhere; }
.chart-error { color: #cf222e; font-weight: 600; }
"""

EMBED_JS = """
(function () {
  var root = document.documentElement;
  var specs = JSON.parse(document.getElementById("rl-specs").textContent);
  var ids = Object.keys(specs), ok = 0, failed = 0;
  var opts = {mode: "vega-lite", renderer: "svg",
              actions: {export: true, source: false, compiled: false, editor: false}};
  function done() {
    root.setAttribute("data-charts-ok", String(ok));
    root.setAttribute("data-charts-failed", String(failed));
    root.setAttribute("data-charts-done", "1");
  }
  if (typeof vegaEmbed !== "function") { failed = ids.length; done();
    console.error("reasonlens: the Vega bundle did not load"); return; }
  var jobs = ids.map(function (id) {
    return vegaEmbed("#" + id, specs[id], opts).then(function (res) {
        ok += 1;
        res.view.addEventListener("click", function (ev, item) {  // open the responses behind it
          if (item && item.datum && window.rlViewer) { window.rlViewer.focus(item.datum); }
        });
      })
      .catch(function (err) {
        failed += 1;
        var el = document.getElementById(id);
        el.className += " chart-error";
        el.textContent = "This chart failed to render: " + err;
        console.error("reasonlens chart " + id + ": " + err);
      });
  });
  Promise.all(jobs).then(done, done);
})();
"""


def _provenance_rows(prov: dict[str, Any] | None) -> list[tuple[str, str]]:
    if not prov:
        return [("provenance", "none recorded")]
    rows = [(k, str(prov[k])) for k in ("command", "reasonlens_version", "git_commit",
                                        "created_utc", "config_hash", "schema_version")
            if prov.get(k) is not None]
    for df in prov.get("data_files") or []:
        if isinstance(df, dict):
            sha = str(df.get("sha256") or "")[:12]
            rows.append((f"{df.get('kind', 'file')}", f"{df.get('name')} v{df.get('version')}"
                                                      + (f" ({sha})" if sha else "")))
    return rows


def _unique_key(key: str, seen: set[str]) -> str:
    """``key``, or ``key-2``, ``key-3``, ... when taken (one figure id per page); marks it taken."""
    out, i = key, 2
    while out in seen:
        out, i = f"{key}-{i}", i + 1
    seen.add(out)
    return out


def render_html(sections: list[Section], *, title: str, bundle_js: str,
                report_provenance: dict[str, Any], inputs_provenance: list[tuple[str, str, dict |
                                                                                 None]]) -> str:
    """The whole document as a string.

    Args:
        sections: what to show, in order.
        title: page title (escaped).
        bundle_js: the Vega JavaScript bundle (embedded once).
        report_provenance: this report's provenance (versions, commit, time).
        inputs_provenance: (kind, path, provenance) of every input.
    """
    specs: dict[str, Any] = {}
    seen: set[str] = set()
    nav, body = [], []
    for sec in sections:
        nav.append(f'<li><a href="#{esc(sec.anchor)}">{esc(sec.title)}</a></li>')
        parts = [f'<section id="{esc(sec.anchor)}"><h2>{esc(sec.title)}</h2>', sec.intro]
        for fig in sec.figures:
            key = _unique_key(fig.key, seen)
            fid = f"fig-{key}"
            specs[fid] = clean_json(fig.spec)
            parts.append(f'<figure><div class="chart" id="{esc(fid)}" data-chart="{esc(key)}">'
                         f"</div>" + (f"<figcaption>{esc(fig.caption)}</figcaption>"
                                      if fig.caption else "") + "</figure>")
        parts += sec.tables
        parts.append("</section>")
        body.append("\n".join(parts))
    scripts = [sec.script for sec in sections if sec.script]
    foot = ["<footer><h2>Provenance</h2><dl>"]
    for k, v in _provenance_rows(report_provenance):
        foot.append(f"<dt>report {esc(k)}</dt><dd>{esc(v)}</dd>")
    pk = report_provenance.get("packages") or {}
    foot.append("<dt>packages</dt><dd>" + esc(", ".join(f"{k} {v}" for k, v in pk.items()
                                                        if v)) + "</dd>")
    for kind, path, prov in inputs_provenance:
        foot.append(f"<dt>input</dt><dd><strong>{esc(kind)}</strong> {esc(path)}</dd>")
        for k, v in _provenance_rows(prov):
            foot.append(f"<dt>&nbsp;&nbsp;{esc(k)}</dt><dd>{esc(v)}</dd>")
    foot.append("</dl></footer>")
    created = report_provenance.get("created_utc") or _dt.datetime.now(
        _dt.timezone.utc).isoformat(timespec="seconds")
    n_figs = len(specs)
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}{VIEWER_CSS}</style>",
        f"<script>{bundle_js}</script></head><body>",
        f"<header><h1>{esc(title)}</h1><p class=\"meta\">reasonlens report · {esc(created)} · "
        f"{n_figs} figures · self-contained (no network needed)</p>",
        f"<nav><ul>{''.join(nav)}</ul></nav></header><main>",
        "\n".join(body), "</main>", "".join(foot),
        f'<script type="application/json" id="rl-specs">{script_json(specs)}</script>',
        f'<script type="application/json" id="rl-provenance">'
        f"{script_json(clean_json(report_provenance))}</script>",
        f"<script>{EMBED_JS}</script>",
        *[f"<script>{_script_safe(js)}</script>" for js in scripts],
        "</body></html>\n",
    ])


def export_images(sections: list[Section], *, png_dir: Path | None, svg_dir: Path | None,
                  vl_version: str, scale: float = 2.0) -> list[Path]:
    """Write one PNG and/or SVG per figure with vl-convert (no network: no base URLs allowed)."""
    import vl_convert as vlc

    written: list[Path] = []
    seen: set[str] = set()
    for sec in sections:
        for fig in sec.figures:
            key = _unique_key(fig.key, seen)
            spec = clean_json(fig.spec)
            if png_dir is not None:
                png_dir.mkdir(parents=True, exist_ok=True)
                p = png_dir / f"{key}.png"
                p.write_bytes(vlc.vegalite_to_png(spec, vl_version=vl_version, scale=scale,
                                                  allowed_base_urls=[]))
                written.append(p)
            if svg_dir is not None:
                svg_dir.mkdir(parents=True, exist_ok=True)
                p = svg_dir / f"{key}.svg"
                p.write_text(vlc.vegalite_to_svg(spec, vl_version=vl_version,
                                                 allowed_base_urls=[]), encoding="utf-8")
                written.append(p)
    return written
