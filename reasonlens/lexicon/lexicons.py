"""Lexicons: versioned word lists registered by name (``reasonlens.registry`` kind ``lexicon``).

A lexicon is a TOML file with ``name``, ``version``, ``description``, ``source`` and ``terms`` (a
list of words, multi-word phrases, hyphenated words or LaTeX commands). Shipped lexicons live in
``reasonlens/resources/lexicons/``; a user lexicon is loaded from a path (anything containing a
slash or ending in ``.toml``). One lexicon is one *category* in the scores (its name becomes the
column name), so names are restricted to lower-case identifiers.

Term rules (checked on load, errors name the file and the term):

- a word or phrase starts and ends with an ASCII letter or digit and contains only letters,
  digits, apostrophes (``'`` or ``’``), hyphens and single spaces between words;
- or a LaTeX command: a backslash followed by ASCII letters (``\\frac``), matched case-sensitively;
- terms are unique after normalisation (lower case, ``’`` -> ``'``, Unicode hyphens -> ``-``,
  runs of whitespace -> one space).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonlens import registry
from reasonlens.errors import ConfigError
from reasonlens.schema import TERMS_SCHEMA, responses_schema

KIND = "lexicon"

# Column names a lexicon name may not take (they are score columns already, see schema.py).
RESERVED_NAMES = frozenset({*responses_schema(()), *TERMS_SCHEMA, "terms", "row"})

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_LATEX_RE = re.compile(r"^\\[A-Za-z]+$")
# Letters (any script), digits, apostrophes, hyphens, single spaces; ASCII alnum at both ends.
_TERM_RE = re.compile(r"^[A-Za-z0-9](?:[^\W_]|['’\-‐‑ ])*(?<=[A-Za-z0-9])$|^[A-Za-z0-9]$")
_HYPHENS = str.maketrans({"‐": "-", "‑": "-", "’": "'"})
_WS_RE = re.compile(r"\s+")


def normalize_term(term: str) -> str:
    """The canonical form of a term or of a matched span (LaTeX commands keep their case)."""
    t = term.strip()
    if t.startswith("\\"):
        return t
    return _WS_RE.sub(" ", t.translate(_HYPHENS)).lower()


def is_latex(term: str) -> bool:
    return bool(_LATEX_RE.match(term))


@dataclass(frozen=True)
class Lexicon:
    """A loaded lexicon. ``terms`` are normalised, unique, in file order."""

    name: str
    version: str
    terms: tuple[str, ...]
    description: str = ""
    source: str = ""
    sha256: str = ""
    path: str = ""

    def record(self) -> dict[str, Any]:
        """What goes into provenance."""
        return {"kind": KIND, "name": self.name, "version": self.version, "sha256": self.sha256,
                "path": self.path, "n_terms": len(self.terms)}

    @classmethod
    def from_terms(cls, name: str, terms: list[str] | tuple[str, ...], *, version: str = "0",
                   description: str = "", source: str = "in-memory") -> Lexicon:
        """Build a lexicon from a Python list (validated like a file)."""
        import hashlib

        _check_name(name, "<in-memory>")
        norm = validate_terms(list(terms), where=f"lexicon {name!r}")
        digest = hashlib.sha256("\n".join(norm).encode()).hexdigest()
        return cls(name=name, version=version, terms=tuple(norm), description=description,
                   source=source, sha256=digest, path="")


def _check_name(name: str, where: str) -> None:
    if not _NAME_RE.match(name):
        raise ConfigError(f"{where}: lexicon name {name!r} must be a lower-case identifier "
                          "(letters, digits, underscores; it becomes a column name)")
    if name in RESERVED_NAMES:
        raise ConfigError(f"{where}: lexicon name {name!r} is reserved (a score column)")


def validate_terms(terms: Any, *, where: str) -> list[str]:
    """Check and normalise a term list; raise ConfigError naming ``where`` and the bad term."""
    if not isinstance(terms, list) or not terms:
        raise ConfigError(f"{where}: field 'terms' must be a non-empty list of strings")
    out: list[str] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(terms):
        if not isinstance(raw, str):
            raise ConfigError(f"{where}: terms[{i}] must be a string, got {type(raw).__name__}")
        t = raw.strip()
        if not is_latex(t):
            t = _WS_RE.sub(" ", t)
            if not _TERM_RE.match(t):
                raise ConfigError(
                    f"{where}: term {raw!r} is not a valid term: use letters, digits, "
                    "apostrophes, hyphens and single spaces, starting and ending with an ASCII "
                    "letter or digit, or a LaTeX command such as \\frac")
        norm = normalize_term(t)
        if norm in seen:
            raise ConfigError(f"{where}: term {raw!r} duplicates {seen[norm]!r} "
                              "(terms are compared case-insensitively)")
        seen[norm] = raw
        out.append(norm)
    return out


def load_lexicon(ref: str | Path | Lexicon) -> Lexicon:
    """Load a lexicon by registered name (``anthropomorphic``) or from a TOML path."""
    if isinstance(ref, Lexicon):
        return ref
    data = registry.load(KIND, ref)
    where = data.path
    _check_name(data.name, where)
    terms = validate_terms(data.content.get("terms"), where=where)
    desc = data.content.get("description", "")
    src = data.content.get("source", "")
    if not isinstance(desc, str) or not isinstance(src, str):
        raise ConfigError(f"{where}: 'description' and 'source' must be strings")
    return Lexicon(name=data.name, version=data.version, terms=tuple(terms),
                   description=desc.strip(), source=src.strip(), sha256=data.sha256,
                   path=data.path)


def load_lexicons(refs: list[str | Path | Lexicon] | tuple) -> tuple[Lexicon, ...]:
    """Load several lexicons; their names (the categories) must be distinct."""
    lexs = tuple(load_lexicon(r) for r in refs)
    if not lexs:
        raise ConfigError("at least one lexicon is needed")
    names = [lx.name for lx in lexs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"lexicon name(s) given twice: {', '.join(dup)}")
    return lexs


def list_lexicons() -> list[str]:
    """Names of the registered lexicons (shipped plus REASONLENS_DATA_PATH)."""
    return registry.list_names(KIND)


DEFAULT_LEXICONS = ("anthropomorphic", "connectors", "math")
