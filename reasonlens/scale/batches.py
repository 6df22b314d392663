"""Stage functions over Arrow tables: the same pure code as one process, one batch at a time.

Each function takes a ``pyarrow.Table`` (one batch) and returns one, so an engine that hands out
Arrow record batches (Ray Data ``map_batches(..., batch_format="pyarrow")``, or a plain loop over
``pyarrow.parquet.ParquetFile.iter_batches``) runs the stages unchanged:

- :func:`traces_table`: raw JSON records -> trace rows (:data:`reasonlens.schema.TRACE_SCHEMA`),
  through the loader's own field mapping and ``<think>`` split;
- :func:`score_table`: traces -> scored responses (``lexcount.engine.score_batch``), each row
  carrying its term counts in a nested ``__terms`` column (split by :func:`responses_of` and
  :func:`terms_of`); with ``behaviours`` the offline detector's columns are added;
- :func:`grade_table`: traces -> graded traces (``grade.core.grade_frame``), and
  :func:`grade_metric_rows`: the slim rows grade's metrics (pass@k, maj@k) are computed from;
- :func:`detect_table`: traces -> the offline detector's frame (``judge.offline.detect``);
- :func:`partial_table`: scored responses -> additive partial counts
  (``lexcount.aggregate.partial_counts``), merged by adding and finished once at the end.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.lexcount.engine import ScoreConfig, score_batch

TERMS_COLUMN = "__terms"
_TERM_FIELDS = ("category", "term", "part", "count")


def _frame(table) -> pl.DataFrame:
    return pl.from_arrow(table) if not isinstance(table, pl.DataFrame) else table


def traces_table(records, *, load_options=None, source: str = "ray") -> Any:
    """Raw records (one JSON object per row; a ``path`` column, when present, names the file
    each came from) -> trace rows, with the loader's layout detection and field mapping.

    Records must number their samples themselves (a ``sample`` or ``id`` field): a per-file
    counter cannot run across batches that different workers read."""
    from reasonlens.schema import TRACE_SCHEMA
    from reasonlens.traces.load import LoadOptions, _mapping_for, _RowBuilder

    options = load_options or LoadOptions()
    rows: list[dict[str, Any]] = []
    recs = records.to_pylist()
    builders: dict[str, Any] = {}
    for i, rec in enumerate(recs, 1):
        path = rec.pop("path", None) or source
        rec = {k: v for k, v in rec.items() if v is not None}  # Arrow fills absent keys with null
        builder = builders.get(path)
        if builder is None:
            builder = builders[path] = _RowBuilder(_mapping_for(options, rec, path, i), options,
                                                   path, {})
            if "sample" not in builder.m and "id" not in builder.m:
                raise ConfigError(f"{path}: records carry neither 'sample' nor 'id'; a "
                                  "distributed run cannot number samples across batches. "
                                  "Add one of them, or score on one machine")
        rows.extend(builder.rows(rec, i))
    return pl.DataFrame(rows, schema=TRACE_SCHEMA).to_arrow()


def score_table(traces, *, config: ScoreConfig, behaviours: bool = False) -> Any:
    """Traces -> scored responses with their term rows nested in ``__terms`` (same counts as
    ``reasonlens score``: ``score_batch`` is the one scoring function)."""
    batch = _frame(traces)
    resp, terms = score_batch(batch, config.matcher(), config)
    if behaviours:  # on the text --parts names, as `reasonlens score --behaviours`
        from reasonlens.judge.stage import behaviour_hook
        from reasonlens.lexcount.run import _with_behaviours

        hook, _ = behaviour_hook(parts=config.parts)
        resp = _with_behaviours(resp, hook(batch))
    nested = (terms.with_row_index("__order").group_by("id", maintain_order=True)
              .agg(pl.struct(*_TERM_FIELDS).sort_by(pl.col("__order")).alias(TERMS_COLUMN)))
    return resp.join(nested, on="id", how="left", maintain_order="left").to_arrow()


def responses_of(scored) -> Any:
    """The responses of a scored batch (without the nested terms)."""
    return _frame(scored).drop(TERMS_COLUMN).to_arrow()


def terms_of(scored) -> Any:
    """The long term rows of a scored batch, columns as ``terms.parquet``."""
    from reasonlens.schema import TERMS_SCHEMA

    df = _frame(scored).select("id", "model", "benchmark", "problem_id", TERMS_COLUMN)
    long = df.explode(TERMS_COLUMN, empty_as_null=False, keep_nulls=False).unnest(TERMS_COLUMN)
    return long.select([pl.col(k).cast(v) for k, v in TERMS_SCHEMA.items()]).to_arrow()


def partial_table(scored, *, categories: tuple[str, ...], parts: str = "all") -> Any:
    """Additive partial counts of a scored batch (see ``lexcount.aggregate.partial_counts``)."""
    from reasonlens.lexcount.aggregate import partial_counts

    df = _frame(scored)
    return partial_counts(df.drop(TERMS_COLUMN), pl.from_arrow(terms_of(df)), categories,
                          parts=parts).to_arrow()


def grade_table(traces, *, config=None) -> Any:
    """Traces -> graded traces (``extracted``, ``correct``, ``grade_reason``, ``answer_type``)."""
    from reasonlens.grade.core import grade_frame

    return grade_frame(_frame(traces), config).to_arrow()


def grade_metric_rows(graded) -> Any:
    """The slim per-response rows that grade's metrics are computed from (after the merge)."""
    from reasonlens.grade.run import _metric_rows

    return _metric_rows(_frame(graded)).to_arrow()


def detect_table(traces, *, config=None) -> Any:
    """Traces -> the offline behaviour detector's frame (one row per trace, same order)."""
    from reasonlens.judge import offline

    return offline.detect(_frame(traces), config).to_arrow()
