"""Column helpers of the loader's columnar path: Python's whitespace, blanks, defaults, the
think split of a column of responses (``split_columns``), the turns of chat messages, JSON
escapes and sample numbers, as the record-by-record path gives them per row
(:mod:`reasonlens.traces.model`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from reasonlens.traces import thinksplit
from reasonlens.traces.model import THINK_CLOSE, THINK_OPEN

# Python's str.strip() whitespace, every c with chr(c).isspace() (polars' default strip leaves
# U+001C..U+001F in place); tests/test_think_split.py checks the list
PY_WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
                 "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")

def blank(s: pl.Series) -> pl.Series:
    """Empty or whitespace only (Python's whitespace); only texts that start with whitespace
    (or are empty) are stripped to see."""
    first = s.str.head(1)
    maybe = (first == "") | first.is_in(list(PY_WHITESPACE))
    if not maybe.any():
        return maybe
    return maybe & (s.str.strip_chars(PY_WHITESPACE) == "")


def empty_as_null(s: pl.Series) -> pl.Series:
    return pl.select(pl.when(s == "").then(None).otherwise(s).alias(s.name)).to_series()


def or_default(s: pl.Series, default: str) -> pl.Series:
    return s.fill_null(default).replace("", default)


def split_columns(response: pl.Series, reasoning: pl.Series) -> list[pl.Series]:
    """``response``, ``reasoning``, ``answer`` and ``think_closed`` as
    :func:`reasonlens.traces.model.split_reasoning` and ``join_reasoning`` give them per row.

    The tags are found as byte offsets (``str.find``) and each part is one byte range of the
    response (the tags are ASCII, so every cut is at a character boundary): the branches are
    chosen on the integer offsets, so each part is cut and stripped once per row (polars
    computes every branch of a ``when`` for every row). The separate-reasoning branches are
    left out when no row has a reasoning field; there, with the compiled split
    (:mod:`reasonlens.traces.thinksplit`), the parts are views into the responses' bytes."""
    ws, n_open, n_close = PY_WHITESPACE, len(THINK_OPEN), len(THINK_CLOSE)
    frame = pl.DataFrame({"resp": response.fill_null(""), "rc": reasoning})
    with_rc = bool((frame["rc"].fill_null("") != "").any())
    if not with_rc and thinksplit.available():  # views into the responses' bytes, no copy
        return [frame["resp"].alias("response"), *thinksplit.split_views(frame["resp"])]
    frame = frame.with_columns(pl.col("resp").str.find(THINK_CLOSE, literal=True).alias("close"),
                               pl.col("resp").str.find(THINK_OPEN, literal=True).alias("open"),
                               (pl.col("rc").fill_null("") != "").alias("has_rc"))
    close, opened, has_rc = pl.col("close"), pl.col("open"), pl.col("has_rc")
    closed, only_open = close.is_not_null(), close.is_null() & opened.is_not_null()
    end = pl.col("resp").str.len_bytes()
    # the parts as byte ranges: think block [t_start, t_start + t_len), answer [a_start, end)
    inner = opened + n_open
    t_start = pl.when(closed).then(pl.when(inner <= close).then(inner).otherwise(0)) \
        .when(only_open).then(inner).otherwise(0)
    frame = frame.with_columns(t_start.cast(pl.Int64).alias("t_start"))
    t_len = pl.when(closed).then(close - pl.col("t_start")) \
        .when(only_open).then(end - pl.col("t_start")).otherwise(0)
    a_start = pl.when(closed).then(close + n_close).when(only_open).then(end).otherwise(0)
    if with_rc:  # a separate reasoning field: the response is the answer, whole
        t_len = pl.when(has_rc).then(0).otherwise(t_len)
        a_start = pl.when(has_rc).then(0).otherwise(a_start)
    raw = pl.col("resp").cast(pl.Binary)
    reasoning_e = raw.bin.slice(pl.col("t_start"), t_len.cast(pl.Int64)).cast(pl.String) \
        .str.strip_chars(ws)
    answer_e = raw.bin.slice(a_start.cast(pl.Int64)).cast(pl.String).str.strip_chars(ws)
    closed_e = pl.when(closed).then(pl.lit(True)).when(opened.is_not_null()) \
        .then(pl.lit(False)).otherwise(pl.lit(None, dtype=pl.Boolean))
    if with_rc:
        reasoning_e = pl.when(has_rc).then(pl.col("rc").str.strip_chars(ws)) \
            .otherwise(reasoning_e)
        closed_e = pl.when(has_rc).then(pl.lit(True)).otherwise(closed_e)
    out = frame.select(reasoning_e.alias("reasoning"), answer_e.alias("answer"),
                       closed_e.alias("think_closed"), pl.col("resp"), has_rc)
    full = out["resp"]
    if with_rc:
        full = out.select(
            pl.when(~pl.col("has_rc")).then(pl.col("resp"))
            .when(pl.col("reasoning") == "").then(pl.col("answer"))
            .otherwise(pl.concat_str(pl.lit(THINK_OPEN + "\n"), pl.col("reasoning"),
                                     pl.lit("\n" + THINK_CLOSE + "\n\n"), pl.col("answer")))
            .alias("response"))["response"]
    return [full.alias("response"), out["reasoning"], out["answer"], out["think_closed"]]


CHAT_REASONING = ("reasoning_content", "reasoning", "thinking")


def chat_turns(messages: pl.Series) -> pl.DataFrame | None:
    """Per record with an assistant turn, in record order, what the row path's
    ``_chat_messages`` takes from its ``messages``: ``pos`` of the last assistant turn, its
    ``content``, its first non-empty ``reasoning_content`` / ``reasoning`` / ``thinking``
    (``reasoning``) and the content of the nearest user turn before it (``prompt``). None
    when the column is not a list of turns with text roles, contents and reasoning fields."""
    dtype = messages.dtype
    if not isinstance(dtype, pl.List) or messages.null_count() \
            or not isinstance(dtype.inner, pl.Struct):
        return None
    types = {f.name: f.dtype for f in dtype.inner.fields}
    extra = [k for k in CHAT_REASONING if k in types]
    if types.get("role") != pl.String or types.get("content") != pl.String \
            or any(types[k] not in (pl.String, pl.Null) for k in extra):
        return None
    counts = messages.list.len().to_numpy().astype(np.int64)
    rec = np.repeat(np.arange(len(messages), dtype=np.int64), counts)
    m = messages.explode(keep_nulls=False, empty_as_null=False)
    f = pl.DataFrame({"rec": rec, "pos": np.arange(len(rec)) - np.repeat(
        np.cumsum(counts) - counts, counts), "role": m.struct.field("role"),
        "content": m.struct.field("content"),
        **{k: m.struct.field(k).cast(pl.String) for k in extra}})
    last = f.filter(pl.col("role") == "assistant").group_by("rec").agg(
        pl.col("pos").max().alias("at"))
    f = f.join(last, on="rec")
    turn = f.filter(pl.col("pos") == pl.col("at")).sort("rec")
    user = f.filter((pl.col("role") == "user") & (pl.col("pos") < pl.col("at"))).group_by(
        "rec").agg(pl.col("content").sort_by("pos").last().alias("prompt"))
    reasoning = pl.lit(None, dtype=pl.String)
    for k in reversed(extra):  # the first non-empty of them
        reasoning = pl.when(pl.col(k).fill_null("") != "").then(pl.col(k)).otherwise(reasoning)
    return turn.join(user, on="rec", how="left", maintain_order="left").select(
        "pos", "content", reasoning.alias("reasoning"), "prompt")


def message_value(key: str, at: pl.Series):
    """What the row path reads from record r's messages (``at``: its last assistant turn):
    that turn's content, its first truthy reasoning field, or the nearest user turn's content
    before it (``key``: content, reasoning, prompt)."""
    def value(rec: Any, r: int) -> Any:
        msgs = rec.get("messages") if isinstance(rec, dict) else None
        i = int(at[r])
        if not isinstance(msgs, list) or i >= len(msgs) or not isinstance(msgs[i], dict):
            return None
        if key == "content":
            return msgs[i].get("content")
        if key == "reasoning":
            return next((msgs[i][k] for k in CHAT_REASONING if msgs[i].get(k)), None)
        return next((msgs[j].get("content") for j in range(i - 1, -1, -1)
                     if isinstance(msgs[j], dict) and msgs[j].get("role") == "user"), None)
    return value


#: what orjson escapes in a string: the quote, the backslash and the control characters
JSON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n",
                "\r": "\\r", "\t": "\\t",
                **{chr(c): f"\\u{c:04x}" for c in range(32) if chr(c) not in "\b\f\n\r\t"}}


