"""Escaped HTML tables and text helpers for the report (no raw HTML from data ever).

Every string that comes from the data goes through :func:`esc` (``html.escape`` plus
``http:`` -> ``http&#58;`` so a URL quoted in a trace is shown, not linked, and the file holds no
URL). JSON for ``<script>`` elements goes through :func:`script_json` (``<``, ``>``, ``&``,
U+2028/2029 and the colon after ``http``/``https`` as ``\\uXXXX`` escapes, so JSON.parse returns
the exact text while the HTML parser never sees a closing tag).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

_URL_SCHEME = re.compile(r"(https?):", re.IGNORECASE)


def esc(value: Any) -> str:
    """HTML-escape any value for text or attribute context."""
    return _URL_SCHEME.sub(r"\1&#58;", html.escape("" if value is None else str(value),
                                                    quote=True))


def script_json(obj: Any) -> str:
    """JSON text safe to place inside ``<script type="application/json">``."""
    s = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                   default=str)
    s = (s.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
         .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return _URL_SCHEME.sub(r"\1\\u003a", s)


def clean_json(obj: Any) -> Any:
    """Replace non-finite floats (NaN, inf) by None, recursively (strict JSON)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    return obj


def num(v: Any, digits: int = 3) -> str:
    if isinstance(v, float) and math.isinf(v):
        return "∞" if v > 0 else "-∞"
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    return f"{v:.{digits}f}" if abs(v) >= 10 ** -digits or v == 0 else f"{v:.2g}"


def pct(v: Any, digits: int = 1) -> str:
    return "–" if v is None else f"{100 * v:.{digits}f}%"


def pval(v: Any) -> str:
    if v is None:
        return "–"
    return "<1e-16" if v < 1e-16 else (f"{v:.2g}" if v < 0.001 else f"{v:.3f}")


def with_ci(est: Any, lo: Any, hi: Any, fmt: Callable[[Any], str] = num) -> str:
    """'0.512 [0.431, 0.598]' (or '–' parts when missing)."""
    if est is None:
        return "–"
    if lo is None or hi is None:
        return f"{fmt(est)} [CI n/a]"
    return f"{fmt(est)} [{fmt(lo)}, {fmt(hi)}]"


Column = tuple[str, Callable[[dict], Any]]


def html_table(rows: Sequence[dict], columns: Sequence[Column], *, caption: str | None = None,
               max_rows: int | None = None, collapsed: bool = False,
               summary: str | None = None, text_columns: Sequence[str] = ()) -> str:
    """An escaped table; ``columns`` are (header, row -> value); ``text_columns`` wrap."""
    head = "".join(f"<th>{esc(h)}</th>" for h, _ in columns)
    shown = list(rows)[:max_rows] if max_rows else list(rows)
    texts = [h in text_columns for h, _ in columns]
    body = "".join("<tr>" + "".join(_cell(f(r), t) for t, (_, f) in zip(texts, columns))
                   + "</tr>" for r in shown)
    more = (f'<p class="note">{esc(len(rows) - len(shown))} more rows in the '
            f'<code>reasonlens stats</code> output.</p>' if len(shown) < len(rows) else "")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    table = (f'<div class="table-wrap"><table>{cap}<thead><tr>{head}</tr></thead>'
             f"<tbody>{body}</tbody></table>{more}</div>")
    if collapsed:
        return f"<details><summary>{esc(summary or caption or 'Table')}</summary>{table}</details>"
    return table


_NUMERIC = re.compile(r"^[-–∞<>+]?[\d.∞–]")


def _cell(value: Any, text: bool) -> str:
    """One cell: numbers (and 'x [lo, hi]') never break; other text wraps so no table clips."""
    v = esc(value)
    if text:
        return f'<td class="text">{v}</td>'
    raw = "" if value is None else str(value)
    return f'<td class="n">{v}</td>' if _NUMERIC.match(raw) else f"<td>{v}</td>"


def rows_of(df: pl.DataFrame | None) -> list[dict]:
    return [] if df is None else df.to_dicts()


def wide_metrics(df: pl.DataFrame, keys: list[str], metric_col: str = "metric") -> list[dict]:
    """Tidy (keys, metric, estimate, ci_low, ci_high, n...) -> one dict per keys with
    ``{metric: (est, lo, hi)}`` entries, keeping n columns."""
    out: dict[tuple, dict] = {}
    for r in df.iter_rows(named=True):
        k = tuple(r[c] for c in keys)
        d = out.setdefault(k, {c: r[c] for c in keys})
        d[r[metric_col]] = (r["estimate"], r["ci_low"], r["ci_high"])
        for n in ("n_responses", "n_problems", "n_missing"):
            if n in r:
                d[n] = r[n]
    return list(out.values())


def ci_cell(metric: str, fmt: Callable[[Any], str] = num) -> Callable[[dict], str]:
    def f(r: dict) -> str:
        v = r.get(metric)
        if v is None:
            return "–"
        if v[0] == 0 and v[1] in (0, None) and v[2] in (0, None):
            return "0 (no hits)"
        return with_ci(*v, fmt=fmt)
    return f
