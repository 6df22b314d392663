"""Judge rubrics and the judge prompt template, loaded through :mod:`reasonlens.registry`.

A rubric (kind ``rubric``, ``prompts/rubrics/<name>.toml``) defines one behaviour: ``name``,
``version``, ``behaviour`` (the column prefix, e.g. ``multi_perspective``), ``title``,
``definition``, ``count_rule``, optional ``notes``, and ``positive_examples`` /
``negative_examples`` (each a string or a table with ``quote`` and an optional ``why``).
The template (kind ``template``, default ``judge_behaviour``) holds the ``system`` and ``user``
messages with ``{{placeholders}}`` (see the comment at the top of the shipped file).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from reasonlens import registry
from reasonlens.errors import ConfigError
from reasonlens.schema import BEHAVIOURS
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class Example:
    quote: str
    why: str | None = None


@dataclass(frozen=True)
class Rubric:
    name: str
    version: str
    behaviour: str
    title: str
    definition: str
    count_rule: str
    notes: str
    positive_examples: tuple[Example, ...]
    negative_examples: tuple[Example, ...]
    path: str
    sha256: str

    def record(self) -> dict[str, str]:
        """Provenance entry (also part of every cache key)."""
        return {"kind": "rubric", "name": self.name, "version": self.version,
                "behaviour": self.behaviour, "sha256": self.sha256, "path": self.path}


@dataclass(frozen=True)
class Template:
    name: str
    version: str
    system: str
    user: str
    problem_block: str
    chunk_note: str
    path: str
    sha256: str

    def record(self) -> dict[str, str]:
        return {"kind": "template", "name": self.name, "version": self.version,
                "sha256": self.sha256, "path": self.path}


def _text(content: dict[str, Any], key: str, path: str, *, required: bool = True) -> str:
    v = content.get(key)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        raise ConfigError(f"{path}: field {key!r} is required (a non-empty string)")
    return v.strip()


def _examples(content: dict[str, Any], key: str, path: str) -> tuple[Example, ...]:
    raw = content.get(key, [])
    if not isinstance(raw, list):
        raise ConfigError(f"{path}: field {key!r} must be a list of strings or tables")
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str) and item.strip():
            out.append(Example(item.strip()))
        elif isinstance(item, dict) and isinstance(item.get("quote"), str) and item["quote"]:
            why = item.get("why") or item.get("explanation")
            out.append(Example(item["quote"].strip(), why.strip() if isinstance(why, str)
                               else None))
        else:
            raise ConfigError(f"{path}: {key}[{i}] must be a string or a table with 'quote'")
    return tuple(out)


def load_rubric(ref: str) -> Rubric:
    """Load a rubric by registered name (``multi_perspective``) or path."""
    df = registry.load("rubric", ref)
    c = df.content
    behaviour = c.get("behaviour", df.name)
    if not isinstance(behaviour, str) or not _KEY.match(behaviour):
        raise ConfigError(f"{df.path}: field 'behaviour' must be a lower-case identifier "
                          f"(letters, digits, _), got {behaviour!r}")
    return Rubric(name=df.name, version=df.version, behaviour=behaviour,
                  title=_text(c, "title", df.path), definition=_text(c, "definition", df.path),
                  count_rule=_text(c, "count_rule", df.path),
                  notes=_text(c, "notes", df.path, required=False),
                  positive_examples=_examples(c, "positive_examples", df.path),
                  negative_examples=_examples(c, "negative_examples", df.path),
                  path=df.path, sha256=df.sha256)


def load_template(ref: str = "judge_behaviour") -> Template:
    """Load the judge prompt template by name or path and check its placeholders."""
    df = registry.load("template", ref)
    c = df.content
    t = Template(name=df.name, version=df.version, system=_text(c, "system", df.path),
                 user=_text(c, "user", df.path),
                 problem_block=c.get("problem_block", "") or "",
                 chunk_note=c.get("chunk_note", "") or "", path=df.path, sha256=df.sha256)
    allowed = {"title", "definition", "count_rule", "notes", "positive_examples",
               "negative_examples", "tag", "trace", "problem_block", "chunk_note",
               "first_sentence", "last_sentence", "problem", "chunk_number", "n_chunks",
               "taxonomy_title", "labels", "label_keys"}
    for field_name in ("system", "user", "problem_block", "chunk_note"):
        for m in _PLACEHOLDER.finditer(getattr(t, field_name)):
            if m.group(1) not in allowed:
                raise ConfigError(f"{df.path}: unknown placeholder {{{{{m.group(1)}}}}} in "
                                  f"{field_name!r}; allowed: {', '.join(sorted(allowed))}")
    if "{{trace}}" not in t.user or "{{tag}}" not in t.user:
        raise ConfigError(f"{df.path}: the user message must contain {{{{trace}}}} inside "
                          "{{tag}} delimiters")
    return t


def render(template: str, values: dict[str, str]) -> str:
    """Fill ``{{name}}`` placeholders in one pass (values are never re-scanned, so text inside
    them that looks like a placeholder stays as it is)."""
    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key not in values:
            raise ConfigError(f"template placeholder {{{{{key}}}}} has no value")
        return str(values[key])
    return _PLACEHOLDER.sub(sub, template)


def format_examples(examples: tuple[Example, ...]) -> str:
    if not examples:
        return "(none)"
    return "\n".join(f'- "{e.quote}"' + (f" ({e.why})" if e.why else "") for e in examples)


def resolve_rubrics(behaviours: tuple[str, ...] = (), rubric_paths: tuple[str, ...] = ()
                    ) -> list[Rubric]:
    """Rubrics for ``--behaviour`` names and ``--rubric`` paths. A ``--rubric`` whose behaviour
    matches a named one replaces it; duplicates are an error."""
    rubrics: dict[str, Rubric] = {}
    for b in behaviours:
        r = load_rubric(b)
        if r.behaviour in rubrics:
            raise ConfigError(f"behaviour {r.behaviour!r} given twice")
        rubrics[r.behaviour] = r
    seen_paths: set[str] = set()
    for p in rubric_paths:
        r = load_rubric(p)
        if r.behaviour in seen_paths:
            raise ConfigError(f"two --rubric files define behaviour {r.behaviour!r}")
        seen_paths.add(r.behaviour)
        rubrics[r.behaviour] = r
    if not rubrics:
        raise ConfigError("no behaviour to judge: give --behaviour NAME or --rubric PATH")
    return list(rubrics.values())
