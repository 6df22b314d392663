"""Ablation audit (pure): leakage, substitution, length/clip/repetition, paired accuracy deltas.

- **Leakage**: a banned lexeme still present in the output by any spelling. Text is normalised
  (NFKC, zero-width and other format characters removed, typographic apostrophes unified, case
  folded); a lexeme matches as a whole word (``exact``), or, for lexemes of three or more letters,
  with up to two separator characters (space, hyphen, dot, underscore, asterisk, apostrophe,
  middle dot) between its letters (``obfuscated``: "W ait", "wa-it", "W-A-I-T", "w.a.i.t"; a
  fully spaced match that continues with another spaced letter, "w a i t e r", is not one; nor
  is a split into pieces of two or more letters with spaces only, "may be" for "maybe", which
  is two ordinary words: "wa it" is missed by that rule, "W ait" and "mayb e" are still caught).
  Inner spaces of phrases match any run of whitespace. Short lexemes ("so", "or", "if") are
  matched exactly only, since spaced letters produce false hits.
- **Substitution**: words and bigrams whose rate rose most against the unbanned run, by the
  weighted log-odds with an informative Dirichlet prior (``reasonlens.stats.ngrams.text_log_odds``).
- **Repetition/loop rate**: share of responses whose last ``tail_chars`` characters contain a
  token n-gram (words and symbols) repeated at least ``min_repeats`` times.
- **Paired deltas**: accuracy difference against the unbanned run, with a percentile bootstrap
  that resamples problems (the same problems in both arms). Ungradable samples count as wrong, as
  in ``reasonlens.grade.compute_metrics``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from reasonlens.stats.bootstrap import mean_ci

_SEP = r"[\s\-_.*'\u00b7]{0,2}"
_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def normalise_text(text: str | None) -> str:
    """NFKC, format characters (zero-width space/joiners, soft hyphen, BOM) removed, apostrophes
    unified, case folded."""
    if not text:
        return ""
    t = unicodedata.normalize("NFKC", text)
    t = "".join(c for c in t if unicodedata.category(c) != "Cf")
    return t.translate(_APOS).casefold()


def _exact_pattern(lexeme: str) -> str:
    words = [re.escape(w) for w in lexeme.split()]
    return r"(?<![\w])" + r"\s+".join(words) + r"(?![\w])"


def _obfuscated_pattern(lexeme: str) -> str:
    parts = []
    for w in lexeme.split():
        parts.append(_SEP.join(re.escape(c) for c in w))
    return r"(?<![\w])" + r"\W+".join(parts) + r"(?![\w])"


_SPACED = re.compile(r"^(?:\w[\s\-_.*'\u00b7]{1,2})+\w$")
_NEXT_LETTER = re.compile(r"[\s\-_.*'\u00b7]{1,2}\w(?!\w)")


def _spelled_longer(text: str, m: re.Match) -> bool:
    """A fully letter-spaced match that goes on with another spaced letter ("w a i t e r")."""
    return bool(_SPACED.match(m.group(0)) and _NEXT_LETTER.match(text, m.end()))


def _split_into_words(match: str, lexeme: str) -> bool:
    """A match whose only separators are spaces and whose pieces all have two or more letters
    ("may be" for "maybe", "some times"): ordinary words, not a spelling around the ban. A
    single-letter piece ("W ait", "w a i t", "mayb e") or another separator ("wa-it") is."""
    if " " in lexeme:
        return False
    pieces = match.split()
    if len(pieces) < 2 or any(not p.isalpha() for p in pieces):
        return False
    return all(len(p) >= 2 for p in pieces)


def _obfuscation(text: str, m: re.Match, lexeme: str) -> bool:
    return not (_spelled_longer(text, m) or _split_into_words(m.group(0), lexeme))


@dataclass(frozen=True)
class LeakageMatcher:
    """Compiled leakage patterns for a set of lexemes."""

    lexemes: tuple[str, ...]
    exact: tuple[re.Pattern, ...]
    obfuscated: tuple[re.Pattern | None, ...]

    @classmethod
    def build(cls, lexemes: Iterable[str], *, min_obfuscated_letters: int = 3) -> LeakageMatcher:
        lex = tuple(sorted({" ".join(normalise_text(x).split()) for x in lexemes if x.strip()}))
        exact = tuple(re.compile(_exact_pattern(x)) for x in lex)
        obf = tuple(re.compile(_obfuscated_pattern(x))
                    if sum(c.isalpha() for c in x) >= min_obfuscated_letters else None
                    for x in lex)
        return cls(lex, exact, obf)

    def scan(self, text: str | None) -> dict[str, tuple[int, int]]:
        """lexeme -> (exact count, obfuscated-only count), non-zero only."""
        t = normalise_text(text)
        out = {}
        for lex, ex, ob in zip(self.lexemes, self.exact, self.obfuscated):
            n_ex = len(ex.findall(t))
            n_ob = 0
            if ob is not None:
                n_all = sum(1 for m in ob.finditer(t) if _obfuscation(t, m, lex))
                n_ob = max(0, n_all - n_ex)
            if n_ex or n_ob:
                out[lex] = (n_ex, n_ob)
        return out


def response_texts(traces: pl.DataFrame) -> pl.Series:
    """The whole output of each response: reasoning (when split off by the server) + response."""
    resp = traces["response"].fill_null("") if "response" in traces.columns else \
        pl.Series([""] * traces.height)
    if "reasoning" in traces.columns:
        reas = traces["reasoning"].fill_null("")
        return pl.Series("text", [f"{a}\n{b}" if a else b for a, b in zip(reas, resp)])
    return resp.rename("text")


def leakage(traces: pl.DataFrame, lexemes: Iterable[str], *,
            single_token_lexemes: Iterable[str] = ()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-response and per-lexeme leakage.

    Returns (per_response[id?, leak_count, leak_exact, leak_obfuscated, leak_single, leak_terms],
    per_lexeme[lexeme, single_token, responses, exact, obfuscated]).
    """
    m = LeakageMatcher.build(lexemes)
    single = {" ".join(normalise_text(x).split()) for x in single_token_lexemes}
    rows = []
    per_lex: dict[str, list[int]] = {x: [0, 0, 0] for x in m.lexemes}
    for text in response_texts(traces).to_list():
        hits = m.scan(text)
        ex = sum(a for a, _ in hits.values())
        ob = sum(b for _, b in hits.values())
        rows.append({"leak_count": ex + ob, "leak_exact": ex, "leak_obfuscated": ob,
                     "leak_single": sum(a + b for x, (a, b) in hits.items() if x in single),
                     "leak_terms": ",".join(sorted(hits))})
        for x, (a, b) in hits.items():
            per_lex[x][0] += 1
            per_lex[x][1] += a
            per_lex[x][2] += b
    schema = {"leak_count": pl.Int64, "leak_exact": pl.Int64, "leak_obfuscated": pl.Int64,
              "leak_single": pl.Int64, "leak_terms": pl.String}
    per_resp = pl.DataFrame(rows, schema=schema)
    if "id" in traces.columns:
        per_resp = per_resp.insert_column(0, traces["id"])
    lex_df = pl.DataFrame({"lexeme": list(per_lex),
                           "single_token": [x in single for x in per_lex],
                           "responses": [v[0] for v in per_lex.values()],
                           "exact": [v[1] for v in per_lex.values()],
                           "obfuscated": [v[2] for v in per_lex.values()]},
                          schema={"lexeme": pl.String, "single_token": pl.Boolean,
                                  "responses": pl.Int64, "exact": pl.Int64,
                                  "obfuscated": pl.Int64})
    return per_resp, lex_df.sort(["responses", "lexeme"], descending=[True, False])


