"""Declared polars schemas of the frames that stages exchange, and the names they share.

Every frame that crosses a stage boundary is declared here, once, and imported by the stages that
write or read it, so any stage can be re-run or resumed from the parquet files on disk:

- traces (:data:`TRACE_SCHEMA`): one row per response, from :mod:`reasonlens.traces`;
- term counts (:data:`TERMS_SCHEMA`): score's ``terms.parquet``, long and nonzero only;
- responses (:func:`responses_schema`): score's ``responses.parquet``, one row per response;
- judgments (:func:`judgment_schema`, built by :func:`judgment_frame`): one row per response with
  ``B_count`` / ``B_status`` / ``B_instances`` per behaviour B, from the LLM judge and the offline
  detector alike;
- instances (:data:`INSTANCE_SCHEMA`): the judge's long ``instances.parquet``;
- graded rows (:data:`GRADE_SCHEMA`): the columns grade adds to a trace frame.

Bump ``SCHEMA_VERSION`` when a column changes meaning.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

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
    "step": pl.Int64,             # training step / checkpoint that produced it (optional)
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


# --- names shared by every stage ------------------------------------------------------------

# The columns that identify a response in every per-response frame (traces, responses, judgments).
ID_COLUMNS = ("id", "model", "benchmark", "problem_id", "sample")
ID_SCHEMA: dict[str, pl.DataType] = {c: TRACE_SCHEMA[c] for c in ID_COLUMNS}

# The paper's two judged behaviours (arXiv 2505.21067, Figure 4); the default rubrics and gold labels.
BEHAVIOURS = ("multi_perspective", "metacognitive")


def response_ids(responses: pl.DataFrame | pl.LazyFrame) -> pl.Expr:
    """``pl.col("id")`` as a key for counting distinct responses (``n_unique``) among rows whose
    ids are ids of ``responses``: their 64-bit hashes when the responses' ids all hash apart
    (checked here; hashing once and counting integers is several times cheaper than comparing
    strings in every group), else the ids themselves. Exact either way."""
    ids = pl.col("id")
    n, distinct = responses.lazy().select(pl.len(), ids.hash().n_unique()).collect().row(0)
    return ids.hash() if distinct == n else ids


def behaviours_in(frame: pl.DataFrame | pl.LazyFrame | Iterable[str]) -> list[str]:
    """Behaviour keys of a frame (or a list of column names): every B with ``B_count`` and
    ``B_status`` columns, in column order."""
    if isinstance(frame, pl.LazyFrame):
        columns = frame.collect_schema().names()
    elif isinstance(frame, pl.DataFrame):
        columns = frame.columns
    else:
        columns = list(frame)
    present = set(columns)
    return [c[: -len("_count")] for c in columns
            if c.endswith("_count") and f"{c[:-len('_count')]}_status" in present]


# --- score: term counts and responses -------------------------------------------------------

# a response's two texts, as score counts them; "all" is both (--parts)
TEXT_PARTS = ("reasoning", "answer")
PARTS = ("all", *TEXT_PARTS)

# terms.parquet: long, nonzero only; part is one of TEXT_PARTS.
TERMS_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String, "model": pl.String, "benchmark": pl.String, "problem_id": pl.String,
    "category": pl.String, "term": pl.String, "part": pl.String, "count": pl.UInt32}

# responses.parquet: these key columns (from the traces), then words and the per-category counts.
RESPONSE_KEY_COLUMNS = (*ID_COLUMNS, "finish_reason", "think_closed", "completion_tokens", "step")


def response_count_columns(categories: Sequence[str]) -> list[str]:
    """The per-category columns of responses.parquet: C, C_reasoning, C_answer, C_per_1k."""
    return [f"{c}{s}" for c in categories for s in ("", "_reasoning", "_answer", "_per_1k")]


def responses_schema(categories: Sequence[str]) -> dict[str, pl.DataType]:
    """Columns and types of score's responses.parquet for these categories (lexicons)."""
    schema: dict[str, pl.DataType] = {c: TRACE_SCHEMA[c] for c in RESPONSE_KEY_COLUMNS}
    schema.update({"words": pl.UInt32, "words_reasoning": pl.UInt32, "words_answer": pl.UInt32})
    for c in categories:
        schema.update({c: pl.UInt32, f"{c}_reasoning": pl.UInt32, f"{c}_answer": pl.UInt32,
                       f"{c}_per_1k": pl.Float64})
    return schema


