"""The trace viewer's data: a bounded, stated sample of responses with their highlights.

What is shown (:func:`collect`):

* **Which responses.** Problems are ranked -- first those on which the models disagree in
  correctness (the traces that explain a difference), then those every model answered, each
  group in a seeded hash order -- and taken until every model has ``per_model`` responses, at
  most ``per_problem`` per model and problem (per step when traces carry steps). So two models
  can be read side by side on the same problem. The report says how many were drawn of how many.
* **Which text.** The reasoning and answer parts, as scored, from the first source that holds
  each drawn id: a grade output (``graded.parquet`` keeps the traces), trace files given to the
  report, or the trace files a score output records in its provenance (when still on disk). Only
  the drawn ids are read (a parquet filter or one streaming pass), so memory stays bounded. Text
  beyond ``max_chars`` per part is cut, and the report says so.
* **Highlights.** Lexicon terms, found with the counting rules of docs/scoring.md (whole words,
  longest term first, phrases across whitespace, LaTeX commands case-sensitive; the tests check
  that the spans add up to the counts in responses.parquet), and behaviour instances located by
  their quoted text. Offsets are UTF-16 code units (JavaScript string indices).
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.schema import behaviours_in
from reasonlens.stats.inputs import Inputs
from reasonlens.stats.rates import categories_in

TEXT_COLUMNS = ("id", "reasoning", "answer", "prompt", "gold", "extracted")


@dataclass(frozen=True)
class ViewerConfig:
    """How many responses the viewer holds and how much of each.

    Attributes:
        per_model: responses drawn per model (0 turns the viewer off).
        per_problem: at most this many per model and problem (and step).
        max_chars: characters kept per part (reasoning, answer); the rest is cut, and said so.
        fold_chars: characters shown before a part is folded (the rest opens on click).
        seed: seed of the problem order.
    """

    per_model: int = 12
    per_problem: int = 2
    max_chars: int = 20_000
    fold_chars: int = 1_500
    seed: int = 0


# --- drawing the sample ---------------------------------------------------------------------

def _candidates(inputs: Inputs) -> pl.DataFrame | None:
    base = inputs.responses if inputs.responses is not None else inputs.graded
    if base is None or base.height == 0 or "id" not in base.columns:
        return None
    keep = [c for c in ("id", "model", "benchmark", "problem_id", "sample", "step", "words",
                        "think_closed", "finish_reason") if c in base.columns]
    cats = categories_in(base) if inputs.responses is not None else []
    df = base.select(keep + cats)
    g = inputs.graded
    if g is not None and "correct" in g.columns and g is not base:
        df = df.join(g.select("id", "correct").unique("id"), on="id", how="left")
    elif "correct" in base.columns:
        df = df.with_columns(base["correct"])
    for c in ("benchmark", "problem_id"):
        if c not in df.columns:
            df = df.with_columns(pl.lit("(none)").alias(c))
    return df.with_columns(pl.col("model", "benchmark", "problem_id").cast(pl.String)
                           .fill_null("(none)"))


def _hash(seed: int, *parts: Any) -> int:
    return zlib.crc32(repr((seed, *parts)).encode())


def draw(cands: pl.DataFrame, config: ViewerConfig) -> pl.DataFrame:
    """The drawn rows of ``cands`` (see the module docstring), in display order."""
    models = sorted(cands["model"].unique().to_list())
    has_correct = "correct" in cands.columns
    per = cands.group_by("benchmark", "problem_id").agg(
        pl.col("model").n_unique().alias("n_models"))
    if has_correct:  # the share correct differs between models on this problem
        acc = cands.group_by("benchmark", "problem_id", "model").agg(
            pl.col("correct").cast(pl.Float64).mean().alias("a"))
        dis = acc.group_by("benchmark", "problem_id").agg(
            (pl.col("a").n_unique() > 1).alias("disagree"))
        per = per.join(dis, on=["benchmark", "problem_id"], how="left")
    else:
        per = per.with_columns(pl.lit(False).alias("disagree"))
    order = sorted(per.iter_rows(named=True), key=lambda r: (
        not r["disagree"], -r["n_models"], _hash(config.seed, r["benchmark"], r["problem_id"])))
    by_problem = cands.partition_by("benchmark", "problem_id", as_dict=True)
    taken: dict[str, int] = {m: 0 for m in models}
    picked: list[pl.DataFrame] = []
    for r in order:
        if all(v >= config.per_model for v in taken.values()):
            break
        sub = by_problem[(r["benchmark"], r["problem_id"])]
        for (m,), rows in sub.partition_by("model", as_dict=True).items():
            room = config.per_model - taken[m]
            if room <= 0:
                continue
            rows = rows.sort([c for c in ("step", "sample", "id") if c in rows.columns])
            if "step" in rows.columns:
                rows = rows.with_columns(pl.int_range(pl.len()).over("step").alias("_k")) \
                    .filter(pl.col("_k") < config.per_problem).drop("_k")
            else:
                rows = rows.head(config.per_problem)
            rows = rows.head(room)
            taken[m] += rows.height
            picked.append(rows)
    if not picked:
        return cands.head(0)
    return pl.concat(picked, how="vertical_relaxed")


# --- fetching the text ----------------------------------------------------------------------

def text_sources(inputs: Inputs, extra: list[Any] = ()) -> list[tuple[str, Any]]:
    """(kind, where) for every place the texts may be: frames, graded.parquet, trace files."""
    out: list[tuple[str, Any]] = []
    for x in extra:
        out.append(("frame", x) if isinstance(x, pl.DataFrame) else ("traces", Path(x)))
    for item in inputs.items:
        if item.kind == "grade" and (item.path / "graded.parquet").exists():
            out.append(("parquet", item.path / "graded.parquet"))
        elif item.kind == "traces":
            out.append(("traces", item.path))
    for item in inputs.items:  # the traces a score run read, when they are still there
        if item.kind == "score":
            for rec in (item.provenance or {}).get("inputs") or []:
                p = Path(str(rec.get("path", ""))) if isinstance(rec, dict) else None
                if p is not None and p.is_file() and ("traces", p) not in out:
                    out.append(("traces", p))
    return out


def _select_text(df: pl.DataFrame) -> pl.DataFrame:
    cols = [c for c in TEXT_COLUMNS if c in df.columns]
    out = df.select(cols)
    for c in TEXT_COLUMNS:
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return out.select([pl.col(c).cast(pl.String) for c in TEXT_COLUMNS])


def fetch_texts(ids: list[str], sources: list[tuple[str, Any]]) -> tuple[pl.DataFrame, list[str]]:
    """Text columns of ``ids`` from the first source holding each; and the sources used."""
    want = set(ids)
    got: list[pl.DataFrame] = []
    used: list[str] = []
    for kind, where in sources:
        if not want:
            break
        if kind == "frame":
            part = where.filter(pl.col("id").is_in(list(want)))
        elif kind == "parquet":
            part = pl.scan_parquet(where).filter(pl.col("id").is_in(list(want))).collect()
        else:
            part = _from_trace_file(where, want)
        if part.height:
            part = _select_text(part).unique("id", keep="first")
            got.append(part)
            want -= set(part["id"].to_list())
            used.append(str(where) if kind != "frame" else "in-memory traces")
    frame = pl.concat(got, how="vertical") if got else _select_text(pl.DataFrame(
        {"id": []}, schema={"id": pl.String}))
    return frame, used


def _from_trace_file(path: Path, want: set[str]) -> pl.DataFrame:
    from reasonlens.errors import ReasonlensError
    from reasonlens.traces.load import LoadOptions, iter_trace_batches

    parts, left = [], set(want)
    try:
        for batch in iter_trace_batches([str(path)], LoadOptions(on_error="skip")):
            hit = batch.filter(pl.col("id").is_in(list(left)))
            if hit.height:   # copied out: kept as they are, the drawn rows' texts would hold
                hit = _select_text(hit)   # their whole batch's text buffers (~16 MB each)
                parts.append(pl.DataFrame(hit.rows(), schema=hit.schema, orient="row"))
                left -= set(hit["id"].to_list())
            if not left:
                break
    except ReasonlensError:  # an unreadable file only costs the viewer its texts
        pass
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema={"id": pl.String})


# --- highlights -----------------------------------------------------------------------------

_W = r"[^\W]"          # a word character of any script (letters, digits, underscore)
_HY = "[-\u2010\u2011]"


def _term_re(term: str) -> str:
    out = []
    for ch in term:
        out.append(r"\s+" if ch == " " else "['’]" if ch == "'" else _HY if ch == "-"
                   else re.escape(ch))
    return "".join(out)


@dataclass(frozen=True)
class TermFinder:
    """Python regexes with the counting rules; spans -> (category, term) by normalised text."""

    words: re.Pattern | None
    latex: re.Pattern | None
    table: dict[str, list[tuple[str, str]]]
    categories: tuple[str, ...]

    @classmethod
    def for_lexicons(cls, lexicons) -> TermFinder:
        from reasonlens.lexicon.lexicons import is_latex, normalize_term

        table: dict[str, list[tuple[str, str]]] = {}
        for lx in lexicons:
            for t in lx.terms:
                table.setdefault(normalize_term(t), []).append((lx.name, t))
        terms = [t for lx in lexicons for t in lx.terms]
        words = sorted({t for t in terms if not is_latex(t)}, key=lambda t: (-len(t), t))
        latex = sorted({t[1:] for t in terms if is_latex(t)}, key=lambda t: (-len(t), t))
        wre = re.compile(r"\\?(?<!\w)(?:" + _W + r"+" + _HY + r")*(?:" + "|".join(
            map(_term_re, words)) + r")(?:" + _HY + _W + r"+)*(?!\w)", re.IGNORECASE) \
            if words else None
        lre = re.compile(r"\\(?:" + "|".join(map(re.escape, latex)) + r")[A-Za-z]*") \
            if latex else None
        return cls(wre, lre, table, tuple(lx.name for lx in lexicons))

    def spans(self, text: str) -> list[tuple[int, int, str, str]]:
        """(start, end, category, term) in code points, sorted by start."""
        from reasonlens.lexicon.lexicons import normalize_term

        out = []
        for pat, latex in ((self.words, False), (self.latex, True)):
            if pat is None or not text:
                continue
            for m in pat.finditer(text):
                s = m.group(0)
                if s.startswith("\\") != latex:
                    continue
                for cat, term in self.table.get(normalize_term(s), ()):
                    out.append((m.start(), m.end(), cat, term))
        return sorted(out)


def _utf16(text: str):
    """Code-point offset -> UTF-16 offset (identity for text without astral characters)."""
    if all(ord(c) < 0x10000 for c in text):
        return lambda i: i
    acc, n = [0], 0
    for c in text:
        n += 2 if ord(c) >= 0x10000 else 1
        acc.append(n)
    return lambda i: acc[i]


def _cut(text: str | None, limit: int) -> tuple[str, int]:
    text = text or ""
    return (text, 0) if len(text) <= limit else (text[:limit], len(text) - limit)


def _instances(inputs: Inputs, ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """id -> [(behaviour, quote)] from instances.parquet or the B_instances JSON columns."""
    out: dict[str, list[tuple[str, str]]] = {}
    inst = inputs.instances
    if inst is not None and {"id", "behaviour", "quote"} <= set(inst.columns):
        for r in inst.filter(pl.col("id").is_in(ids)).iter_rows(named=True):
            if r["quote"]:
                out.setdefault(r["id"], []).append((r["behaviour"], r["quote"]))
        return out
    for frame in (inputs.judgments, inputs.responses):
        if frame is None:
            continue
        bs = [b for b in behaviours_in(frame) if f"{b}_instances" in frame.columns]
        if not bs:
            continue
        sub = frame.filter(pl.col("id").is_in(ids))
        for r in sub.select(["id"] + [f"{b}_instances" for b in bs]).iter_rows(named=True):
            for b in bs:
                try:
                    items = json.loads(r[f"{b}_instances"] or "[]")
                except ValueError:
                    continue
                out.setdefault(r["id"], []).extend(
                    (b, str(it["quote"])) for it in items if isinstance(it, dict)
                    and it.get("quote"))
        return out
    return out


def _recorded_counts(inputs: Inputs, ids: list[str], behs: list[str]
                     ) -> tuple[dict[str, dict[str, int]], str | None]:
    """id -> {behaviour: the judge's recorded count} (the B_count columns, in the judgments'
    count unit, as in the charts), and that unit when one; instances alone are sentences or
    quotes, not the count (a detector's 8 labelled sentences may be 4 episodes)."""
    from reasonlens.report.sections import count_unit_of

    for frame in (inputs.judgments, inputs.responses):
        cols = [b for b in behs if frame is not None and f"{b}_count" in frame.columns]
        if not cols:
            continue
        sub = frame.filter(pl.col("id").is_in(pl.Series(ids, dtype=pl.String).implode()))
        out = {r["id"]: {b: int(r[f"{b}_count"]) for b in cols if r[f"{b}_count"] is not None}
               for r in sub.select(["id"] + [f"{b}_count" for b in cols]).iter_rows(named=True)}
        return out, count_unit_of(frame)
    return {}, None


def _locate(text: str, quotes: list[tuple[str, str]]) -> tuple[list, list]:
    """Behaviour spans [start, end, behaviour] found in ``text``; the quotes not found."""
    spans, missing, pos = [], [], {}
    for b, q in quotes:
        q = q.strip()
        # searched on from the last hit of the same behaviour and quote: one sentence may be
        # evidence for two behaviours (keyed by the quote alone, the second was "not located")
        i = text.find(q, pos.get((b, q), 0)) if q else -1
        if i < 0:
            missing.append((b, q))
            continue
        pos[(b, q)] = i + 1
        spans.append((i, i + len(q), b))
    return spans, missing


def _lexicons(inputs: Inputs, categories: list[str]) -> tuple[list, list[str]]:
    """The lexicons behind the score categories, as recorded in provenance (same sha256)."""
    from reasonlens.errors import ReasonlensError
    from reasonlens.lexicon.lexicons import load_lexicon

    recorded: dict[str, dict] = {}
    for item in inputs.items:
        for d in (item.provenance or {}).get("data_files") or []:
            if isinstance(d, dict) and d.get("kind") == "lexicon":
                recorded.setdefault(str(d.get("name")), d)
    lexs, skipped = [], []
    for cat in categories:
        rec = recorded.get(cat, {})
        lx = None
        for ref in (rec.get("path"), cat):
            if not ref:
                continue
            try:
                lx = load_lexicon(ref)
            except (ReasonlensError, OSError):
                continue
            if rec.get("sha256") and lx.sha256 != rec["sha256"]:
                lx = None
                continue
            break
        (lexs.append(lx) if lx is not None else skipped.append(cat))
    return lexs, skipped


def _part(text: str | None, finder: TermFinder | None, cat_ix: dict[str, int],
          quotes: list[tuple[str, str]], beh_ix: dict[str, int], limit: int,
          term_ix: dict[str, int]):
    full = text or ""
    spans = finder.spans(full) if finder is not None else []
    bspans, missing = _locate(full, quotes)
    shown, cut = _cut(full, limit)
    u = _utf16(shown)
    n = len(shown)
    terms = [[u(a), u(b), cat_ix[c], term_ix.setdefault(t, len(term_ix))]
             for a, b, c, t in spans if b <= n]
    beh = [[u(a), u(min(b, n)), beh_ix[x]] for a, b, x in bspans if a < n and x in beh_ix]
    return {"text": shown, "cut": cut, "terms": terms, "beh": beh}, missing, bspans


def collect(inputs: Inputs, config: ViewerConfig = ViewerConfig(),
            extra_sources: list[Any] = ()) -> dict[str, Any] | None:
    """The viewer's payload (JSON-able), or None when there is nothing to show."""
    if config.per_model <= 0:
        return None
    cands = _candidates(inputs)
    if cands is None:
        return None
    drawn = draw(cands, config)
    texts, used = fetch_texts(drawn["id"].to_list(), text_sources(inputs, list(extra_sources)))
    if texts.height == 0:
        return None
    drawn = drawn.join(texts, on="id", how="inner", maintain_order="left")
    cats = [c for c in categories_in(inputs.responses)] if inputs.responses is not None else []
    lexs, skipped = _lexicons(inputs, cats)
    finder = TermFinder.for_lexicons(lexs) if lexs else None
    cat_ix = {c: i for i, c in enumerate(finder.categories if finder else ())}
    quotes = _instances(inputs, drawn["id"].to_list())
    behs = sorted({b for qs in quotes.values() for b, _ in qs})
    beh_ix = {b: i for i, b in enumerate(behs)}
    counts_of, unit = _recorded_counts(inputs, drawn["id"].to_list(), behs)
    responses, problems, term_ix = [], {}, {}
    for r in drawn.iter_rows(named=True):
        key = f"{r['benchmark']}\u241f{r['problem_id']}"
        if key not in problems:
            prompt, pcut = _cut(r.get("prompt"), 3000)
            problems[key] = {"benchmark": r["benchmark"], "problem_id": r["problem_id"],
                             "prompt": prompt, "cut": pcut}
        qs = quotes.get(r["id"], [])
        reasoning, miss_r, _ = _part(r.get("reasoning"), finder, cat_ix, qs, beh_ix,
                                     config.max_chars, term_ix)
        answer, miss_a, _ = _part(r.get("answer"), finder, cat_ix, miss_r, beh_ix,
                                  config.max_chars, term_ix)
        counts = {c: r.get(c) for c in cat_ix if r.get(c) is not None}
        bcount: dict[str, int] = dict(counts_of.get(r["id"], {}))
        if not bcount:  # no recorded counts: the instances themselves
            for b, _q in qs:
                bcount[b] = bcount.get(b, 0) + 1
        responses.append({
            "id": r["id"], "model": r["model"], "benchmark": r["benchmark"],
            "problem": key, "sample": r.get("sample"), "step": r.get("step"),
            "correct": r.get("correct"), "words": r.get("words"),
            "finish_reason": r.get("finish_reason"), "gold": r.get("gold"),
            "extracted": r.get("extracted"), "counts": counts, "behaviours": bcount,
            "parts": {"reasoning": reasoning, "answer": answer},
            "unlocated": [[beh_ix[b], q[:300]] for b, q in miss_a if b in beh_ix]})
    n_total = cands.group_by("model").len().sort("model")
    shown = drawn.group_by("model").len()
    shown_n = dict(shown.iter_rows())
    steps = sorted({s for s in drawn["step"].to_list() if s is not None}) \
        if "step" in drawn.columns else []
    note = ("Sampled for reading: " + "; ".join(
        f"{m} {shown_n.get(m, 0):,} of {n:,}" for m, n in n_total.iter_rows())
        + f" responses (problems where the models disagree in correctness first, then problems "
          f"every model answered, in a seeded order (seed {config.seed}); at most "
          f"{config.per_problem} per model and problem{' and step' if steps else ''}). Parts "
          f"longer than {config.max_chars:,} characters are cut; long parts are folded.")
    return {"models": sorted(shown_n), "benchmarks": sorted({r["benchmark"] for r in responses}),
            "categories": list(cat_ix), "behaviours": behs, "behaviour_unit": unit,
            "steps": steps,
            "terms": list(term_ix),
            "problems": problems, "responses": responses, "fold": config.fold_chars,
            "note": note, "sources": used, "skipped_categories": skipped,
            "n_drawn": drawn.height}