_TOKEN = re.compile(r"\w+|[^\w\s]")


def is_looping(text: str | None, *, tail_chars: int = 2000, ngram: int = 8,
               min_repeats: int = 4) -> bool:
    """Whether the tail of ``text`` repeats one token n-gram at least ``min_repeats`` times."""
    if not text:
        return False
    toks = _TOKEN.findall(text[-tail_chars:])
    if len(toks) < ngram * min_repeats:
        return False
    counts = Counter(tuple(toks[i:i + ngram]) for i in range(len(toks) - ngram + 1))
    return max(counts.values()) >= min_repeats


@dataclass(frozen=True)
class AuditConfig:
    tail_chars: int = 2000
    ngram: int = 8
    min_repeats: int = 4
    n_boot: int = 1000
    seed: int = 0
    substitution_top: int = 50
    substitution_min_count: int = 2


def shape_stats(traces: pl.DataFrame, config: AuditConfig | None = None) -> dict[str, Any]:
    """Response length, clip ratio and repetition/loop rate."""
    config = config or AuditConfig()
    n = traces.height
    texts = response_texts(traces).to_list()
    loops = [is_looping(t, tail_chars=config.tail_chars, ngram=config.ngram,
                        min_repeats=config.min_repeats) for t in texts]
    fin = traces["finish_reason"].to_list() if "finish_reason" in traces.columns else [None] * n
    known = [f for f in fin if f is not None]
    toks = traces["completion_tokens"].to_list() if "completion_tokens" in traces.columns \
        else [None] * n
    if n and all(t is not None for t in toks):
        lengths, unit = [float(t) for t in toks], "tokens"
    else:
        lengths, unit = [float(len(t.split())) for t in texts], "words"
    return {"n_responses": n,
            "clip_ratio": (sum(f == "length" for f in known) / len(known)) if known else None,
            "mean_length": float(np.mean(lengths)) if lengths else None,
            "median_length": float(np.median(lengths)) if lengths else None,
            "length_unit": unit,
            "repetition_rate": (sum(loops) / n) if n else None}