# --- judge: judgments and instances ---------------------------------------------------------

# Per behaviour B: B_count (Int64, in the run's count unit; null = missing, never 0),
# B_sentences (labelled sentences), B_status (ok | parse_error | refusal | error | skipped),
# B_instances (JSON list of {"quote", "sentence", "chunk"}).
JUDGMENT_COLUMNS: dict[str, pl.DataType] = {"count": pl.Int64, "sentences": pl.Int64,
                                            "status": pl.String, "instances": pl.String}
# After the behaviours: judge, taxonomy, mode (count | sentences | detector) and count unit
# (episodes = maximal runs of consecutive labelled sentences | sentences), constant per run; then
# per response n_chunks and n_sentences (sentences of the judged text, for positions).
JUDGMENT_RUN_COLUMNS: dict[str, pl.DataType] = {"judge": pl.String, "taxonomy": pl.String,
                                                "mode": pl.String, "count_unit": pl.String,
                                                "n_chunks": pl.Int64, "n_sentences": pl.Int64}
# Audit columns the LLM judge adds per behaviour, after judge and n_chunks.
JUDGMENT_AUDIT_COLUMNS: dict[str, pl.DataType] = {"reason": pl.String, "raw": pl.String}


def judgment_schema(behaviours: Sequence[str], *, audit: bool = False) -> dict[str, pl.DataType]:
    """The judge frame: ids, B_count/B_sentences/B_status/B_instances per behaviour, judge,
    taxonomy, mode, count_unit, n_chunks and, with ``audit``, B_reason/B_raw per behaviour."""
    schema: dict[str, pl.DataType] = dict(ID_SCHEMA)
    for b in behaviours:
        schema.update({f"{b}_{k}": t for k, t in JUDGMENT_COLUMNS.items()})
    schema.update(JUDGMENT_RUN_COLUMNS)
    if audit:
        for b in behaviours:
            schema.update({f"{b}_{k}": t for k, t in JUDGMENT_AUDIT_COLUMNS.items()})
    return schema


def judgment_frame(traces: pl.DataFrame, per_behaviour: Mapping[str, Mapping[str, list]], *,
                   judge: str, n_chunks: list[int], audit: bool = False,
                   taxonomy: str | None = None, mode: str | None = None,
                   unit: str | None = None, n_sentences: list[int] | None = None
                   ) -> pl.DataFrame:
    """Build the judge frame for ``traces`` (ids are taken from it, null when absent).

    ``per_behaviour[b]`` holds the lists ``count``, ``status``, ``instances`` (optionally
    ``sentences``; ``reason``, ``raw`` with ``audit``), one value per trace row."""
    n = traces.height
    data: dict[str, Any] = {c: (traces.get_column(c).to_list() if c in traces.columns
                                else [None] * n) for c in ID_COLUMNS}
    keys = {**JUDGMENT_COLUMNS, **(JUDGMENT_AUDIT_COLUMNS if audit else {})}
    for b, cols in per_behaviour.items():
        data.update({f"{b}_{k}": cols[k] if k in cols else [None] * n for k in keys})
    data.update({"judge": [judge] * n, "taxonomy": [taxonomy] * n, "mode": [mode] * n,
                 "count_unit": [unit] * n, "n_chunks": n_chunks,
                 "n_sentences": n_sentences if n_sentences is not None else [None] * n})
    schema = judgment_schema(list(per_behaviour), audit=audit)
    return pl.DataFrame({k: data[k] for k in schema}, schema=schema)


# instances.parquet: one row per instance (a quoted piece of evidence or a labelled sentence), for
# the LLM judge (both modes) and the offline detector alike; episode = 1-based number of the run
# of consecutive labelled sentences it belongs to within (id, behaviour); counted = its
# response's status is ok.
INSTANCE_SCHEMA: dict[str, pl.DataType] = {
    "id": pl.String, "behaviour": pl.String, "quote": pl.String, "sentence": pl.Int64,
    "episode": pl.Int64, "chunk": pl.Int64, "explanation": pl.String, "char_start": pl.Int64,
    "char_end": pl.Int64, "counted": pl.Boolean}


# --- grade ----------------------------------------------------------------------------------

# The columns grade adds to a trace frame (graded.parquet keeps every trace column too).
GRADE_SCHEMA: dict[str, pl.DataType] = {"extracted": pl.String, "correct": pl.Boolean,
                                        "grade_reason": pl.String, "answer_type": pl.String}
