"""Ban-set builder (pure): banned words -> the exact token ids and id sequences to block.

For every banned lexeme (a word or phrase from a lexicon category, a ban-list preset or the
command line) and a given tokenizer (:class:`reasonlens.ablate.tokenizers.BanTokenizer`):

1. surface variants: lower, Title, UPPER (and ASCII/typographic apostrophes), each bare, after a
   space and after a newline, plus glued to punctuation (".Wait", "(wait", "\\"Wait", "**Wait");
2. each variant is encoded with the exact tokenizer; a one-token variant is a *single* ban, a
   several-token variant a *sequence* ban (the last token is blocked when the prefix matches:
   the transformers backend does this exactly);
3. the whole vocabulary is scanned for ids whose surface, with byte-level space markers,
   whitespace and punctuation stripped and case folded, equals a banned lexeme (catches merges
   the variants miss, e.g. a "\\n\\nWait" or ".Wait" token);
4. *pieces*: backends without sequence support (OpenAI-compatible ``logit_bias``, vLLM offline)
   can only block whole ids, so by default the last piece of a multi-token lower/Title variant
   of a one-word lexeme ("mm" of " hmm" = "Ġh" + "mm"; never a one-character piece) is banned
   everywhere; :func:`collateral_report` lists
   the other words that blocks. ``BanConfig(pieces="none")`` (``--no-collateral-pieces``) never
   bans an id whose surface is not a whole banned word; those forms then leak and are measured.

Phrases ("let me", "on the other hand") and words with apostrophes never contribute pieces.
The :attr:`BanSet.hash` covers the exact ids, sequences and pieces plus the tokenizer
fingerprint, and is stored with every run.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from reasonlens.errors import ConfigError
from reasonlens.provenance import content_hash

_MARKERS = {"\u0120": " ", "\u010a": "\n", "\u2581": " "}   # Ġ, Ċ, ▁
_APOS = {"\u2019": "'", "\u2018": "'", "\u02bc": "'"}


def normalise_lexeme(term: str) -> str:
    """Case-folded, apostrophes unified, inner whitespace collapsed."""
    t = "".join(_APOS.get(c, c) for c in unicodedata.normalize("NFKC", term))
    return " ".join(t.casefold().split())


def _is_strip(c: str) -> bool:
    return c.isspace() or unicodedata.category(c)[0] in "PSC"


def surface_core(surface: str, *, fold: bool = True) -> str:
    """A token surface with space markers, whitespace and punctuation stripped at both ends."""
    s = "".join(_MARKERS.get(c, c) for c in surface)
    s = "".join(_APOS.get(c, c) for c in s)
    i, j = 0, len(s)
    while i < j and _is_strip(s[i]):
        i += 1
    while j > i and _is_strip(s[j - 1]):
        j -= 1
    core = s[i:j]
    return core.casefold() if fold else core


def _single_word(lexeme: str) -> bool:
    return lexeme.isalpha()


@dataclass(frozen=True)
class BanConfig:
    """How a word becomes token ids. Frozen: part of the ban-set hash."""

    cases: tuple[str, ...] = ("lower", "title", "upper")
    prefixes: tuple[str, ...] = ("", " ", "\n")
    glue: tuple[str, ...] = (".", ",", "(", '"', "'", "*", "**", "-", ":", "\n\n", "[", "`")
    scan_vocab: bool = True
    pieces: str = "last"          # "last" | "none"
    bias: float = -100.0

    def __post_init__(self):
        bad = set(self.cases) - {"lower", "title", "upper"}
        if bad:
            raise ConfigError(f"unknown case variant(s) {sorted(bad)}; use lower, title, upper")
        if self.pieces not in ("last", "none"):
            raise ConfigError(f"pieces must be 'last' or 'none', got {self.pieces!r}")
        if not -100.0 <= self.bias <= 100.0:
            raise ConfigError(f"bias {self.bias} is outside [-100, 100]")


@dataclass(frozen=True)
class Variant:
    """One encoded surface form of a banned lexeme."""

    lexeme: str
    text: str
    ids: tuple[int, ...]
    origin: str      # "core" (bare/space/newline), "glue", "scan"

    @property
    def kind(self) -> str:
        return "single" if len(self.ids) == 1 else "sequence"


@dataclass(frozen=True)
class BanSet:
    """The exact ids to block for a set of banned lexemes under one tokenizer."""

    name: str
    categories: tuple[tuple[str, tuple[str, ...]], ...]
    single_ids: tuple[int, ...]
    sequences: tuple[tuple[int, ...], ...]
    piece_ids: tuple[int, ...]
    variants: tuple[Variant, ...]
    id_lexemes: tuple[tuple[int, tuple[str, ...]], ...]     # id -> lexemes it stands for
    coverage: tuple[tuple[str, str], ...]                   # lexeme -> single|sequence|mixed
    tokenizer: dict[str, Any] = field(hash=False, compare=False)
    config: BanConfig = field(default_factory=BanConfig)
    core_single_ids: tuple[int, ...] = ()

    @property
    def lexemes(self) -> tuple[str, ...]:
        return tuple(sorted({t for _, terms in self.categories for t in terms}))

    def bias_ids(self, *, sequences_supported: bool) -> list[int]:
        """Ids blocked unconditionally, most important first (for entry limits).

        Order: single ids of bare/space/newline variants, other single ids (UPPER, glue, scan),
        then pieces (only where the backend cannot block sequences).
        """
        core = list(self.core_single_ids)
        rest = [i for i in self.single_ids if i not in set(core)]
        pieces = [] if sequences_supported else [i for i in self.piece_ids
                                                 if i not in set(self.single_ids)]
        return core + rest + pieces

    def logit_bias(self, *, sequences_supported: bool = False, limit: int | None = None
                   ) -> dict[int, float]:
        ids = self.bias_ids(sequences_supported=sequences_supported)
        if limit is not None:
            ids = ids[:limit]
        return {int(i): float(self.config.bias) for i in ids}

    def n_banned_ids(self, *, sequences_supported: bool) -> int:
        """Distinct ids the ban can block: unconditional ids, plus last ids of sequences."""
        ids = set(self.bias_ids(sequences_supported=sequences_supported))
        if sequences_supported:
            ids |= {s[-1] for s in self.sequences}
        return len(ids)

    def single_token_lexemes(self) -> tuple[str, ...]:
        return tuple(lex for lex, cov in self.coverage if cov == "single")

    @property
    def hash(self) -> str:
        return content_hash({"single": list(self.single_ids),
                             "sequences": [list(s) for s in self.sequences],
                             "pieces": list(self.piece_ids), "bias": self.config.bias,
                             "tokenizer": self.tokenizer.get("fingerprint")})

    def record(self, *, surfaces: Sequence[str] | None = None) -> dict[str, Any]:
        """JSON-able description (stored in ablation.json and trace condition metadata)."""
        def surf(i: int) -> str | None:
            return surfaces[i] if surfaces is not None and 0 <= i < len(surfaces) else None
        lex = dict(self.id_lexemes)
        return {
            "name": self.name, "hash": self.hash,
            "categories": {c: list(t) for c, t in self.categories},
            "n_single": len(self.single_ids), "n_sequences": len(self.sequences),
            "n_pieces": len(self.piece_ids),
            "single_ids": [{"id": i, "surface": surf(i), "lexemes": list(lex.get(i, ()))}
                           for i in self.single_ids],
            "sequences": [{"ids": list(s), "surface": "".join(surf(i) or "" for i in s)
                           if surfaces is not None else None} for s in self.sequences],
            "piece_ids": [{"id": i, "surface": surf(i), "lexemes": list(lex.get(i, ()))}
                          for i in self.piece_ids],
            "coverage": dict(self.coverage), "tokenizer": self.tokenizer,
            "config": asdict(self.config),
        }


def _case_forms(lexeme: str, cases: Iterable[str]) -> list[tuple[str, str]]:
    """(case, form) pairs: lower, Title, UPPER; "i" capitalised inside phrases; both
    apostrophes."""
    forms: list[tuple[str, str]] = []
    for c in cases:
        if c == "lower":
            forms.append((c, lexeme))
        elif c == "title":
            forms.append((c, lexeme[:1].upper() + lexeme[1:]))
        elif c == "upper":
            forms.append((c, lexeme.upper()))
    # "I" stays capital mid-phrase ("so i think" -> "so I think")
    forms += [(c, re.sub(r"\bi\b", "I", f)) for c, f in forms if re.search(r"\bi\b", f)]
    if "'" in lexeme:
        forms += [(c, f.replace("'", "\u2019")) for c, f in forms]
    return list(dict.fromkeys(forms))


def build_banset(categories: Mapping[str, Sequence[str]], tokenizer, config: BanConfig | None
                 = None, *, name: str | None = None) -> BanSet:
    """Build the ban set of ``categories`` (name -> terms) for ``tokenizer``. Pure given the
    tokenizer (which may cache)."""
    config = config or BanConfig()
    cats: dict[str, tuple[str, ...]] = {}
    for cat, terms in categories.items():
        norm = tuple(dict.fromkeys(normalise_lexeme(t) for t in terms if normalise_lexeme(t)))
        if not norm:
            raise ConfigError(f"ban category {cat!r} has no terms")
        cats[cat] = norm
    if not cats:
        raise ConfigError("nothing to ban: give at least one --ban category or --ban-words")
    lexemes = sorted({t for terms in cats.values() for t in terms})
    surfaces = tokenizer.surfaces()
    specials = tokenizer.special_ids()

    # 1-2: variants
    texts: list[tuple[str, str, str, str]] = []     # (lexeme, case, context, text)
    for lex in lexemes:
        for case, form in _case_forms(lex, config.cases):
            for p in config.prefixes:
                texts.append((lex, case, "core" if p in ("", " ") else "newline", p + form))
            for g in config.glue:
                texts.append((lex, case, "glue", g + form))
    encoded = [tuple(int(i) for i in e) for e in tokenizer.encode_batch([t[3] for t in texts])]
    variants: list[Variant] = []
    core_enc: dict[str, set[tuple[int, ...]]] = {}
    main_enc: dict[str, list[tuple[int, ...]]] = {}   # lower/Title, bare and after a space
    main_single: list[int] = []
    for (lex, case, ctx, text), ids in zip(texts, encoded):
        if ctx == "core" and ids:
            core_enc.setdefault(lex, set()).add(ids)
            variants.append(Variant(lex, text, ids, "core"))
            if case in ("lower", "title"):
                main_enc.setdefault(lex, []).append(ids)
                if len(ids) == 1:
                    main_single.append(ids[0])
    for (lex, case, ctx, text), ids in zip(texts, encoded):
        if ctx == "core" or not ids:
            continue
        word = _word_part(ids, _strip_prefix(text, config), surfaces)
        if word is None:          # the glue merged into the word: block the whole sequence
            word = ids
        if word in core_enc.get(lex, set()):
            continue
        if len(word) == 1 and surface_core(surfaces[word[0]]) != lex:
            continue
        variants.append(Variant(lex, text, word, "glue" if ctx == "glue" else "core"))

    # 3: vocabulary scan
    lexset = set(lexemes)
    if config.scan_vocab:
        for i, s in enumerate(surfaces):
            if i in specials:
                continue
            core = surface_core(s)
            if core in lexset:
                variants.append(Variant(core, s, (i,), "scan"))

    single: dict[int, set[str]] = {}
    seqs: dict[tuple[int, ...], set[str]] = {}
    for v in variants:
        if v.kind == "single":
            single.setdefault(v.ids[0], set()).add(v.lexeme)
        else:
            seqs.setdefault(v.ids, set()).add(v.lexeme)
    # a sequence holding a banned single id can never complete: drop it
    seqs = {s: lx for s, lx in seqs.items() if not any(i in single for i in s)}

    # 4: pieces
    pieces: dict[int, set[str]] = {}
    if config.pieces == "last":
        for v in variants:
            if v.kind != "sequence" or v.origin != "core" or v.ids not in seqs \
                    or not _single_word(v.lexeme):
                continue
            if v.text.strip().isupper():      # UPPER forms split into short, common pieces
                continue
            last = v.ids[-1]
            if last in single or len(surface_core(surfaces[last])) < 2:
                continue
            pieces.setdefault(last, set()).add(v.lexeme)

    coverage = []
    for lex in lexemes:
        encs = main_enc.get(lex, [])
        n1 = sum(1 for e in encs if len(e) == 1)
        coverage.append((lex, "single" if encs and n1 == len(encs) else
                         "mixed" if n1 else "sequence"))

    id_lex = {**{i: set(v) for i, v in pieces.items()}}
    for i, v in single.items():
        id_lex.setdefault(i, set()).update(v)
    return BanSet(
        name=name or "+".join(cats),
        categories=tuple((c, t) for c, t in cats.items()),
        single_ids=tuple(sorted(single)),
        sequences=tuple(sorted(seqs)),
        piece_ids=tuple(sorted(pieces)),
        variants=tuple(variants),
        id_lexemes=tuple(sorted((i, tuple(sorted(v))) for i, v in id_lex.items())),
        coverage=tuple(coverage),
        tokenizer=tokenizer.describe(),
        config=config,
        core_single_ids=tuple(dict.fromkeys(main_single)),
    )


def _strip_prefix(text: str, config: BanConfig) -> str:
    """The word form of a newline- or glue-prefixed variant text."""
    for g in sorted(set(config.glue) | set(config.prefixes), key=len, reverse=True):
        if g and text.startswith(g):
            return text[len(g):]
    return text


def _word_part(ids: tuple[int, ...], form: str, surfaces: Sequence[str]) -> tuple[int, ...] | None:
    """The shortest suffix of ``ids`` that spells ``form`` (optionally after a space)."""
    for k in range(len(ids) - 1, -1, -1):
        text = "".join(surfaces[i] for i in ids[k:])
        if text in (form, " " + form):
            return ids[k:]
        if len(text) > len(form) + 1:
            break
    return None


# --- collateral -------------------------------------------------------------------------------

def candidate_words(surfaces: Sequence[str], banned: Iterable[str]) -> list[str]:
    """Whole words of the vocabulary (case kept) that are not banned lexemes."""
    banned = set(banned)
    out = {}
    for s in surfaces:
        w = surface_core(s, fold=False)
        if len(w) >= 2 and w.replace("'", "").isalpha() and w.casefold() not in banned:
            out[w] = None
    return sorted(out)


def collateral_report(banset: BanSet, tokenizer, *, sequences_supported: bool | None = None,
                      max_examples: int = 40, words: Sequence[str] | None = None
                      ) -> dict[str, Any]:
    """Other words a banned id (or sequence) also blocks.

    ``sequences_supported``: True (transformers backend) reports single ids and sequences,
    False (``logit_bias`` backends) single ids and pieces, None all three.

    Candidate words are the whole words of the vocabulary (not banned), each bare and after a
    space; a candidate is blocked by an id when its tokenisation contains that id, and by a
    sequence when it contains the whole sequence. Only candidates containing the unit's surface
    text are encoded (a token's text is a substring of any text it helps spell).
    """
    surfaces = tokenizer.surfaces()
    words = list(words) if words is not None else candidate_words(surfaces, banset.lexemes)
    contexts = [w for word in words for w in (word, " " + word)]
    lex = dict(banset.id_lexemes)
    units: list[tuple[str, tuple[int, ...]]] = [("single", (i,)) for i in banset.single_ids]
    if sequences_supported is not True:     # logit_bias backends block pieces, not sequences
        units += [("piece", (i,)) for i in banset.piece_ids if i not in set(banset.single_ids)]
    if sequences_supported is not False:
        units += [("sequence", s) for s in banset.sequences]
    keys = {}
    for kind, ids in units:
        text = "".join(surfaces[i] for i in ids).strip()
        if text:
            keys.setdefault(text, []).append((kind, ids))
    hits: dict[tuple[str, tuple[int, ...]], list[str]] = {u: [] for u in units}
    if keys:
        pattern = re.compile("|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True)))
        cands = [c for c in contexts if pattern.search(c)]
        cand_keys = [[k for k in keys if k in c] for c in cands]
        encs = tokenizer.encode_batch(cands) if cands else []
        for c, ks, enc in zip(cands, cand_keys, encs):
            enc = tuple(enc)
            for k in ks:
                for kind, ids in keys[k]:
                    if _contains(enc, ids):
                        hits[(kind, ids)].append(c)
    rows = []
    for kind, ids in units:
        found = sorted(set(hits[(kind, ids)]), key=lambda w: (len(w), w))
        lexemes = sorted({lx for i in ids for lx in lex.get(i, ())}) if kind != "sequence" \
            else sorted({v.lexeme for v in banset.variants if v.ids == ids})
        rows.append({"kind": kind, "ids": list(ids),
                     "surface": "".join(surfaces[i] for i in ids), "lexemes": lexemes,
                     "n_words": len(found), "words": found[:max_examples]})
    rows.sort(key=lambda r: (-r["n_words"], r["kind"], r["ids"]))
    blocked = {w for ws in hits.values() for w in ws}
    return {"banset": banset.name, "banset_hash": banset.hash,
            "n_candidate_words": len(words), "n_units": len(units),
            "n_units_with_collateral": sum(1 for r in rows if r["n_words"]),
            "n_words_blocked": len(blocked),
            "pieces_policy": banset.config.pieces, "sequences_supported": sequences_supported,
            "note": "candidate words: whole-word vocabulary entries, bare and after a space. "
                    "'piece' units (last pieces of multi-token forms) are banned everywhere on "
                    "backends without sequence support (logit_bias); --no-collateral-pieces "
                    "drops them. 'sequence' units block their last id only after the prefix.",
            "units": rows}


def _contains(seq: tuple[int, ...], sub: tuple[int, ...]) -> bool:
    n = len(sub)
    if n == 1:
        return sub[0] in seq
    return any(seq[i:i + n] == sub for i in range(len(seq) - n + 1))
