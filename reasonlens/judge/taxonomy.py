"""Behaviour taxonomies as registered, versioned data (kind ``taxonomy``).

A taxonomy TOML (``reasonlens/resources/taxonomies/<name>.toml``, or any path) holds ``name``,
``version``, ``title``, ``default_unit`` (``episodes`` or ``sentences``), optional ``exclusive``
(one label per sentence), ``[[labels]]`` (``key``, ``title``, ``definition``, ``examples``,
optional ``negative_examples`` and ``rubric``), optional ``[mapping]`` (paper behaviour -> list
of label keys: how the labels map onto the paper's two behaviours) and optional
``[source_labels]`` (label names as a human-labelled release spells them -> key).

Shipped: ``paper`` (the default: multi_perspective, metacognitive), ``schoenfeld`` (the seven
episodes of Li et al. 2025) and ``gandhi`` (the four behaviours of Gandhi et al. 2025).

Output columns: a judge or detector run with taxonomy T writes ``<key>_count`` for every label
of T and, when T maps onto the paper's behaviours, also ``multi_perspective_count`` /
``metacognitive_count`` computed from the mapped labels (a sentence carries the behaviour when it
carries any mapped label), so those columns keep their names whichever taxonomy ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reasonlens import registry
from reasonlens.errors import ConfigError
from reasonlens.schema import BEHAVIOURS

DEFAULT_TAXONOMY = "paper"
UNITS = ("episodes", "sentences")
PAPER_BEHAVIOURS = BEHAVIOURS
UNIT_NOTE = ("episodes = maximal runs of consecutive labelled sentences (the default count per "
             "response); sentences = labelled sentences. The paper's own unit is not public.")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Label:
    key: str
    title: str
    definition: str
    examples: tuple[str, ...] = ()
    negative_examples: tuple[str, ...] = ()
    rubric: str | None = None


@dataclass(frozen=True)
class Taxonomy:
    name: str
    version: str
    title: str
    labels: tuple[Label, ...]
    default_unit: str = "episodes"
    exclusive: bool = False
    mapping: dict[str, tuple[str, ...]] = field(default_factory=dict)
    source_labels: dict[str, str] = field(default_factory=dict)
    path: str = ""
    sha256: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(lb.key for lb in self.labels)

    @property
    def mapped(self) -> dict[str, tuple[str, ...]]:
        """Paper behaviour -> labels: the mapping, or identity for the paper's own labels."""
        out = {b: (b,) for b in self.keys if b in PAPER_BEHAVIOURS}
        out.update(self.mapping)
        return out

    def outputs(self) -> tuple[str, ...]:
        """Every ``<x>_count`` column a run writes: the labels, then mapped paper behaviours."""
        return self.keys + tuple(b for b in self.mapped if b not in self.keys)

    def key_of(self, name: str) -> str | None:
        """The label key for a label name as a corpus spells it (key, source label or title,
        case-insensitive); None when unknown."""
        if name in self.source_labels:
            return self.source_labels[name]
        low = name.strip().lower()
        for lb in self.labels:
            if low in (lb.key, lb.title.lower()):
                return lb.key
        for k, v in self.source_labels.items():
            if k.lower() == low:
                return v
        return None

    def record(self) -> dict[str, str]:
        return {"kind": "taxonomy", "name": self.name, "version": self.version,
                "sha256": self.sha256, "path": self.path}


def _strs(v: Any, where: str) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise ConfigError(f"{where} must be a list of strings")
    return tuple(v)


def _label(raw: Any, where: str) -> Label:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ConfigError(f"{where}: 'key' must be a lower-case identifier, got {key!r}")
    for f in ("title", "definition"):
        if not isinstance(raw.get(f), str) or not raw[f].strip():
            raise ConfigError(f"{where}: field {f!r} is required (a non-empty string)")
    return Label(key, raw["title"].strip(), raw["definition"].strip(),
                 _strs(raw.get("examples"), f"{where}.examples"),
                 _strs(raw.get("negative_examples"), f"{where}.negative_examples"),
                 raw.get("rubric"))


def load_taxonomy(ref: str | None = None) -> Taxonomy:
    """Load a taxonomy by registered name (``paper``, ``schoenfeld``, ``gandhi``) or path."""
    df = registry.load("taxonomy", ref or DEFAULT_TAXONOMY)
    c, p = df.content, df.path
    raw_labels = c.get("labels")
    if not isinstance(raw_labels, list) or not raw_labels:
        raise ConfigError(f"{p}: a taxonomy needs at least one [[labels]] entry")
    labels = tuple(_label(x, f"{p}: labels[{i}]") for i, x in enumerate(raw_labels))
    keys = [lb.key for lb in labels]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"{p}: label keys repeat: {keys}")
    unit = c.get("default_unit", "episodes")
    if unit not in UNITS:
        raise ConfigError(f"{p}: default_unit must be one of {', '.join(UNITS)}, got {unit!r}")
    mapping: dict[str, tuple[str, ...]] = {}
    for b, ls in (c.get("mapping") or {}).items():
        ls = _strs(ls, f"{p}: mapping.{b}")
        if b not in PAPER_BEHAVIOURS:
            raise ConfigError(f"{p}: mapping key {b!r} is not a paper behaviour "
                              f"({', '.join(PAPER_BEHAVIOURS)})")
        bad = [x for x in ls if x not in keys]
        if bad:
            raise ConfigError(f"{p}: mapping.{b} names unknown labels {bad}")
        mapping[b] = ls
    src = c.get("source_labels") or {}
    if not isinstance(src, dict) or any(v not in keys for v in src.values()):
        raise ConfigError(f"{p}: source_labels must map names onto label keys")
    return Taxonomy(df.name, df.version, str(c.get("title", df.name)), labels, unit,
                    bool(c.get("exclusive", False)), mapping, dict(src), p, df.sha256)


def check_unit(unit: str | None, taxonomy: Taxonomy | None) -> str:
    """``unit``, else the taxonomy's default, else ``episodes``; checked."""
    unit = unit or (taxonomy.default_unit if taxonomy is not None else "episodes")
    if unit not in UNITS:
        raise ConfigError(f"--unit must be one of {', '.join(UNITS)}, got {unit!r}")
    return unit


def count_units(flags: list[bool] | list[int], unit: str) -> int:
    """Count of one label in one trace from its per-sentence flags (in trace order):
    ``sentences`` = flagged sentences; ``episodes`` = maximal runs of consecutive flagged ones."""
    if unit == "sentences":
        return int(sum(bool(x) for x in flags))
    n, prev = 0, False
    for x in flags:
        x = bool(x)
        if x and not prev:
            n += 1
        prev = x
    return n


def count_indices(indices, unit: str) -> int:
    """:func:`count_units` from the (1-based) indices of the labelled sentences."""
    idx = sorted(set(int(i) for i in indices if i is not None))
    if unit == "sentences":
        return len(idx)
    return sum(1 for k, i in enumerate(idx) if k == 0 or idx[k - 1] != i - 1)