def per_problem_accuracy(graded: pl.DataFrame) -> pl.DataFrame:
    """problem_id -> mean correctness over samples (null counts as wrong)."""
    keys = [c for c in ("benchmark", "problem_id") if c in graded.columns]
    return (graded.with_columns(pl.col("correct").fill_null(False).cast(pl.Float64).alias("_c"))
            .group_by(keys, maintain_order=True).agg(pl.col("_c").mean().alias("acc")))


def paired_delta(graded: pl.DataFrame, baseline: pl.DataFrame, *, n_boot: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Accuracy(graded) - accuracy(baseline) over the problems both contain, with a paired
    percentile bootstrap CI resampling problems."""
    a = per_problem_accuracy(graded)
    b = per_problem_accuracy(baseline)
    keys = [c for c in ("benchmark", "problem_id") if c in a.columns and c in b.columns]
    j = a.join(b, on=keys, how="inner", suffix="_base")
    n = j.height
    if n == 0:
        return {"delta": None, "delta_ci": None, "n_paired_problems": 0}
    delta, lo, hi = mean_ci((j["acc"] - j["acc_base"]).to_numpy(), n_boot=n_boot, seed=seed,
                            level=level)
    return {"delta": delta, "delta_ci": [lo, hi], "n_paired_problems": n}


def substitutions(traces: pl.DataFrame, baseline: pl.DataFrame, banned: Sequence[str], *,
                  condition: str, top: int = 50, min_count: int = 2) -> pl.DataFrame:
    """Terms over-used under the ban relative to the unbanned run (positive z first)."""
    from reasonlens.stats.ngrams import text_log_odds

    a = response_texts(traces)
    b = response_texts(baseline)
    table = text_log_odds(a, b, ngrams=(1, 2), top=None, min_count=min_count)
    banned_set = {" ".join(normalise_text(x).split()) for x in banned}
    table = (table.filter(pl.col("z") > 0).sort("z", descending=True).head(top)
             .with_columns(pl.col("term").map_elements(
                 lambda t: " ".join(normalise_text(t).split()) in banned_set,
                 return_dtype=pl.Boolean).alias("banned"))
             .with_row_index("rank", offset=1)
             .with_columns(pl.lit(condition).alias("condition")))
    cols = ["condition", "rank", "term", "banned"] + [c for c in table.columns
                                                        if c not in ("condition", "rank", "term",
                                                                     "banned")]
    return table.select(cols)
