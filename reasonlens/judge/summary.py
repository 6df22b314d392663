"""summary.json of a judge run: per model and benchmark, for each behaviour, the mean count per
response and the share of responses with at least one instance (over responses whose status is
``ok``), n, the number missing and the status counts. Works for the LLM judge and the offline
detector alike (same frame)."""

from __future__ import annotations

from typing import Any

import polars as pl

from reasonlens.schema import behaviours_in


def _stats(df: pl.DataFrame, b: str) -> dict[str, Any]:
    counts = df.get_column(f"{b}_count")
    ok = counts.drop_nulls()
    statuses = df.get_column(f"{b}_status").value_counts(sort=True)
    n = ok.len()
    return {"n": int(n), "n_missing": int(counts.null_count()),
            "mean_count": float(ok.mean()) if n else None,
            "share_with_any": float((ok >= 1).mean()) if n else None,
            "median_count": float(ok.median()) if n else None,
            "total_instances": int(ok.sum()) if n else 0,
            "statuses": {str(r[0]): int(r[1]) for r in statuses.iter_rows()}}


def _block(df: pl.DataFrame, behaviours: list[str]) -> dict[str, Any]:
    return {"n_responses": df.height, "behaviours": {b: _stats(df, b) for b in behaviours}}


def summarise(frame: pl.DataFrame, behaviours: list[str] | None = None) -> dict[str, Any]:
    """Figures per model (and per benchmark within each model) and overall."""
    behaviours = behaviours or behaviours_in(frame)
    out: dict[str, Any] = {"behaviours": behaviours, "overall": _block(frame, behaviours),
                           "models": {}}
    f = frame.with_columns(pl.col("model").fill_null("(none)"),
                           pl.col("benchmark").fill_null("(none)"))
    for (model,), mdf in sorted(f.group_by(["model"], maintain_order=True),
                                key=lambda x: str(x[0][0])):
        block = _block(mdf, behaviours)
        block["benchmarks"] = {
            str(bench): _block(bdf, behaviours)
            for (bench,), bdf in sorted(mdf.group_by(["benchmark"], maintain_order=True),
                                        key=lambda x: str(x[0][0]))}
        out["models"][str(model)] = block
    return out
