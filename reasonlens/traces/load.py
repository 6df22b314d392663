"""Load traces from any supported source into frames of :data:`~reasonlens.schema.TRACE_SCHEMA`.

:func:`iter_trace_batches` streams: it holds one batch (``batch_rows`` rows) at a time, so a 10 GB
file is never in memory at once. Malformed records raise :class:`InputError` naming file, line and
field (``on_error="fail"``), or are counted, reported and appended to a rejects JSONL file
(``on_error="skip"``).
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import polars as pl

from reasonlens.errors import ConfigError, InputError
from reasonlens.records import JSONL_SUFFIXES
from reasonlens.schema import TRACE_SCHEMA
from reasonlens.traces.formats import (lighteval_gold, lighteval_model_from_path,
                                       lighteval_task_from_name)
from reasonlens.traces.ids import SeenIds
from reasonlens.traces.layouts import (FieldMapping, _split_path, detect_layout, get_path,
                                       is_missing, load_mapping_file, optional_fields,
                                       pending_keys)
from reasonlens.traces.model import (BATCH_BYTES, INTEGER_FLOATS, META_TEXT_MAX, THINK_CLOSE,
                                     THINK_OPEN, gold_text, join_reasoning, split_reasoning,
                                     user_text)
from reasonlens.traces.readers import expand_sources, iter_records


class DuplicateIdError(InputError):
    """A response id seen twice (not a malformed record: --on-error skip does not skip it)."""


@dataclass(frozen=True)
class LoadOptions:
    """How to read traces. ``fields`` override the detected or file mapping."""

    fields: dict[str, str] = field(default_factory=dict)
    mapping_file: str | None = None
    model: str | None = None          # default model name when records carry none
    benchmark: str | None = None      # default benchmark name
    on_error: Literal["fail", "skip"] = "fail"
    allow_empty: bool = False         # accept empty responses instead of rejecting them
    split: str | None = None          # for datasets inputs
    batch_rows: int = 4096
    on_duplicate: Literal["error", "keep-first"] = "error"  # a response id seen twice

    def __post_init__(self):
        if self.on_error not in ("fail", "skip"):
            raise ConfigError(f"on_error must be 'fail' or 'skip', got {self.on_error!r}")
        if self.on_duplicate not in ("error", "keep-first"):
            raise ConfigError("on_duplicate must be 'error' or 'keep-first', got "
                              f"{self.on_duplicate!r}")


@dataclass
class LoadReport:
    """What loading saw. ``rejects_path`` receives one JSON line per skipped record."""

    rejects_path: str | None = None
    n_records: int = 0
    n_rows: int = 0
    n_rejected: int = 0
    n_duplicates: int = 0                                    # dropped by on_duplicate=keep-first
    skipped_sources: list[str] = field(default_factory=list)  # copies of another input (keep-first)
    layouts: dict[str, str] = field(default_factory=dict)   # source -> layout name
    first_errors: list[str] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # file -> bytes read so far (on disk)
    _fh: Any = None

    @property
    def bytes_read(self) -> int:
        """Bytes of the input files read so far (compressed bytes for .gz), for progress bars."""
        return sum(self.positions.values())

    def _progress(self, path: str, done: int) -> None:
        self.positions[path] = done

    def reject(self, err: InputError, raw: bytes | None) -> None:
        self.n_rejected += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(str(err))
        if self.rejects_path is None:
            return
        if self._fh is None:
            Path(self.rejects_path).parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.rejects_path, "ab")
        rec = err.as_record()
        if raw is not None:
            try:
                rec["raw"] = raw.decode("utf-8").rstrip("\n")
            except UnicodeDecodeError:
                rec["raw_base64"] = base64.b64encode(raw).decode()
        self._fh.write(orjson.dumps(rec) + b"\n")
        self._fh.flush()

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def dropped_line(self) -> str | None:
        """What --on-duplicate keep-first left out, for the command's closing lines."""
        if not (self.n_duplicates or self.skipped_sources):
            return None
        return (f"Dropped {self.n_duplicates} duplicate response id(s) and "
                f"{len(self.skipped_sources)} repeated input(s) (--on-duplicate keep-first)")

    def summary(self) -> dict[str, Any]:
        return {"records": self.n_records, "responses": self.n_rows, "rejected": self.n_rejected,
                "rejects_file": self.rejects_path if self.n_rejected else None,
                "duplicates_dropped": self.n_duplicates, "sources_skipped": self.skipped_sources,
                "layouts": self.layouts}


