"""Evaluation-framework log formats read as traces: inspect_ai logs and lighteval details.

* **inspect_ai** eval logs, both forms: ``.eval`` (a zip holding ``start.json`` or
  ``header.json`` with the eval spec and one ``samples/<id>_epoch_<n>.json`` per sample, read one
  sample at a time) and ``.json`` (one document with ``eval`` and ``samples``). Each sample
  becomes a flat record (layout ``inspect-ai``): model and task from the eval spec, the sample id
  as problem id, epoch - 1 as sample, the input as prompt, the assistant output (text parts) as
  response, its reasoning parts as reasoning, the target as gold, stop reason and token usage.
* **lighteval** details (parquet / JSON written with ``--save-details``), both generations of
  its column names, are recognised by :func:`lighteval_layout` (used by layout detection):
  before 0.10 ``predictions`` / ``example`` / ``full_prompt`` / ``gold`` / ``cont_tokens``; from
  0.10 ``model_response.text`` / ``model_response.output_tokens`` / ``doc.query`` / ``doc.choices``
  with ``doc.gold_index`` (the gold is ``choices[gold_index]``, see :func:`lighteval_gold`).
  Token counts are not taken (they sit on a second list axis). The task comes from
  ``doc.task_name`` or the file name (``details_<suite>|<task>|<shots>_<date>``), the model from
  the ``<model>/<timestamp>/`` folders lighteval writes.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from reasonlens.errors import InputError
from reasonlens.records import loads

Item = tuple[int, Any, bytes | None]


# --- inspect_ai ---------------------------------------------------------------------------------

def is_inspect_log(doc: Any) -> bool:
    """A parsed ``.json`` document that is an inspect_ai eval log."""
    return isinstance(doc, dict) and isinstance(doc.get("eval"), dict) \
        and "task" in doc["eval"] and isinstance(doc.get("samples"), list)


def _text_parts(content: Any) -> tuple[str, str]:
    """(text, reasoning) of a chat message content: a string or a list of content parts."""
    if isinstance(content, str):
        return content, ""
    text, reasoning = [], []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        if part.get("type") == "reasoning" and isinstance(part.get("reasoning"), str):
            reasoning.append(part["reasoning"])
        elif isinstance(part.get("text"), str):
            text.append(part["text"])
    return "\n".join(text), "\n".join(reasoning)


def _input_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # chat messages: the last user turn
        for m in reversed(value):
            if isinstance(m, dict) and m.get("role") == "user":
                return _text_parts(m.get("content"))[0]
    return None


def inspect_sample_record(sample: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """One inspect_ai sample as a flat trace record."""
    output = sample.get("output") if isinstance(sample.get("output"), dict) else {}
    choices = output.get("choices") if isinstance(output.get("choices"), list) else []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    text, reasoning = _text_parts(message.get("content"))
    if not text and not reasoning and isinstance(output.get("completion"), str):
        text = output["completion"]
    usage = output.get("usage") if isinstance(output.get("usage"), dict) else {}
    epoch = sample.get("epoch")
    rec = {
        "model": output.get("model") or spec.get("model"),
        "benchmark": spec.get("task"),
        "problem_id": sample.get("id"),
        "sample": epoch - 1 if isinstance(epoch, int) and epoch >= 1 else None,
        "prompt": _input_text(sample.get("input")),
        "response": text,
        "reasoning": reasoning or None,
        "gold": sample.get("target"),
        "finish_reason": first.get("stop_reason"),
        "prompt_tokens": usage.get("input_tokens"),
        "completion_tokens": usage.get("output_tokens"),
    }
    return {k: v for k, v in rec.items() if v is not None}


def read_inspect_json(doc: dict[str, Any]) -> Iterator[Item]:
    spec = doc["eval"]
    for i, sample in enumerate(doc["samples"], 1):
        yield i, inspect_sample_record(sample, spec) if isinstance(sample, dict) else sample, None


def read_inspect_eval(path: Path) -> Iterator[Item]:
    """An inspect_ai ``.eval`` zip, one sample at a time."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputError(f"not a readable inspect_ai .eval log (zip): {exc}", path=str(path)
                         ) from exc
    with zf:
        names = zf.namelist()
        head = next((n for n in ("header.json", "start.json") if n in names), None)
        if head is None:
            raise InputError("not an inspect_ai .eval log: no header.json or start.json",
                             path=str(path))
        try:
            spec = orjson.loads(zf.read(head)).get("eval") or {}
        except (orjson.JSONDecodeError, AttributeError, zipfile.BadZipFile) as exc:
            raise InputError(f"unreadable {head}: {exc}", path=str(path)) from exc
        samples = sorted(n for n in names if n.startswith("samples/") and n.endswith(".json"))
        for i, name in enumerate(samples, 1):
            try:
                sample = loads(zf.read(name))
            except (orjson.JSONDecodeError, zipfile.BadZipFile, OSError) as exc:
                yield i, InputError(f"unreadable sample {name}: {exc}", path=str(path),
                                    line=i), None
                continue
            yield i, inspect_sample_record(sample, spec) if isinstance(sample, dict) \
                else sample, None


