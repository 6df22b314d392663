"""What to ban: lexicon categories, explicit words and named ban-list presets.

``--ban NAME`` bans a whole lexicon (``reasonlens.lexicon.load_lexicon``: shipped name or path);
``--ban-words w1,w2`` bans explicit words as the category ``words``; ``--banlist NAME`` expands a
preset from ``reasonlens/resources/banlists/`` (kind ``banlist``), whose ``[categories.C]``
tables take ``terms`` from ``lexicon`` (every term must be in it) and/or explicit ``words``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reasonlens import registry
from reasonlens.errors import ConfigError


def _split_words(values: Sequence[str]) -> list[str]:
    out = []
    for v in values:
        out += [w.strip() for w in v.split(",") if w.strip()]
    return out


def load_banlist(ref: str) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """(category -> terms, data-file records) of a ban-list preset."""
    from reasonlens.lexicon import load_lexicon, normalize_term

    df = registry.load("banlist", ref)
    if df.content.get("kind", "banlist") != "banlist":
        raise ConfigError(f"{df.path}: field 'kind' must be \"banlist\"")
    cats = df.content.get("categories")
    if not isinstance(cats, dict) or not cats:
        raise ConfigError(f"{df.path}: field 'categories' must hold at least one "
                          "[categories.NAME] table")
    out: dict[str, list[str]] = {}
    records = [df.record()]
    for name, spec in cats.items():
        where = f"categories.{name}"
        if not isinstance(spec, dict):
            raise ConfigError(f"{df.path}: field {where!r} must be a table")
        terms: list[str] = []
        lex_ref = spec.get("lexicon")
        if lex_ref is not None:
            lex = load_lexicon(lex_ref)
            records.append(lex.record())
            wanted = spec.get("terms")
            if wanted is None:
                terms += list(lex.terms)
            else:
                if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
                    raise ConfigError(f"{df.path}: field '{where}.terms' must be a list of "
                                      "strings")
                missing = [t for t in wanted if normalize_term(t) not in set(lex.terms)]
                if missing:
                    raise ConfigError(f"{df.path}: field '{where}.terms': {missing} not in "
                                      f"lexicon {lex.name!r}")
                terms += [normalize_term(t) for t in wanted]
        words = spec.get("words", [])
        if not isinstance(words, list) or not all(isinstance(t, str) for t in words):
            raise ConfigError(f"{df.path}: field '{where}.words' must be a list of strings")
        terms += words
        if not terms:
            raise ConfigError(f"{df.path}: field {where!r} bans nothing (give lexicon, terms "
                              "or words)")
        out[name] = list(dict.fromkeys(terms))
    return out, records


def resolve_categories(bans: Sequence[str] = (), ban_words: Sequence[str] = (),
                       banlist: str | None = None
                       ) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """Category -> terms, in the order given, and the data files used (for provenance)."""
    from reasonlens.lexicon import load_lexicon

    cats: dict[str, list[str]] = {}
    records: list[dict[str, Any]] = []
    if banlist:
        c, r = load_banlist(banlist)
        cats.update(c)
        records += r
    for ref in bans:
        lex = load_lexicon(ref)
        if lex.name in cats:
            raise ConfigError(f"category {lex.name!r} is given twice")
        cats[lex.name] = list(lex.terms)
        records.append(lex.record())
    words = _split_words(ban_words)
    if words:
        if "words" in cats:
            raise ConfigError("category 'words' is given twice")
        cats["words"] = words
    for reserved in ("none", "all", "random"):
        if reserved in cats:
            raise ConfigError(f"a ban category may not be named {reserved!r} (a condition name)")
    if not cats:
        raise ConfigError("nothing to ban: give --ban CATEGORY, --ban-words or --banlist")
    return cats, records
