"""Prompt templates (TOML, kind "template" in :mod:`reasonlens.registry`) and rendering.

A template has ``name``, ``version``, ``description``, ``user`` (required), optional ``system``
and ``assistant_prefix`` (text the response is forced to start with, e.g. ``"<think>\\n"``).
Placeholders: ``{problem}``, ``{choices}`` (lettered lines "A) ..."), ``{letters}`` ("ABCD") and
``{A}``..``{J}``. Only these are substituted, so LaTeX braces such as ``\\boxed{}`` stay as they
are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson

from reasonlens import registry
from reasonlens.problems.gpqa import LETTERS
from reasonlens.errors import ConfigError, InputError

_PLACEHOLDER = re.compile(r"\{(problem|choices|letters|[A-J])\}")


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    user: str
    system: str | None
    assistant_prefix: str | None
    data_file: registry.DataFile

    def record(self) -> dict[str, str]:
        return self.data_file.record()


def load_template(ref: str = "boxed_cot") -> Template:
    """A template by registered name or path."""
    df = registry.load("template", ref)
    c = df.content
    user = c.get("user")
    if not isinstance(user, str) or "{problem}" not in user:
        raise ConfigError(f"{df.path}: field 'user' must be a string containing {{problem}}")
    for key in ("system", "assistant_prefix"):
        if c.get(key) is not None and not isinstance(c[key], str):
            raise ConfigError(f"{df.path}: field {key!r} must be a string")
    return Template(df.name, df.version, user, c.get("system") or None,
                    c.get("assistant_prefix") or None, df)


def list_templates() -> list[str]:
    return registry.list_names("template")


def _choices(row: dict[str, Any]) -> list[str]:
    raw = row.get("choices")
    if raw is None:
        return []
    if isinstance(raw, str):
        try:
            raw = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"choices is not JSON: {exc}", field="choices") from exc
    if not isinstance(raw, list):
        raise InputError("choices must be a JSON list", field="choices")
    return [str(c) for c in raw]


def render_user(row: dict[str, Any], template: Template) -> str:
    choices = _choices(row)
    if "{choices}" in template.user and not choices:
        raise ConfigError(f"template {template.name!r} needs choices; problem "
                          f"{row.get('problem_id')!r} has none")
    values = {"problem": str(row.get("problem") or ""),
              "choices": "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices)),
              "letters": LETTERS[:len(choices)] or "ABCD"}
    for i, c in enumerate(choices):
        values[LETTERS[i]] = c
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template.user)


def render_prompt(problem_row: dict[str, Any], template_ref: str | Template = "boxed_cot"
                  ) -> list[dict[str, str]]:
    """Chat messages for one problem row. With an ``assistant_prefix`` the last message is a
    partial assistant turn that the server must continue (vLLM: ``continue_final_message``)."""
    t = template_ref if isinstance(template_ref, Template) else load_template(template_ref)
    msgs: list[dict[str, str]] = []
    if t.system:
        msgs.append({"role": "system", "content": t.system})
    msgs.append({"role": "user", "content": render_user(problem_row, t)})
    if t.assistant_prefix:
        msgs.append({"role": "assistant", "content": t.assistant_prefix})
    return msgs
