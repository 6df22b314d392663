"""Declared polars schemas of the frames that stages exchange.

Every stage reads and writes frames with these columns, so any stage can be re-run or resumed from
the parquet files on disk. Bump ``SCHEMA_VERSION`` when a column changes meaning.
"""

from __future__ import annotations

import polars as pl

SCHEMA_VERSION = "1"

# One row per response.
TRACE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String,              # stable id: given by the input, else model:benchmark:problem:sample
    "model": pl.String,
    "benchmark": pl.String,
    "problem_id": pl.String,
    "sample": pl.Int64,           # sample index within (model, benchmark, problem)
    "prompt": pl.String,          # problem statement or rendered prompt (may be empty)
    "response": pl.String,        # the full text the model produced (reasoning + answer)
    "reasoning": pl.String,       # the thinking part ("" when the model has none)
    "answer": pl.String,          # the part after </think> (the whole response when no tags)
    "think_closed": pl.Boolean,   # False when <think> opened but never closed (truncation)
    "gold": pl.String,            # reference answer, when known
    "finish_reason": pl.String,   # "stop", "length", ... when known
    "prompt_tokens": pl.Int64,
    "completion_tokens": pl.Int64,
    "metadata": pl.String,        # free metadata, a JSON object as text
    "source": pl.String,          # file (or dataset) the row came from
    "source_line": pl.Int64,      # 1-based line (JSONL) or row index + 1 (parquet/datasets)
}

TRACE_COLUMNS = tuple(TRACE_SCHEMA)
REQUIRED_TRACE_FIELDS = ("response",)


def empty_traces() -> pl.DataFrame:
    return pl.DataFrame(schema=TRACE_SCHEMA)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Cast and order ``df`` to ``schema``, adding missing columns as nulls; extra columns stay after."""
    exprs = []
    for name, dtype in schema.items():
        if name in df.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    extra = [c for c in df.columns if c not in schema]
    return df.select(exprs + [pl.col(c) for c in extra])