# --- lighteval ----------------------------------------------------------------------------------

def lighteval_layout(record: dict[str, Any]) -> tuple[str, dict[str, str]] | None:
    """(layout name, field paths) of a lighteval details record, or None."""
    mr = record.get("model_response")
    doc = record.get("doc")
    if isinstance(mr, dict) and isinstance(mr.get("text"), list) and isinstance(doc, dict):
        fields = {"response": "model_response.text[]", "prompt": "doc.query"}
        if doc.get("id") not in (None, ""):
            fields["problem_id"] = "doc.id"
        if doc.get("task_name"):
            fields["benchmark"] = "doc.task_name"
        return "lighteval", fields
    if isinstance(record.get("predictions"), list) and ("example" in record
                                                        or "full_prompt" in record):
        fields = {"response": "predictions[]", "prompt": "example" if "example" in record
                  else "full_prompt"}
        if "gold" in record:
            fields["gold"] = "gold"
        return "lighteval-legacy", fields
    return None


def lighteval_gold(record: dict[str, Any]) -> Any:
    """The gold of a lighteval (>= 0.10) record: ``doc.choices[doc.gold_index]``."""
    doc = record.get("doc")
    if not isinstance(doc, dict) or not isinstance(doc.get("choices"), list):
        return None
    idx = doc.get("gold_index")
    if isinstance(idx, list):
        idx = idx[0] if len(idx) == 1 else None
    if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(doc["choices"]):
        return None
    return doc["choices"][idx]


def lighteval_choices(doc, n: int):
    """Per record, the raw ``doc.choices[doc.gold_index]`` of :func:`lighteval_gold` as a
    polars Series, from the ``doc`` column (a struct; None: no record has it), or None where
    the columns' types do not show it exactly (the record-by-record path reads them): choices
    must be a list of strings or integers, the index an integer or a list of integers."""
    import polars as pl

    fields = {f.name: f.dtype for f in doc.dtype.fields} \
        if doc is not None and isinstance(doc.dtype, pl.Struct) else {}
    if doc is not None and doc.dtype != pl.Null and not isinstance(doc.dtype, pl.Struct):
        return None
    ch_t, gi_t = fields.get("choices", pl.Null), fields.get("gold_index", pl.Null)
    if ch_t == pl.Null or gi_t == pl.Null:
        return pl.Series("gold", [None] * n, dtype=pl.String)
    if not isinstance(ch_t, pl.List) or ch_t.inner not in (pl.String, pl.Int64, pl.Null):
        return None
    ch, gi = doc.struct.field("choices"), doc.struct.field("gold_index")
    if isinstance(gi_t, pl.List) and gi_t.inner in (pl.Int64, pl.Null):
        gi = pl.select(pl.when(gi.list.len() == 1).then(gi.list.first())).to_series()
    elif gi_t != pl.Int64:
        return None  # a float or a text may be an integer in another record
    gi = gi.cast(pl.Int64)
    bad = ~((gi >= 0) & (gi < ch.list.len())).fill_null(False)
    return ch.list.get(gi.set(bad, 0).fill_null(0), null_on_oob=True).set(bad, None) \
        .alias("gold")


def lighteval_model_from_path(path: str) -> str | None:
    """The model of a lighteval details path ``.../<model>/<timestamp>/details_...``."""
    p = Path(path)
    if lighteval_task_from_name(p.name) is None or len(p.parents) < 2:
        return None
    stamp = p.parent.name
    return p.parents[1].name if stamp[:1].isdigit() and "T" in stamp else None


def lighteval_task_from_name(name: str) -> str | None:
    """The task of a lighteval details file name: ``details_lighteval|math_500|0_<date>.parquet``
    -> ``math_500``."""
    stem = Path(name).name
    if not stem.startswith("details_") or "|" not in stem:
        return None
    parts = stem[len("details_"):].split("|")
    return parts[1] if len(parts) >= 3 and parts[1] else None
