"""Field mapping: where each trace field lives in an input record, and auto-detected layouts.

A mapping gives, for each trace field, a *path* into the record: keys and integer indices joined
by dots, where one segment may end in ``[]`` to mean "one response per element of this list" (the
sample axis). Examples::

    response=output                      flat records
    response=choices[].message.content   OpenAI chat completions (one row per choice)
    response=outputs[].text              vLLM RequestOutput dumps
    response=resps.0[]                   lm-eval-harness samples files

Mappings come from ``--field NAME=PATH`` options, from a TOML/JSON file (``[fields]`` table), or
are detected from the first record (:func:`detect_layout`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from reasonlens.errors import ConfigError

MAPPABLE = ("id", "model", "benchmark", "problem_id", "sample", "prompt", "response", "reasoning",
            "gold", "finish_reason", "prompt_tokens", "completion_tokens", "step")

_MISSING = object()


@dataclass(frozen=True)
class FieldMapping:
    """Paths of the trace fields in a record. ``None`` means: not in the record."""

    fields: dict[str, str] = field(default_factory=dict)
    layout: str = "custom"
    default_model: str | None = None
    default_benchmark: str | None = None

    def __post_init__(self):
        unknown = set(self.fields) - set(MAPPABLE)
        if unknown:
            if "" in unknown:
                raise ConfigError("a field mapping has an empty NAME (write NAME=PATH, e.g. "
                                  "response=choices[].message.content)")
            raise ConfigError(f"unknown trace field(s) in mapping: {', '.join(sorted(unknown))}; "
                              f"mappable fields: {', '.join(MAPPABLE)}")
        for name, p in self.fields.items():
            check_path(name, p)
        expands = {_split_path(p)[0] for p in self.fields.values() if "[]" in p}
        if len(expands) > 1:
            raise ConfigError(f"mapping expands more than one list ({sorted(expands)}); "
                              "only one sample axis ('[]') is allowed")

    def merged(self, overrides: dict[str, str]) -> FieldMapping:
        """The mapping with ``overrides`` applied. A path the overrides give to one field is
        taken from the field detection gave it to (``--field problem_id=id`` stops ``id`` from
        also being the response id, so ids are made per model, problem and sample)."""
        taken = set(overrides.values())
        kept = {k: v for k, v in self.fields.items() if v not in taken}
        return replace(self, fields={**kept, **overrides},
                       layout=self.layout if not overrides else f"{self.layout}+options")


_INDEX = re.compile(r"\[(-?\d+)\]")


def check_path(name: str, path: str) -> None:
    """A mapping PATH: dotted keys or list indices, with at most one ``[]`` (every element)."""
    if not path.strip():
        raise ConfigError(f"the mapping of {name!r} has an empty PATH (write {name}=PATH, e.g. "
                          "response=choices[].message.content)")
    m = _INDEX.search(path)
    if m is not None:
        fixed = _INDEX.sub(lambda x: "." + x.group(1), path)
        raise ConfigError(f"{name}={path}: write one element of a list as a dotted index "
                          f"({fixed}), or [] for every element")
    if path.count("[]") > 1 or any(seg == "" for seg in path.replace("[]", "").split(".")
                                   if path.replace("[]", "")):
        raise ConfigError(f"{name}={path}: a PATH is dotted keys with at most one [] (e.g. "
                          "choices[].message.content)")


def parse_field_options(options: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``("response=output.text", ...)`` -> ``{"response": "output.text"}``."""
    out: dict[str, str] = {}
    for opt in options:
        if "=" not in opt:
            raise ConfigError(f"--field expects NAME=PATH, got {opt!r}")
        name, path = opt.split("=", 1)
        out[name.strip()] = path.strip()
    FieldMapping(out)  # validates names
    return out


