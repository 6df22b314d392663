"""The loader's columnar path: a chunk of JSONL lines straight into a trace frame.

For JSONL files whose fields are paths of keys (flat records; OpenAI chat and completion,
vLLM, lm-eval, lighteval and multi-response dumps, one row per element of their list; chat
messages, their last assistant turn; :func:`eligible`), :func:`prepare_chunk` parses a chunk of whole lines
with ``pl.read_ndjson`` (in Rust, without the GIL; once where no key is lost,
:mod:`reasonlens.traces.jsonkeys`) and derives every trace column with polars expressions;
:func:`finish_chunk` then numbers the samples and makes the ids, in input order, while the next
chunks are prepared in threads (:func:`iter_jsonl_source`). Parquet tables take the same
columns (:mod:`reasonlens.traces.columnar_parquet`).

It gives exactly the rows of the record-by-record path (:class:`reasonlens.traces.load._RowBuilder`)
or nothing: whenever the chunk holds anything that path would treat differently, or that polars
reads less strictly than the project's JSON reader, it returns ``None`` and the caller reads
that chunk record by record (so errors name file, line and field as always). Such chunks:

- any line polars cannot parse, blank lines, NaN / Infinity, invalid UTF-8, a NUL in a text
  (polars reads a lone escaped surrogate, ``\\ud83d``, as NUL), integers beyond 64 bits;
- a value of another JSON type than the field takes: polars turns numbers, booleans, lists and
  objects found in a column of strings into their text (``5`` -> ``"5"``), so the values that
  could be such text are looked up: a top-level key's token in the chunk shows a quote after
  its colon, or the line is parsed again with the project's reader and compared;
- anything that is an error or a special case for the row path: missing or empty responses,
  negative counts, floats in integer fields, a duplicate id, list-valued fields, a field that a
  record is the first to carry (``optional_fields``), ids and labels given as floats or booleans.

Duplicate keys inside one JSON object are undefined in JSON (RFC 8259): polars keeps the first,
the row path the last.
"""

from __future__ import annotations

import copy
import hashlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import orjson
import polars as pl

from reasonlens.errors import InputError
from reasonlens.records import chunk_lines, iter_jsonl_chunks, loads
from reasonlens.schema import TRACE_SCHEMA
from reasonlens.traces.columns import (JSON_ESCAPES, blank, chat_turns, empty_as_null,
                                       message_value, or_default, sample_numbers, split_columns)
from reasonlens.traces.formats import lighteval_choices, lighteval_gold
from reasonlens.traces.jsonkeys import SchemaHint, read_lines
from reasonlens.traces.layouts import _split_path, get_path, pending_paths
from reasonlens.traces.model import (BATCH_BYTES, INTEGER_FLOATS, META_TEXT_MAX, batch_slices,
                                     gold_text)

if TYPE_CHECKING:
    from reasonlens.traces.ids import SeenIds
    from reasonlens.traces.load import LoadOptions, LoadReport, _RowBuilder

TEXT_FIELDS = ("response", "reasoning", "prompt")
LABEL_FIELDS = ("id", "model", "benchmark", "problem_id", "finish_reason")
INT_FIELDS = ("sample", "prompt_tokens", "completion_tokens", "step")
# polars turns a number, boolean, list or object found in a column of strings into text (floats
# in Rust's notation: 5.0 -> "5", 1e-7 -> "0.0000001", 1e20 -> "100000000000000000000"); only
# the values that could be such text have their lines parsed again to learn their JSON type.
# Any number is suspect in a text field; for gold answers and labels only the numbers whose text
# differs between the two notations (an integer reads "27" either way, as 3.21 does).
# A list or an object reads "[...]" or "{...}". The patterns are anchored at the start, so
# the regex gives up on the first character of almost every text (one pass, no sieve).
_LIST_OR_OBJECT = r"|^\[[\s\S]*\]$|^\{[\s\S]*\}$"
_MAYBE_NOT_STRING = r"^(?:-?[0-9]+(?:\.[0-9]+)?|true|false)$" + _LIST_OR_OBJECT
_MAYBE_NOT_LABEL = r"^(?:-?0\.0000[0-9]*|-?[0-9]{16,}(?:\.[0-9]*)?|-0|true|false)$" \
    + _LIST_OR_OBJECT
