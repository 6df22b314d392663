"""The exact counting path: spaCy tokens, optional lemmas (offline lookup lemmatizer).

The tokenizer is ``spacy.blank("en")`` with its rules aligned to the fast path's word boundaries:
LaTeX commands split off as their own tokens, every punctuation mark splits, ``_`` stays inside
words, and special cases with punctuation ("and/or", "e.g.") are dropped. Tokens are then normalised (lower case, ``’`` -> ``'``, Unicode hyphens -> ``-``) and
re-joined where the fast path sees one word: pieces glued without a space ("can" + "not") and
hyphenated compounds ("well" "-" "known" -> "well-known"). Terms are tokenized the same way and
matched as token sequences, leftmost-longest, like the fast path's alternation.

With ``lemma=True`` a word also counts for a term equal to its lemma in spacy-lookups-data's
``lemma_lookup`` table ("waiting" counts for "wait", "computed" for "compute"). Only the text is
lemmatized, never the terms (the lookup table has crude entries such as "first" -> "1" and
"well" -> "good"), and a word that is itself a term counts for that term first.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict

import polars as pl

from reasonlens.errors import MissingDependencyError

_LATEX = re.compile(r"^\\[A-Za-z]+$")
_WORDY_END = re.compile(r"\w$")      # letters and digits of any script, and "_"
_WORDY_START = re.compile(r"^\w")
_HYPHENS = {"-", "\u2010", "\u2011"}
_TRANS = str.maketrans({"’": "'", "\u2010": "-", "\u2011": "-"})


@functools.lru_cache(maxsize=1)
def _nlp():
    try:
        import spacy
        from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
    except ImportError as exc:  # pragma: no cover - spacy is a core dependency
        raise MissingDependencyError(f"spacy is needed for exact counting: {exc}") from exc
    nlp = spacy.blank("en")
    hyphen = r"[-\u2010\u2011]"  # a hyphen at a token edge is its own token (re-joined below)
    prefixes = [r"\\[A-Za-z]+", hyphen] + [p for p in nlp.Defaults.prefixes if p != "_"]
    suffixes = [hyphen] + [s for s in nlp.Defaults.suffixes if s != "_"]
    infixes = [r"\\[A-Za-z]+", r"[^\w\s'’\-\u2010\u2011]",
               r"(?<!\w)[-\u2010\u2011]|[-\u2010\u2011](?!\w)"
               ] + list(nlp.Defaults.infixes)
    nlp.tokenizer.prefix_search = compile_prefix_regex(prefixes).search
    nlp.tokenizer.suffix_search = compile_suffix_regex(suffixes).search
    nlp.tokenizer.infix_finditer = compile_infix_regex(infixes).finditer
    # Keep only the special cases made of letters and apostrophes ("don't", "Let's", "cannot");
    # drop "and/or", "e.g.", ":)" and the like, which the fast path splits at the punctuation.
    nlp.tokenizer.rules = {k: v for k, v in nlp.tokenizer.rules.items()
                           if re.fullmatch(r"[\w'’]+", k)}
    return nlp


@functools.lru_cache(maxsize=1)
def _lemma_table():
    try:
        from spacy.lookups import load_lookups

        lookups = load_lookups("en", ["lemma_lookup"], strict=True)
    except (ImportError, ValueError) as exc:
        raise MissingDependencyError(
            f"lemma mode needs spacy-lookups-data (pip install spacy-lookups-data): {exc}"
        ) from exc
    return lookups.get_table("lemma_lookup")


def tokens(text: str) -> list[str]:
    """Normalised tokens of ``text`` as the exact path matches them."""
    if not text:
        return []
    doc = _nlp().make_doc(text)
    out: list[str] = []
    glue: list[bool] = []  # token i glued to token i-1 (no whitespace between)
    prev_ws = True
    for tok in doc:
        if tok.is_space:
            prev_ws = True
            continue
        t = tok.text
        if not _LATEX.match(t):
            t = _lower(t.translate(_TRANS))
        out.append(t)
        glue.append(not prev_ws)
        prev_ws = bool(tok.whitespace_)
    return _merge(out, glue)


def _lower(t: str) -> str:
    """Lower case, except the Kelvin sign: the one character beyond ASCII whose lower case is
    ASCII (``k``); the fast path reads it as a letter of another script, so it stays one."""
    if "\u212a" not in t:
        return t.lower()
    return "\u212a".join(p.lower() for p in t.split("\u212a"))


def lemma_of(token: str) -> str:
    """The lookup lemma of a normalised token (itself for LaTeX, clitics and compounds)."""
    if token.startswith(("\\", "'")) or "-" in token or not token.isalpha():
        return token
    lemma = _lemma_table().get(token, token)
    return lemma if isinstance(lemma, str) and lemma.isalpha() else token


def _merge(toks: list[str], glue: list[bool]) -> list[str]:
    """Re-join what the fast path sees as one word: glued word pieces and hyphen compounds."""
    out: list[str] = []
    i, n = 0, len(toks)
    while i < n:
        cur = toks[i]
        i += 1
        if _LATEX.match(cur):
            out.append(cur)
            continue
        while i < n:
            nxt = toks[i]
            if (glue[i] and _WORDY_END.search(cur) and _WORDY_START.match(nxt)
                    and not _LATEX.match(nxt)):
                cur += nxt
                i += 1
            elif (nxt in _HYPHENS and i + 1 < n and glue[i] and glue[i + 1]
                  and _WORDY_END.search(cur) and _WORDY_START.match(toks[i + 1])
                  and not _LATEX.match(toks[i + 1])):
                cur += "-" + toks[i + 1]
                i += 2
            else:
                break
        out.append(cur)
    return out


def _index(matcher):
    """first token -> [(token tuple, [(category, term), ...])], longest first."""
    groups: dict[tuple[str, ...], list[tuple[str, str]]] = defaultdict(list)
    for lx in matcher.lexicons:
        for term in lx.terms:
            seq = tuple(tokens(term))
            if seq:
                groups[seq].append((lx.name, term))
    index: dict[str, list] = defaultdict(list)
    for seq, targets in groups.items():
        index[seq[0]].append((seq, targets))
    for cands in index.values():
        cands.sort(key=lambda c: -len(c[0]))
    return index


def count_tokens(toks: list[str], index, lemmas: list[str] | None = None
                 ) -> dict[tuple[str, str], int]:
    """Leftmost-longest matching of term token sequences over ``toks``.

    With ``lemmas`` (same length as ``toks``) a position also matches a term token equal to its
    lemma; at equal length a match on the words as written wins over a match through lemmas.
    """
    counts: dict[tuple[str, str], int] = defaultdict(int)
    i, n = 0, len(toks)
    while i < n:
        best = None
        for surface in (True, False) if lemmas is not None else (True,):
            forms = toks if surface else lemmas
            key = forms[i]
            if not surface and key == toks[i]:
                continue
            for seq, targets in index.get(key, ()):
                k = len(seq)
                if i + k > n or (best is not None and k <= len(best[0])):
                    continue
                if all(seq[j] == toks[i + j] or (lemmas is not None and seq[j] == lemmas[i + j])
                       for j in range(1, k)):
                    best = (seq, targets)
                    break
        if best is None:
            i += 1
            continue
        for target in best[1]:
            counts[target] += 1
        i += len(best[0])
    return counts


def exact_long(texts: pl.Series, matcher, *, lemma: bool = False) -> pl.DataFrame:
    from reasonlens.lexicon.count import LONG_SCHEMA

    index = _index(matcher)
    rows: list[tuple[int, str, str, int]] = []
    for r, text in enumerate(texts.to_list()):
        toks = tokens(text or "")
        lemmas = [lemma_of(t) for t in toks] if lemma else None
        for (cat, term), c in count_tokens(toks, index, lemmas).items():
            rows.append((r, cat, term, c))
    df = pl.DataFrame(rows, schema=LONG_SCHEMA, orient="row")
    return df.sort("row", "category", "term")
