"""Versioned data files registered by name: lexicons, ban lists, prompt templates, judge rubrics.

A data file is TOML with at least ``name`` and ``version`` keys. Files are found by name in, in
order: the directories listed in ``REASONLENS_DATA_PATH`` (``os.pathsep``-separated, each holding
``<kind-dir>/<name>.toml``), then the files shipped with reasonlens. Anything that looks like a path
(contains a slash or ends in ``.toml``) is loaded from that path instead, so users can pass their
own lexicons and rubrics.

Kinds and where shipped files live:

=========  =====================================  ==========================
kind       shipped in                             example names
=========  =====================================  ==========================
lexicon    reasonlens/resources/lexicons/         anthropomorphic, connectors
banlist    reasonlens/resources/banlists/         paper_core
template   prompts/templates/                     boxed_cot, gpqa_letter
rubric     prompts/rubrics/                       multi_perspective
taxonomy   reasonlens/resources/taxonomies/       paper, schoenfeld, gandhi
=========  =====================================  ==========================

``prompts/`` and ``annotations/`` sit at the repository root; ``reasonlens/resources/prompts`` and
``reasonlens/resources/annotations`` are symlinks to them, so wheels ship copies.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from reasonlens.errors import ConfigError, UnknownNameError

_PKG_ROOT = Path(__file__).resolve().parent
_REPO_ROOT = _PKG_ROOT.parent

# annotations/ is shipped inside the package as reasonlens/resources/annotations (a symlink to the
# repo-root folder in a checkout, copied into wheels), so installed copies find the gold set too
ANNOTATIONS = _PKG_ROOT / "resources" / "annotations"
DEFAULT_GOLD = ANNOTATIONS / "gold.jsonl"   # the span-labelled gold set (reasonlens.judge.gold)

# kind -> (python package holding the files, sub-directory, repo-checkout fallback directory)
KINDS: dict[str, tuple[str, str, Path]] = {
    "lexicon": ("reasonlens", "resources/lexicons", _PKG_ROOT / "resources" / "lexicons"),
    "banlist": ("reasonlens", "resources/banlists", _PKG_ROOT / "resources" / "banlists"),
    "template": ("reasonlens", "resources/prompts/templates", _REPO_ROOT / "prompts" / "templates"),
    "rubric": ("reasonlens", "resources/prompts/rubrics", _REPO_ROOT / "prompts" / "rubrics"),
    "taxonomy": ("reasonlens", "resources/taxonomies", _PKG_ROOT / "resources" / "taxonomies"),
}


@dataclass(frozen=True)
class DataFile:
    """A loaded data file: its kind, name, version, content hash and parsed content."""

    kind: str
    name: str
    version: str
    path: str
    sha256: str
    content: dict[str, Any]

    def record(self) -> dict[str, str]:
        """What goes into provenance."""
        return {"kind": self.kind, "name": self.name, "version": self.version,
                "sha256": self.sha256, "path": self.path}


def _shipped_dir(kind: str) -> Path | None:
    pkg, sub, fallback = KINDS[kind]
    try:
        base = resources.files(pkg)
        cand = Path(str(base)) / sub
        if cand.is_dir():
            return cand
    except (ModuleNotFoundError, TypeError):
        pass
    return fallback if fallback.is_dir() else None


def search_dirs(kind: str) -> list[Path]:
    if kind not in KINDS:
        raise UnknownNameError("data-file kind", kind, list(KINDS))
    dirs: list[Path] = []
    for entry in filter(None, os.environ.get("REASONLENS_DATA_PATH", "").split(os.pathsep)):
        d = Path(entry) / KINDS[kind][1].split("/")[-1]
        if d.is_dir():
            dirs.append(d)
    shipped = _shipped_dir(kind)
    if shipped is not None:
        dirs.append(shipped)
    return dirs


def list_names(kind: str) -> list[str]:
    names: list[str] = []
    for d in search_dirs(kind):
        for f in sorted(d.glob("*.toml")):
            if f.stem not in names:
                names.append(f.stem)
    return names


def _looks_like_path(ref: str) -> bool:
    return "/" in ref or os.sep in ref or ref.endswith(".toml")


def find(kind: str, ref: str | os.PathLike) -> Path:
    """Path of the data file ``ref`` (a registered name or a path)."""
    ref_s = str(ref)
    if _looks_like_path(ref_s):
        p = Path(ref_s).expanduser()
        if not p.is_file():
            raise ConfigError(f"{kind} file not found: {p}")
        return p
    for d in search_dirs(kind):
        p = d / f"{ref_s}.toml"
        if p.is_file():
            return p
    raise UnknownNameError(kind, ref_s, list_names(kind))


def load(kind: str, ref: str | os.PathLike) -> DataFile:
    """Load and check a data file: TOML with ``name`` and ``version``."""
    path = find(kind, ref)
    raw = path.read_bytes()
    try:
        content = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    for key in ("name", "version"):
        if not isinstance(content.get(key), str) or not content[key]:
            raise ConfigError(f"{path}: field {key!r} is required (a non-empty string)")
    return DataFile(kind=kind, name=content["name"], version=content["version"], path=str(path),
                    sha256=hashlib.sha256(raw).hexdigest(), content=content)