_META_TYPES = (pl.String, pl.Int64, pl.Float64, pl.Boolean)
PREPARE_AHEAD = 2   # chunks parsed and prepared in threads ahead of the one handed over


class NotColumnar(Exception):
    """The chunk needs the record-by-record path (internal to this module)."""


def eligible(builder: _RowBuilder) -> bool:
    """Whether the columnar path reads this mapping: every detected or given one is paths of
    keys and list indices with at most one list as the sample axis (``choices[].message``,
    ``resps.0[]``, ``model_response.text[]``). Tests switch the path off here."""
    return True


@dataclass
class Prepared:
    """A chunk's columns made by :func:`prepare_chunk` (in any thread), or None where the chunk
    needs the row path; ``version``: the builder's mapping it was made with."""

    frame: pl.DataFrame | None
    version: int


def prepare_chunk(chunk: bytes, first_line: int, lines: int, builder: _RowBuilder,
                  hint: SchemaHint | None = None) -> Prepared:
    """The columns of a chunk of ``lines`` whole JSONL lines (numbered from ``first_line``) that
    do not depend on the chunks before it. Reads a snapshot of the builder's mapping, so chunks
    can be prepared in threads while an earlier one is read record by record; ``hint``: the
    source's last schema (:func:`reasonlens.traces.jsonkeys.read_lines`)."""
    return prepare_frame(lambda: _parse(chunk, lines, hint), chunk, first_line, builder)


def prepare_frame(parse, chunk: bytes | None, first_line: int, builder: _RowBuilder
                  ) -> Prepared:
    """The columns of the frame ``parse()`` gives (or NotColumnar), read from ``chunk``'s JSON
    lines or from a typed table (``chunk`` None: parquet), numbered from ``first_line``."""
    snap = copy.copy(builder)
    version, snap.m, snap.used_top = builder.version, dict(builder.m), set(builder.used_top)
    try:
        return Prepared(_Columns(parse(), chunk, first_line, snap).prepare(), version)
    except NotColumnar:
        return Prepared(None, version)


def finish_chunk(prepared: Prepared, builder: _RowBuilder, seen: SeenIds
                 ) -> pl.DataFrame | None:
    """Sample numbers and ids of a prepared chunk, in input order: the trace frame, or None
    when the chunk must be read record by record (then nothing is changed). On success the
    builder's sample counters and ``seen`` are updated as the row path would have."""
    if prepared.frame is None:
        return None
    df, keys = sample_numbers(prepared.frame, builder.counters)
    made = pl.concat_str(pl.format("{}:{}:{}:{}", "model", "benchmark", "problem_id", "sample"),
                         pl.when(pl.col("step").is_null()).then(pl.lit(""))
                         .otherwise(pl.concat_str(pl.lit("@"), pl.col("step"))))
    df = df.with_columns(pl.coalesce("rec_id", made).alias("id"))
    if not seen.add_new(df["id"]):
        return None  # the row path names the line (or drops it: keep-first)
    builder.counters.update(keys)
    return df.select([pl.col(k).cast(v) for k, v in TRACE_SCHEMA.items()])