def sample_numbers(df: pl.DataFrame, counters: dict[tuple, int]
                   ) -> tuple[pl.DataFrame, dict[tuple, int]]:
    """Sample numbers: the record's own, else the next free number of its (model, benchmark,
    problem[, step]) counted across batches; the counters' new values are returned, for the
    caller to commit once the whole chunk is known to be good."""
    key_cols = ["model", "benchmark", "problem_id", "step"]
    todo = df.filter(pl.col("rec_sample").is_null())
    keys: dict[tuple, int] = {}
    if len(todo):
        groups = todo.group_by(key_cols, maintain_order=True).len()
        start = []
        for m, bch, p, st, k in groups.iter_rows():
            key = (m, bch, p) if st is None else (m, bch, p, st)
            first = counters.get(key, 0)
            keys[key] = first + k
            start.append(first)
        groups = groups.with_columns(pl.Series("first", start, dtype=pl.Int64))
        df = df.with_row_index("_row").join(groups.drop("len"), on=key_cols, how="left",
                                            nulls_equal=True, maintain_order="left")
        df = df.with_columns(
            pl.when(pl.col("rec_sample").is_null())
            .then(pl.col("first") + pl.int_range(pl.len()).over(
                key_cols + [pl.col("rec_sample").is_null()]))
            .otherwise(pl.col("rec_sample")).alias("sample")).drop("_row", "first")
    else:
        df = df.with_columns(pl.col("rec_sample").alias("sample"))
    return df, keys


__all__ = ["CHAT_REASONING", "JSON_ESCAPES", "PY_WHITESPACE", "blank", "chat_turns",
           "empty_as_null", "message_value", "or_default", "sample_numbers", "split_columns"]