def load_mapping_file(path: str | Path) -> dict[str, str]:
    """A mapping file: TOML or JSON with a ``fields`` table (or the table itself)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
        data = orjson.loads(raw) if p.suffix == ".json" else tomllib.loads(raw.decode())
    except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read field mapping: {exc}") from exc
    fields = data.get("fields", data) if isinstance(data, dict) else data
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ConfigError(f"{p}: the mapping must be a table of NAME = \"PATH\" strings")
    FieldMapping(fields)
    return dict(fields)


def _split_path(path: str) -> tuple[str, str]:
    """``choices[].message.content`` -> (``choices``, ``message.content``); no ``[]`` -> (path, '')."""
    if "[]" not in path:
        return path, ""
    head, tail = path.split("[]", 1)
    return head, tail.lstrip(".")


def get_path(obj: Any, path: str) -> Any:
    """Follow a dotted path (keys, integer indices); returns ``_MISSING`` when absent."""
    if path == "":
        return obj
    for seg in path.split("."):
        if isinstance(obj, dict):
            if seg not in obj:
                return _MISSING
            obj = obj[seg]
        elif isinstance(obj, list):
            try:
                obj = obj[int(seg)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return obj


def is_missing(value: Any) -> bool:
    return value is _MISSING


# --- auto-detection -------------------------------------------------------------------------

_FLAT_RESPONSE = ("response", "output", "completion", "generated_text", "model_output",
                  "prediction", "generation", "text", "content")
_RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("id", "trace_id", "response_id", "uid"),
    "model": ("model", "model_name", "model_id", "generator"),
    "benchmark": ("benchmark", "task", "task_name", "dataset", "data_source"),
    "problem_id": ("problem_id", "question_id", "problem_idx", "unique_id", "doc_id", "idx",
                   "index", "qid", "doc.id", "doc.unique_id"),
    "sample": ("sample", "sample_idx", "sample_index", "sample_id"),
    "prompt": ("prompt", "problem", "question", "input", "query", "instruction", "doc.problem",
               "doc.question", "doc.Question"),
    "gold": ("gold", "gold_answer", "ground_truth", "target", "reference_answer",
             "expected_answer", "final_answer", "doc.answer"),
    "finish_reason": ("finish_reason", "stop_reason"),
    "prompt_tokens": ("prompt_tokens", "usage.prompt_tokens", "num_input_tokens", "input_tokens"),
    "completion_tokens": ("completion_tokens", "usage.completion_tokens", "num_tokens",
                          "output_tokens", "response_tokens", "num_output_tokens"),
    "reasoning": ("reasoning_content", "reasoning", "thinking"),
    "step": ("step", "global_step", "training_step"),
}


def _first_present(record: dict, candidates: tuple[str, ...], exclude: set[str]) -> str | None:
    for c in candidates:
        if c in exclude:
            continue
        v = get_path(record, c)
        if not is_missing(v) and v is not None:
            return c
    return None


def detect_layout(record: Any) -> FieldMapping:
    """Guess a mapping from one record. Raises ConfigError when no response field is found."""
    if not isinstance(record, dict):
        raise ConfigError(f"expected a JSON object per record, got {type(record).__name__}")
    from reasonlens.traces.formats import lighteval_layout

    fields: dict[str, str] = {}
    layout = "flat"
    known = lighteval_layout(record)
    if known is not None:
        layout, fields = known
        fields = {**fields, **optional_fields(record, fields, layout)}
        return FieldMapping(fields=fields, layout=layout)
    choices = record.get("choices")
    outputs = record.get("outputs")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        if isinstance(choices[0].get("message"), dict):
            layout = "openai-chat"
            fields.update(response="choices[].message.content",
                          finish_reason="choices[].finish_reason")
            msg = choices[0]["message"]
            for key in ("reasoning_content", "reasoning"):
                if key in msg:
                    fields["reasoning"] = f"choices[].message.{key}"
                    break
        else:
            layout = "openai-completion"
            fields.update(response="choices[].text", finish_reason="choices[].finish_reason")
    elif isinstance(outputs, list) and outputs and isinstance(outputs[0], dict) \
            and "text" in outputs[0]:
        layout = "vllm"
        fields.update(response="outputs[].text", finish_reason="outputs[].finish_reason")
        if "token_ids" in outputs[0]:
            fields["completion_tokens"] = "outputs[].token_ids"
    elif isinstance(record.get("resps"), list):
        layout = "lm-eval"
        resps = record["resps"]
        fields["response"] = "resps.0[]" if resps and isinstance(resps[0], list) else "resps[]"
    elif isinstance(record.get("messages"), list):
        layout = "chat-messages"  # resolved per record in the loader (last assistant message)
        fields["response"] = "messages"
    elif isinstance(record.get("responses"), list):
        layout = "multi-response"
        fields["response"] = "responses[]"
    else:
        key = _first_present(record, _FLAT_RESPONSE, set())
        if key is None:
            raise ConfigError(
                "cannot find the response text in the record (keys: "
                f"{', '.join(list(record)[:20])}); looked for {', '.join(_FLAT_RESPONSE)}, "
                "choices[].message.content, outputs[].text, resps, messages, responses. "
                "Map it with --field response=PATH")
        fields["response"] = key
    fields.update(optional_fields(record, fields, layout))
    if layout == "openai-chat" and "prompt_tokens" not in fields and "usage" in record:
        fields["prompt_tokens"] = "usage.prompt_tokens"
    return FieldMapping(fields=fields, layout=layout)


def optional_fields(record: dict, fields: dict[str, str], layout: str) -> dict[str, str]:
    """Paths of the trace fields not yet in ``fields`` that ``record`` carries under a usual name.

    Used on the first record and again on any later record with a new set of keys, so a field
    that the first record lacks (``gold`` in some records only) is still picked up.
    """
    used = set(fields.values())
    found: dict[str, str] = {}
    for name, candidates in _RECORD_FIELDS.items():
        if name in fields:
            continue
        if layout == "openai-chat" and name == "id":
            continue  # a chat completion id names the request, not the response
        key = _first_present(record, candidates, used)
        if key is not None:
            found[name] = key
            used.add(key)
    return found


def pending_keys(fields: dict[str, str], layout: str) -> frozenset[str]:
    """The top-level keys through which :func:`optional_fields` could still map a field that
    ``fields`` lacks: a record carrying one of them with a value is looked at again."""
    return frozenset(p.split(".")[0] for p in pending_paths(fields, layout))


def pending_paths(fields: dict[str, str], layout: str) -> frozenset[str]:
    """The paths at which :func:`optional_fields` could still map a field that ``fields``
    lacks (``usage.prompt_tokens``)."""
    used = set(fields.values())
    paths = set()
    for name, candidates in _RECORD_FIELDS.items():
        if name in fields or (layout == "openai-chat" and name == "id"):
            continue
        paths.update(c for c in candidates if c not in used)
    return frozenset(paths)