def iter_jsonl_source(source: str, options: LoadOptions, report: LoadReport,
                      counters: dict[tuple, int], seen: SeenIds) -> Iterator[pl.DataFrame]:
    """A JSONL file in chunks of whole lines: each chunk through the columnar path when it can
    take it, else record by record. While one chunk is finished and handed over, the next
    ``PREPARE_AHEAD`` are parsed and prepared in threads (polars releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from reasonlens.traces.load import _iter_items

    state = {"builder": None}
    size, hint = _ChunkSize(options.batch_rows), SchemaHint()
    window: deque = deque()

    def finish(first_line: int, chunk, lines: int, fut) -> Iterator[pl.DataFrame]:
        builder = state["builder"]
        if isinstance(chunk, InputError):
            items = iter([(first_line, chunk, None)])
        else:
            frame = None
            if builder is not None and eligible(builder):
                prepared = fut.result() if fut is not None else None
                if prepared is None or prepared.version != builder.version:
                    # read ahead before the mapping was known, or made with a mapping that an
                    # earlier chunk has changed since
                    prepared = prepare_chunk(chunk, first_line, lines, builder, hint)
                frame = finish_chunk(prepared, builder, seen)
            if frame is not None:
                size.seen(len(chunk), len(frame))
                report.n_records += lines
                for start, length in batch_slices(len(frame), options.batch_rows):
                    part = frame.slice(start, length)
                    report.n_rows += len(part)
                    yield part
                return
            items = chunk_lines(chunk, first_line, source)
        state["builder"] = yield from _iter_items(items, source, options, report, counters,
                                                  seen, builder)

    with ThreadPoolExecutor(PREPARE_AHEAD, thread_name_prefix="reasonlens-parse") as pool:
        try:
            for first_line, chunk, lines in iter_jsonl_chunks(source, size.next,
                                                              report._progress):
                builder = state["builder"]
                # the mapping comes from the first good record in input order: a chunk read
                # ahead of one still to be read record by record (its first record was bad)
                # does not set it
                if builder is None and not window and not isinstance(chunk, InputError):
                    builder = state["builder"] = _first_builder(chunk, first_line, source,
                                                                options, counters)
                    if builder is not None:
                        report.layouts[source] = builder.layout
                fut = pool.submit(prepare_chunk, chunk, first_line, lines, builder, hint) \
                    if builder is not None and not isinstance(chunk, InputError) \
                    and eligible(builder) else None
                window.append((first_line, chunk, lines, fut))
                if len(window) > PREPARE_AHEAD:
                    yield from finish(*window.popleft())
            while window:
                yield from finish(*window.popleft())
        finally:
            for *_, fut in window:
                if fut is not None:
                    fut.cancel()


class _ChunkSize:
    """Bytes to read next: about one batch of rows, from 1 to 16 MB (polars parses chunks of
    ~10 MB fastest here; longer traces make smaller batches), at 4 KB per row until the first
    chunk read through the columnar path gives its bytes per row. Fixed from then on, so batch
    cuts depend on the input only, never on timing."""

    def __init__(self, batch_rows: int):
        self.batch_rows, self.fixed = batch_rows, False
        self.size = self._clamp(4096 * batch_rows)

    @staticmethod
    def _clamp(n: float) -> int:
        return int(min(max(n, 1 << 20), BATCH_BYTES))

    def next(self) -> int:
        return self.size

    def seen(self, n_bytes: int, n_rows: int) -> None:
        if not self.fixed and n_rows:
            self.size = self._clamp(n_bytes / n_rows * self.batch_rows)
            self.fixed = True


def _first_builder(chunk: bytes, first_line: int, source: str, options: LoadOptions,
                   counters: dict[tuple, int]) -> _RowBuilder | None:
    """The builder from the chunk's first record, when that record is a good one (else the row
    path reads the chunk and reports it)."""
    for line, rec, _raw in chunk_lines(chunk, first_line, source):
        return builder_from(line, rec, source, options, counters)
    return None


def builder_from(line: int, rec, source: str, options: LoadOptions,
                 counters: dict[tuple, int]) -> _RowBuilder | None:
    """The builder a source's first record gives, when it is a good one (else None: the row
    path reads it and reports it)."""
    from reasonlens.traces.load import _mapping_for, _RowBuilder

    if isinstance(rec, InputError):
        return None
    try:
        return _RowBuilder(_mapping_for(options, rec, source, line), options, source, counters)
    except InputError:
        return None


def _parse(chunk: bytes, lines: int, hint: SchemaHint | None) -> pl.DataFrame:
    try:
        df = read_lines(chunk, hint)
    except Exception as exc:  # noqa: BLE001 - polars raises several kinds: the row path reports
        raise NotColumnar from exc
    if len(df) != lines or not len(df):  # blank lines (skipped by polars) or nothing
        raise NotColumnar
    # polars reads a lone escaped surrogate ("\ud83d" then no low one) as NUL, the project's
    # reader refuses it: a NUL anywhere sends the chunk to the row path
    nul = df.select(pl.col(pl.String).str.contains("\x00", literal=True).any())
    if any("\x00" in c for c in df.columns) or (nul.width and any(nul.row(0))):
        raise NotColumnar
    return df


class _Columns:
    """The trace columns of one parsed chunk (raises NotColumnar for anything unusual).

    With a sample axis (``choices[]``) there is one row per element of that list: ``rec`` and
    ``elem`` give each row its record and its element, ``n_elems`` its record's list length;
    record-level fields are gathered onto the rows."""

    def __init__(self, df: pl.DataFrame, chunk: bytes, first_line: int, builder: _RowBuilder):
        self.df, self.chunk, self.first_line, self.b = df, chunk, first_line, builder
        self._line_starts: np.ndarray | None = None
        if any(k in df.columns for k in builder.pending) and self._carries_pending():
            raise NotColumnar  # a record carries a field the mapping lacks: the row path maps it
        self.meta_cols = [c for c in df.columns if c not in builder.used_top]
        self.rec = self.elem = self.n_elems = self.elements = None
        if builder.expand_prefix is not None:
            self._expand(builder.expand_prefix)
        self.n = len(df) if self.rec is None else len(self.rec)

    def _carries_pending(self) -> bool:
        """A value where the row path would map a field the mapping lacks (``usage.*``)."""
        for path in pending_paths(self.b.m, self.b.layout):
            top, _, rest = path.partition(".")
            if top in self.b.pending and top in self.df.columns:
                s = _field(self.df[top], rest, len(self.df))  # (anything odd: NotColumnar)
                if s.null_count() < len(s):
                    return True
        return False

    def _expand(self, prefix: str) -> None:
        top, _, rest = prefix.partition(".")
        s = _field(self.df[top], rest, len(self.df)) if top in self.df.columns else None
        if s is None or not isinstance(s.dtype, pl.List) or s.null_count():
            raise NotColumnar  # missing, null or not a list: the row path's error
        lens = s.list.len()
        if (lens == 0).any():
            raise NotColumnar
        counts = lens.to_numpy().astype(np.int64)
        self.rec = np.repeat(np.arange(len(s), dtype=np.int64), counts)
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        self.elem = pl.Series("elem", np.arange(len(self.rec), dtype=np.int64) - starts)
        self.n_elems = pl.Series("n_elems", counts[self.rec])
        self.elements = s.explode()

    # --- typed fields ----------------------------------------------------------------------

    def raw(self, name: str) -> pl.Series:
        """The values at the field's path, one per row (a Null series when no record has it)."""
        path = self.b.m.get(name)
        if path is None:
            return pl.Series(name, [None] * self.n, dtype=pl.Null)
        head, sub = _split_path(path)
        if "[]" in path:
            return _field(self.elements, sub, self.n)
        top, _, rest = head.partition(".")
        if top not in self.df.columns:
            return pl.Series(name, [None] * self.n, dtype=pl.Null)
        s = _field(self.df[top], rest, len(self.df))
        return s if self.rec is None else s.gather(self.rec)

    def text(self, name: str, pattern: str = _MAYBE_NOT_STRING) -> pl.Series:
        s = self.raw(name)
        if s.dtype == pl.Null:
            return s.cast(pl.String)
        if s.dtype != pl.String:
            raise NotColumnar
        path = self.b.m[name]
        if ("." in path or "[]" in path) and s.str.contains("\x00", literal=True).any():
            raise NotColumnar  # a nested text: not looked at by _parse (see there)
        self.check_strings(s, path, pattern)
        return s

    def label(self, name: str) -> pl.Series:
        s = self.raw(name)
        if s.dtype == pl.Int64:
            return s.cast(pl.String)
        return self.text(name, _MAYBE_NOT_LABEL)

    def integer(self, name: str) -> pl.Series:
        s = self.raw(name)
        if isinstance(s.dtype, pl.List) and name == "completion_tokens" \
                and self.b.layout == "vllm":
            if s.null_count():
                raise NotColumnar
            s = s.list.len().cast(pl.Int64)  # vLLM's token_ids: their number
        if s.dtype == pl.Null:
            return s.cast(pl.Int64)
        if s.dtype != pl.Int64 or (s.min() or 0) < 0:
            raise NotColumnar
        if name == "completion_tokens" and self.rec is not None \
                and "[]" not in self.b.m[name]:  # one count for several responses: none
            s = pl.select(pl.when(self.n_elems == 1).then(s)).to_series().alias(name)
        return s

    def gold(self) -> pl.Series:
        """The gold field's answer; for lighteval details, where it has none, the row path's
        ``doc.choices[doc.gold_index]``."""
        gold = self._gold_texts(self.raw("gold"), lambda s: self.check_strings(
            s, self.b.m["gold"], _MAYBE_NOT_LABEL))
        if self.b.layout != "lighteval":
            return gold
        choice = lighteval_choices(self.df["doc"] if "doc" in self.df.columns else None,
                                   len(self.df))
        if choice is None:
            raise NotColumnar
        choice = self._gold_texts(choice, lambda s: self.check_strings(
            s, "doc", _MAYBE_NOT_LABEL, per_record=True, getter=lambda rec, _: lighteval_gold(rec)))
        return gold.fill_null(choice if self.rec is None else choice.gather(self.rec))

    def _gold_texts(self, s: pl.Series, check) -> pl.Series:
        if s.dtype in (pl.Null, pl.Int64):
            return s.cast(pl.String)
        if s.dtype == pl.Float64:
            if (s.abs().max() or 0) >= 2**53 or s.is_nan().any():
                raise NotColumnar  # (NaN: only in typed tables)
        elif s.dtype == pl.String:
            check(s)
        else:
            raise NotColumnar
        uniq = s.drop_nulls().unique().to_list()
        return s.replace_strict({u: gold_text(u) for u in uniq}, default=None,
                                return_dtype=pl.String)

    def check_strings(self, s: pl.Series, path: str, pattern: str = _MAYBE_NOT_STRING, *,
                      per_record: bool = False, getter=None) -> None:
        """The values of a column of strings that could be the text of another JSON type are
        looked up in their own lines: any that is not a JSON string sends the chunk away.
        ``s`` has one value per row (per record with ``per_record``) at ``path``. A typed
        table's strings (no chunk) are all strings."""
        if self.chunk is None:
            return
        hit = s.str.contains(pattern).fill_null(False)
        if not hit.any():
            return
        rows = np.flatnonzero(hit.to_numpy())
        records = rows if per_record or self.rec is None else self.rec[rows]
        if getter is None and "." not in path and "[]" not in path:  # a top-level key
            quoted = self.quoted_once(path)
            rows, records = rows[~quoted[records]], records[~quoted[records]]
        head, sub = _split_path(path)
        for r, record in zip(rows.tolist(), records.tolist()):
            rec = loads(self.line(record))
            if getter is not None:  # the row path's value, which must be this very string
                if getter(rec, r) != s[r]:
                    raise NotColumnar
                continue
            value = get_path(rec, head) if isinstance(rec, dict) else None
            if "[]" in path:
                i = int(self.elem[r])
                value = get_path(value[i], sub) if isinstance(value, list) and i < len(value) \
                    else None
            if not isinstance(value, str):
                raise NotColumnar

    def quoted_once(self, key: str) -> np.ndarray:
        """Per record: the key occurs once in its line and its value is a string token. The
        key's own token ``"key":`` can only be a key (inside a string its quotes would be
        escaped, and a string value is never followed by a colon); a line where it occurs
        twice (a nested object with the same key) is parsed again instead."""
        import re

        pattern = re.escape(orjson.dumps(key)) + rb"\s*:\s*(.)"
        starts = self.line_starts()
        found = [(m.start(), m.group(1) == b'"') for m in re.finditer(pattern, self.chunk)]
        where = np.array([p for p, _ in found], np.int64)
        line = np.searchsorted(starts, where, side="right") - 1
        count = np.bincount(line, minlength=len(self.df))
        quote = np.bincount(line, weights=np.array([q for _, q in found], float),
                            minlength=len(self.df))
        return (count == 1) & (quote == 1)

    def line_starts(self) -> np.ndarray:
        if self._line_starts is None:
            nl = np.flatnonzero(np.frombuffer(self.chunk, np.uint8) == 10)
            self._line_starts = np.concatenate([[0], nl + 1])
        return self._line_starts

    def line(self, row: int) -> bytes:
        self.line_starts()
        start = int(self._line_starts[row])
        end = int(self._line_starts[row + 1]) if row + 1 < len(self._line_starts) \
            else len(self.chunk)
        return self.chunk[start:end]

    # --- the frame -------------------------------------------------------------------------

    def prepare(self) -> pl.DataFrame:
        """Every trace column but the sample numbers and ids (those need the batches before)."""
        b = self.b
        lines = pl.int_range(self.first_line, self.first_line + len(self.df), eager=True,
                             dtype=pl.Int64)
        if self.rec is not None:
            lines = lines.gather(self.rec)
        prompt = self.text("prompt")
        chat = self.b.layout.startswith("chat-messages")
        response, reasoning, mprompt = self.chat() if chat else (
            self.text("response"), self.text("reasoning"), None)
        df = pl.DataFrame({
            "model": or_default(self.label("model"), b.default_model),
            "benchmark": or_default(self.label("benchmark"), b.default_benchmark),
            "problem_id": self.problem_ids(self.label("problem_id"), prompt, lines),
            "step": self.integer("step"), "rec_sample": self.integer("sample"),
            "rec_id": empty_as_null(self.label("id")), "response_in": response,
            "reasoning_in": reasoning})
        if chat:  # the record's prompt field, else the user turn before the answer
            prompt = pl.select(pl.when(pl.lit(prompt).fill_null("") != "").then(pl.lit(prompt))
                               .otherwise(pl.lit(mprompt)).alias("prompt")).to_series()
        if self.rec is not None:  # element i of a record: sample + i, id#i when several
            elem = pl.lit(self.elem)
            df = df.with_columns(pl.col("rec_sample") + elem, pl.when(pl.lit(self.n_elems) > 1)
                                 .then(pl.format("{}#{}", "rec_id", elem))
                                 .otherwise(pl.col("rec_id")).alias("rec_id"))
        parts = split_columns(df["response_in"], self.reasoning(df, chat))
        return df.drop("response_in", "reasoning_in").with_columns(
            prompt.fill_null("").alias("prompt"), *parts, self.gold().alias("gold"),
            self.label("finish_reason").alias("finish_reason"),
            self.integer("prompt_tokens").alias("prompt_tokens"),
            self.integer("completion_tokens").alias("completion_tokens"),
            self.metadata().alias("metadata"), pl.lit(b.source).alias("source"),
            lines.alias("source_line"))

    def chat(self) -> tuple[pl.Series, pl.Series, pl.Series]:
        """(response, reasoning, prompt) per record from its ``messages``, as the row path's
        ``_chat_messages`` reads them (:func:`reasonlens.traces.columns.chat_turns`)."""
        turns = chat_turns(self.df["messages"]) if "messages" in self.df.columns else None
        if turns is None or len(turns) != len(self.df):
            raise NotColumnar  # not a list of turns, or a record without an assistant turn
        for k in ("content", "reasoning", "prompt"):  # texts that could be another JSON type's
            self.check_strings(turns[k], "messages", per_record=True,
                               getter=message_value(k, turns["pos"]))
        if turns["content"].null_count():
            raise NotColumnar  # content is required
        return turns["content"], turns["reasoning"], turns["prompt"]

    def problem_ids(self, pid: pl.Series, prompt: pl.Series, lines: pl.Series) -> pl.Series:
        if not pid.null_count():
            return pid
        from reasonlens.traces.load import _stem

        stem = _stem(self.b.source)
        filled = [p if p is not None else
                  ("p-" + hashlib.blake2b(q.encode(), digest_size=6).hexdigest()) if q
                  else f"{stem}:{ln}" for p, q, ln in zip(pid.to_list(), prompt.to_list(),
                                                          lines.to_list())]
        return pl.Series("problem_id", filled, dtype=pl.String)

    def reasoning(self, df: pl.DataFrame, chat: bool = False) -> pl.Series:
        """The reasoning field, dropped where the response already holds it (as the row path's
        ``already_holds``; not for chat messages, as there); a missing response with no
        reasoning or an empty response is the row path's error (unless empty responses are
        allowed)."""
        from reasonlens.traces.load import already_holds

        resp, rsn = df["response_in"], df["reasoning_in"]
        blank_r = blank(rsn.fill_null(""))
        if (resp.is_null() & blank_r).any():
            raise NotColumnar
        if not self.b.options.allow_empty and (blank(resp) & blank_r).any():
            raise NotColumnar
        if rsn.null_count() == len(rsn) or chat:
            return rsn
        vals = [None if (r and already_holds(p or "", r)) else r
                for p, r in zip(resp.to_list(), rsn.to_list())]
        return pl.Series("reasoning_in", vals, dtype=pl.String)

    def metadata(self) -> pl.Series:
        """The other scalar fields as the row path writes them: a JSON object per record, keys
        sorted, nulls left out, built by column expressions (orjson's text for every value:
        its escapes, and polars' shortest float notation, which is orjson's)."""
        parts = []
        for c in sorted(self.meta_cols):
            s = self.df[c]
            if s.dtype == pl.Null or s.dtype not in _META_TYPES:
                if s.dtype in (pl.Int128, pl.UInt64, pl.Decimal):
                    raise NotColumnar
                continue
            if s.dtype == pl.Float64:  # ints and floats mixed in a column are all floats here
                whole = (s % 1 == 0).fill_null(False)
                if (whole & (s.abs() >= INTEGER_FLOATS)).any():
                    raise NotColumnar  # maybe an integer beyond 2**53, rounded by polars
                value = pl.when(pl.lit(whole)).then(pl.lit(s.cast(pl.Int64).cast(pl.String))) \
                    .otherwise(pl.lit(s.cast(pl.String)))  # whole numbers as integers
            elif s.dtype == pl.String:
                self.check_strings(s, c, per_record=True)
                value = pl.lit('"') + pl.lit(s.set(s.str.len_chars() > META_TEXT_MAX, None)).str \
                    .replace_many(JSON_ESCAPES) + pl.lit('"')
            else:
                value = pl.lit(s.cast(pl.String))
            parts.append(pl.lit(orjson.dumps(c).decode() + ":") + value)
        if not parts:
            return pl.Series("metadata", [None] * self.n, dtype=pl.String)
        joined = pl.concat_str(parts, separator=",", ignore_nulls=True)
        meta = pl.select(pl.when(joined != "").then(pl.lit("{") + joined + pl.lit("}"))
                         .alias("metadata")).to_series()  # one per record
        return meta if self.rec is None else meta.gather(self.rec)


def _field(s: pl.Series, sub: str, n: int) -> pl.Series:
    """The struct fields and list elements along ``sub`` (dotted keys and indices) of ``s``; a
    field no record has is a Null series and an index past a list's end a null (as the row path
    reads a missing key or element); anything else on the way: the row path."""
    for seg in sub.split(".") if sub else ():
        if s.dtype == pl.Null:
            break
        if isinstance(s.dtype, pl.List) and seg.lstrip("-").isdigit():
            s = s.list.get(int(seg), null_on_oob=True)
            continue
        if not isinstance(s.dtype, pl.Struct):
            raise NotColumnar
        if seg not in {f.name for f in s.dtype.fields}:
            return pl.Series(seg, [None] * n, dtype=pl.Null)
        s = s.struct.field(seg)
    return s


__all__ = ["eligible", "finish_chunk", "iter_jsonl_source", "prepare_chunk"]