def _as_text(value: Any, name: str, path: str, line: int, *, required: bool) -> str | None:
    if value is None or is_missing(value):
        if required:
            raise InputError("required field is missing", path=path, line=line, field=name)
        return None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        value = value[0]
    if isinstance(value, str):
        return value
    raise InputError(f"expected a string, got {type(value).__name__}", path=path, line=line,
                     field=name)


def _as_label(value: Any, name: str, path: str, line: int) -> str | None:
    if value is None or is_missing(value):
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(f"expected a string or number, got {type(value).__name__}", path=path,
                         line=line, field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _as_int(value: Any, name: str, path: str, line: int, *, count_list: bool = False) -> int | None:
    """A count or index: an integer from 0 to 2**63 - 1 (the frames hold int64)."""
    if value is None or is_missing(value):
        return None
    if count_list and isinstance(value, list):
        return len(value)
    if isinstance(value, bool):
        raise InputError("expected an integer, got bool", path=path, line=line, field=name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    elif not isinstance(value, int):
        raise InputError(f"expected an integer, got {type(value).__name__} {str(value)[:40]!r}",
                         path=path, line=line, field=name)
    if not 0 <= value < 2**63:
        raise InputError(f"expected an integer from 0 to 2**63 - 1, got {str(value)[:40]}",
                         path=path, line=line, field=name)
    return value


_STEP_SUFFIX = re.compile(r"(?:^|[-_/:. ])(\d+)$")


def _as_step(value: Any, path: str, line: int) -> int | None:
    """A training step: an integer, or a checkpoint name ending in one ("checkpoint-500")."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        m = _STEP_SUFFIX.search(value.strip())
        if m is None:
            raise InputError(f"expected an integer step or a checkpoint name ending in one "
                             f"(checkpoint-500), got {value[:40]!r}", path=path, line=line,
                             field="step")
        return _as_int(int(m.group(1)), "step", path, line)
    return _as_int(value, "step", path, line)


def _chat_messages(record: dict, path: str, line: int) -> tuple[str, str | None, str | None]:
    """(response, reasoning, prompt) from a ``messages`` list: the last assistant turn."""
    msgs = record.get("messages")
    if not isinstance(msgs, list):
        raise InputError("expected a list of messages", path=path, line=line, field="messages")
    for i in range(len(msgs) - 1, -1, -1):
        m = msgs[i]
        if isinstance(m, dict) and m.get("role") == "assistant":
            content = _as_text(m.get("content"), f"messages.{i}.content", path, line, required=True)
            reasoning = m.get("reasoning_content") or m.get("reasoning") or m.get("thinking")
            prompt = next((msgs[j].get("content") for j in range(i - 1, -1, -1)
                           if isinstance(msgs[j], dict) and msgs[j].get("role") == "user"), None)
            return content, reasoning if isinstance(reasoning, str) else None, \
                prompt if isinstance(prompt, str) else None
    raise InputError("no assistant message", path=path, line=line, field="messages")


class _RowBuilder:
    """Turns records into rows; keeps the per-problem sample counter across batches."""

    def __init__(self, mapping: FieldMapping, options: LoadOptions, source: str,
                 counters: dict[tuple, int] | None = None):
        self.m = dict(mapping.fields)
        self.layout = mapping.layout
        # detected layouts pick up optional fields that later records carry and the first lacks
        self.detected = not (options.mapping_file or "response" in options.fields)
        self.pending = pending_keys(self.m, self.layout) if self.detected else frozenset()
        self.version = 0  # counts the changes of the mapping (the columnar path checks it)
        self.options = options
        self.source = source
        self.default_model = options.model or mapping.default_model \
            or lighteval_model_from_path(source) or _stem(source)
        self.default_benchmark = options.benchmark or mapping.default_benchmark \
            or lighteval_task_from_name(source) or "unknown"
        expand = [p for p in self.m.values() if "[]" in p]
        self.expand_prefix = _split_path(expand[0])[0] if expand else None
        self.counters: dict[tuple, int] = counters if counters is not None else {}
        used = {p.split("[]")[0].split(".")[0] for p in self.m.values()}
        self.used_top = used

    def detect_more(self, rec: dict) -> None:
        """Map the optional fields that ``rec`` is the first to carry with a value (``gold`` in
        some records only): from the first such record on, they are read."""
        if all(rec[k] is None for k in self.pending.intersection(rec.keys())):
            return
        extra = optional_fields(rec, {**self.m, **self.options.fields}, self.layout)
        if extra:
            self.m.update(extra)
            self.used_top |= {p.split("[]")[0].split(".")[0] for p in extra.values()}
            self.pending = pending_keys(self.m, self.layout)
            self.version += 1

    def metadata(self, rec: dict) -> str | None:
        """The record's other scalar fields (strings up to META_TEXT_MAX characters) as a JSON
        object with sorted keys; null values are left out (the same as an absent key)."""
        meta = {k: _meta_value(v) for k, v in rec.items() if k not in self.used_top
                and v is not None and (isinstance(v, (bool, int, float))
                                       or (isinstance(v, str) and len(v) <= META_TEXT_MAX))}
        return orjson.dumps(meta, option=orjson.OPT_SORT_KEYS).decode() if meta else None

    def _get(self, rec: Any, name: str, element: Any = None) -> Any:
        p = self.m.get(name)
        if p is None:
            return None
        if "[]" in p:
            return get_path(element, _split_path(p)[1]) if element is not None else None
        return get_path(rec, p)

    def rows(self, rec: Any, line: int) -> list[dict[str, Any]]:
        path = self.source
        if not isinstance(rec, dict):
            raise InputError(f"expected a JSON object, got {type(rec).__name__}", path=path,
                             line=line)
        if self.pending and not self.pending.isdisjoint(rec.keys()):
            self.detect_more(rec)
        if self.expand_prefix is not None:
            elements = get_path(rec, self.expand_prefix)
            if is_missing(elements) or elements is None:
                raise InputError("required field is missing", path=path, line=line,
                                 field=self.expand_prefix)
            if not isinstance(elements, list):
                raise InputError(f"expected a list, got {type(elements).__name__}", path=path,
                                 line=line, field=self.expand_prefix)
            if not elements:
                raise InputError("empty list: no responses", path=path, line=line,
                                 field=self.expand_prefix)
        else:
            elements = [None]
        model = _as_label(self._get(rec, "model"), "model", path, line) or self.default_model
        bench = _as_label(self._get(rec, "benchmark"), "benchmark", path, line) \
            or self.default_benchmark
        prompt_v = self._get(rec, "prompt")
        prompt = prompt_v if isinstance(prompt_v, str) else user_text(prompt_v)
        pid = _as_label(self._get(rec, "problem_id"), "problem_id", path, line)
        if pid is None:
            pid = ("p-" + hashlib.blake2b(prompt.encode(), digest_size=6).hexdigest()) if prompt \
                else f"{_stem(path)}:{line}"
        rec_sample = _as_int(self._get(rec, "sample"), "sample", path, line)
        step = _as_step(self._get(rec, "step"), path, line)
        rec_id = _as_label(self._get(rec, "id"), "id", path, line) or None  # "" is no id
        gold = gold_text(self._get(rec, "gold"))
        if gold is None and self.layout == "lighteval":
            gold = gold_text(lighteval_gold(rec))
        meta = self.metadata(rec)
        out = []
        for i, el in enumerate(elements):
            rname = self.m["response"] + (f"[{i}]" if el is not None else "")
            if self.layout.startswith("chat-messages"):
                response, reasoning, mprompt = _chat_messages(rec, path, line)
                prompt = prompt or mprompt
            else:
                reasoning = _as_text(self._get(rec, "reasoning", el), "reasoning", path, line,
                                     required=False)
                # a reply cut off while thinking (finish_reason "length") has reasoning_content
                # and a null content: the response is the reasoning alone
                response = _as_text(self._get(rec, "response", el), rname, path, line,
                                    required=not (reasoning or "").strip()) or ""
                if reasoning and already_holds(response, reasoning):
                    reasoning = None  # e.g. a reasonlens output read back: count it once
            if not response.strip() and not (reasoning or "").strip() \
                    and not self.options.allow_empty:
                raise InputError("empty response", path=path, line=line, field=rname)
            split = split_reasoning(response, reasoning)
            full = join_reasoning(split.reasoning, split.answer) if reasoning else response
            key = (model, bench, pid) if step is None else (model, bench, pid, step)
            if rec_sample is not None:
                sample = rec_sample + i
            else:
                sample = self.counters.get(key, 0)
                self.counters[key] = sample + 1
            if rec_id is not None:
                rid = rec_id if len(elements) == 1 else f"{rec_id}#{i}"
            else:
                rid = f"{model}:{bench}:{pid}:{sample}" + ("" if step is None else f"@{step}")
            count_list = self.layout == "vllm"
            out.append({
                "id": rid, "model": model, "benchmark": bench, "problem_id": pid,
                "sample": sample, "prompt": prompt or "", "response": full,
                "reasoning": split.reasoning, "answer": split.answer,
                "think_closed": split.think_closed, "gold": gold,
                "finish_reason": _as_label(self._get(rec, "finish_reason", el), "finish_reason",
                                           path, line),
                "prompt_tokens": _as_int(self._get(rec, "prompt_tokens", el), "prompt_tokens",
                                         path, line),
                "completion_tokens": _as_int(self._get(rec, "completion_tokens", el),
                                             "completion_tokens", path, line,
                                             count_list=count_list) if len(elements) == 1
                or "[]" in self.m.get("completion_tokens", "") else None,
                "metadata": meta,
                "source": path, "source_line": line, "step": step,
            })
        return out


def _meta_value(v: Any) -> Any:
    """A metadata value as written: integers beyond 64 bits (JSON allows them, the JSON writer
    does not) as their digits, and integer-valued numbers as integers (``1.0`` -> ``1``: a
    reward written 1.0 in one record and 1 in another is one value, and the columnar reader,
    which cannot tell them apart, writes the same)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v) if not -2**63 <= v < 2**64 else v
    if isinstance(v, float) and v.is_integer() and abs(v) < INTEGER_FLOATS:
        return int(v)
    return v


def already_holds(response: str, reasoning: str) -> bool:
    """True when ``response`` already contains ``reasoning`` inside its think block (a stage
    output's ``response`` + ``reasoning`` columns, or a dump with both forms): taking the field
    as extra reasoning would count every word of it twice."""
    r = reasoning.strip()
    if not r:
        return False
    close = response.find(THINK_CLOSE)
    if close >= 0:
        return r in response[:close]
    opened = response.find(THINK_OPEN)  # cut off while thinking: the block never closes
    return opened >= 0 and r in response[opened:]


def _stem(source: str) -> str:
    name = Path(source).name
    for suf in (".gz", ".jsonl", ".ndjson", ".json", ".parquet", ".eval"):
        if name.endswith(suf):
            name = name[: -len(suf)]
    return name or source


def _resolve_mapping(options: LoadOptions, first: Any) -> FieldMapping:
    base = FieldMapping()
    if options.mapping_file:
        base = FieldMapping(load_mapping_file(options.mapping_file), layout="file")
    elif "response" not in options.fields:
        base = detect_layout(first)
    return base.merged(options.fields) if options.fields else base


def iter_trace_batches(sources: list[str] | str, options: LoadOptions | None = None,
                       report: LoadReport | None = None) -> Iterator[pl.DataFrame]:
    """Yield frames of TRACE_SCHEMA, at most ``options.batch_rows`` rows each.

    On a malformed record with ``on_error="fail"`` the rows already built are yielded first, then
    the :class:`InputError` is raised, so a consumer keeps everything computed before it.
    """
    options = options or LoadOptions()
    report = report if report is not None else LoadReport()
    if isinstance(sources, str):
        sources = [sources]
    counters: dict[tuple, int] = {}  # sample numbering continues across files
    seen = SeenIds()
    try:
        for source in distinct_sources(expand_sources(list(sources)), options, report):
            yield from _iter_source(source, options, report, counters, seen)
    finally:
        report.close()


def _fingerprint(path: Path) -> tuple[int, str]:
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    return path.stat().st_size, hashlib.blake2b(head, digest_size=16).hexdigest()


def distinct_sources(sources: list[str], options: LoadOptions, report: LoadReport) -> list[str]:
    """Refuse an input given twice, or two files with the same content (the same size and first
    MiB): their responses would count twice as extra samples. With ``on_duplicate="keep-first"``
    the later copy is skipped (and listed in the report)."""
    out: list[str] = []
    by_path: dict[Path, str] = {}
    by_print: dict[tuple[int, str], str] = {}
    for s in sources:
        p = Path(s)
        if not p.is_file():
            out.append(s)
            continue
        other = by_path.get(p.resolve())
        why = "is given twice"
        if other is None:
            fp = _fingerprint(p)
            other = by_print.get(fp)
            why = f"has the same content as {other}"
            by_print.setdefault(fp, s)
        by_path.setdefault(p.resolve(), s)
        if other is None:
            out.append(s)
        elif options.on_duplicate == "keep-first":
            report.skipped_sources.append(s)
        else:
            raise InputError(f"the input {why}: its responses would be counted twice; pass it "
                             "once (or --on-duplicate keep-first to skip the copy)", path=s)
    return out


def _iter_source(source: str, options: LoadOptions, report: LoadReport,
                 counters: dict[tuple, int], seen: SeenIds) -> Iterator[pl.DataFrame]:
    if Path(source).is_file() and source.lower().endswith(JSONL_SUFFIXES):
        from reasonlens.traces.columnar import iter_jsonl_source

        yield from iter_jsonl_source(source, options, report, counters, seen)
        return
    if Path(source).is_file() and source.lower().endswith(".parquet"):
        from reasonlens.traces.columnar_parquet import iter_parquet_source

        yield from iter_parquet_source(source, options, report, counters, seen)
        return
    items = iter_records(source, options.split, report._progress)
    yield from _iter_items(items, source, options, report, counters, seen, None)


def _iter_items(items, source: str, options: LoadOptions, report: LoadReport,
                counters: dict[tuple, int], seen: SeenIds, builder: _RowBuilder | None):
    """Records ``(line, record_or_error, raw)`` into frames, record by record; returns the
    builder (its mapping and counters carry on to the source's next chunk)."""
    buf: list[dict[str, Any]] = []
    size = 0  # response bytes in buf (a batch ends at batch_rows rows or BATCH_BYTES)
    for line, rec, raw in items:
        report.n_records += 1
        try:
            if isinstance(rec, InputError):
                raise rec
            if builder is None:
                builder = _RowBuilder(_mapping_for(options, rec, source, line), options, source,
                                      counters)
                report.layouts[source] = builder.layout
            rows = builder.rows(rec, line)
            for r in rows:
                if r["id"] in seen:
                    if options.on_duplicate == "keep-first":
                        report.n_duplicates += 1
                        continue
                    raise DuplicateIdError(
                        f"duplicate response id {r['id']!r} (an earlier record has it); ids "
                        "must be unique or joins and metrics count a response twice: fix the "
                        "input, pass --on-duplicate keep-first, or, if that field names the "
                        f"problem, map it: --field problem_id={builder.m.get('id', 'id')}",
                        path=source, line=line,
                        field="id")
                seen.add(r["id"])
                buf.append(r)
                size += len(r["response"])
        except DuplicateIdError:
            if buf:
                report.n_rows += len(buf)
                yield pl.DataFrame(buf, schema=TRACE_SCHEMA)
            raise
        except InputError as err:
            if err.path is None:
                err = InputError(err.reason, path=source, line=line, field=err.field)
            if options.on_error == "fail":
                if buf:  # hand over what is done before failing: nothing computed is lost
                    report.n_rows += len(buf)
                    yield pl.DataFrame(buf, schema=TRACE_SCHEMA)
                raise err
            report.reject(err, raw)
            continue
        if len(buf) >= options.batch_rows or size >= BATCH_BYTES:
            report.n_rows += len(buf)
            yield pl.DataFrame(buf, schema=TRACE_SCHEMA)
            buf, size = [], 0
    if buf:
        report.n_rows += len(buf)
        yield pl.DataFrame(buf, schema=TRACE_SCHEMA)
    return builder


def _mapping_for(options: LoadOptions, rec: Any, source: str, line: int) -> FieldMapping:
    """The mapping for a source, from its first usable record. A record in which no layout can
    be detected is a bad record (skipped in skip mode; the next record is tried)."""
    try:
        return _resolve_mapping(options, rec)
    except ConfigError as exc:
        if options.mapping_file or "response" in options.fields:
            raise
        raise InputError(str(exc), path=source, line=line, field="response") from exc


def require_rows(n_rows: int, report: LoadReport, sources: list[str] | tuple[str, ...],
                 stage: str) -> None:
    """The one rule for empty input, in every stage: no usable response is an error (exit 2),
    naming the inputs and what loading saw; nothing is written."""
    if n_rows:
        return
    seen = f"{report.n_records} record(s) read"
    if report.n_rejected:
        seen += f", {report.n_rejected} rejected (first: {report.first_errors[0]})"
    raise InputError(f"no responses to {stage} ({seen})",
                     path=", ".join(map(str, sources)))


def load_traces(sources: list[str] | str, options: LoadOptions | None = None,
                report: LoadReport | None = None) -> pl.DataFrame:
    """All traces in one frame (for inputs that fit in memory)."""
    frames = list(iter_trace_batches(sources, options, report))
    if not frames:
        return pl.DataFrame(schema=TRACE_SCHEMA)
    return pl.concat(frames, how="vertical")


def read_trace_table(path: str | Path) -> pl.DataFrame:
    """Read a parquet written by a reasonlens stage (traces plus stage columns)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"not found: {p}")
    return pl.read_parquet(p)
