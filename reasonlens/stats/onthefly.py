"""Trace files given to ``stats`` / ``report`` are scored on the fly with the default lexicons.

This runs the same streaming scorer as ``reasonlens score`` (so the numbers are identical) into a
temporary directory and reads back its ``responses.parquet`` and ``terms.parquet``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import polars as pl


def score_traces(path: Path, *, progress: bool = False
                 ) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, Any] | None]:
    """Score one trace file; returns (responses, terms, provenance of the scoring)."""
    from reasonlens.io import read_json
    from reasonlens.lexcount.engine import ScoreConfig
    from reasonlens.lexcount.run import run_score

    with tempfile.TemporaryDirectory(prefix="reasonlens-score-") as tmp:
        run_score([str(path)], tmp, ScoreConfig())
        responses = pl.read_parquet(Path(tmp) / "responses.parquet")
        terms = pl.read_parquet(Path(tmp) / "terms.parquet")
        summary = read_json(Path(tmp) / "summary.json")
    prov = summary.get("provenance") if isinstance(summary, dict) else None
    if prov is not None:
        prov = {**prov, "command": "score (on the fly, default lexicons)"}
    return responses, terms, prov
