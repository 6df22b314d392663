"""Pure parts of the distillation-data pipeline, over polars frames.

- :func:`normalize_problem` / :func:`dedupe_problems`: one row per distinct problem text.
- :func:`dedupe_responses`: drop repeated responses (same normalised text for the same problem).
- :func:`contamination`: exact-match and word n-gram overlap of training problems with test
  problems (AIME 2024/2025), one row per training problem.
- :func:`assistant_content` / :func:`chat_rows`: the chat-format training rows.
- :func:`length_stats` / :func:`length_chart`: the length distribution (the paper's Figure 5
  analogue) as numbers and an Altair chart.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

import polars as pl

from reasonlens.errors import ConfigError

_WS = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]+|\d+")
_LATEX_SPACING = re.compile(r"\\[,;:! ]|\\(?:left|right|displaystyle|textstyle)\b|~")


def normalize_problem(text: str | None) -> str:
    """Case-folded, accent-stripped text without LaTeX spacing commands, ``$`` or extra spaces."""
    t = unicodedata.normalize("NFKD", text or "")
    t = "".join(c for c in t if not unicodedata.combining(c)).lower()
    t = _LATEX_SPACING.sub(" ", t).replace("$", " ")
    t = re.sub(r"\s*([(){}\[\],.;:=+\-*/^_])\s*", r"\1", t)
    return _WS.sub(" ", t).strip()


def words(text: str | None) -> list[str]:
    """Word tokens (letters or digit runs) of the normalised text, for n-gram overlap."""
    return _WORD.findall(normalize_problem(text))


def ngrams(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def dedupe_problems(pool: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, dropped): the first row of each normalised problem text is kept."""
    if "problem" not in pool.columns:
        raise ConfigError("the problem pool has no 'problem' column")
    df = pool.with_columns(pl.col("problem").map_elements(normalize_problem,
                                                          return_dtype=pl.String)
                           .alias("_norm")).with_row_index("_row")
    first = df.group_by("_norm", maintain_order=True).agg(pl.col("_row").first(),
                                                          pl.col("problem_id").first()
                                                          .alias("duplicate_of"))
    keep_rows = set(first["_row"].to_list())
    kept = df.filter(pl.col("_row").is_in(keep_rows)).drop("_row", "_norm")
    dropped = (df.filter(~pl.col("_row").is_in(keep_rows))
               .join(first.select("_norm", "duplicate_of"), on="_norm", how="left")
               .drop("_row", "_norm"))
    return kept, dropped


def dedupe_responses(traces: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(kept, dropped): repeated responses to the same problem (whitespace-normalised) go."""
    key = pl.col("response").fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()
    df = traces.with_columns(key.alias("_rkey")).with_row_index("_row")
    first = df.group_by(["problem_id", "_rkey"], maintain_order=True).agg(pl.col("_row").first())
    keep_rows = set(first["_row"].to_list())
    kept = df.filter(pl.col("_row").is_in(keep_rows)).drop("_row", "_rkey")
    dropped = df.filter(~pl.col("_row").is_in(keep_rows)).drop("_row", "_rkey")
    return kept, dropped


@dataclass(frozen=True)
class ContaminationConfig:
    """``n``: word n-gram size; a training problem is flagged when its text equals a test
    problem's after normalisation, or when at least ``threshold`` of its n-grams occur in one
    test problem."""

    n: int = 8
    threshold: float = 0.5

    def __post_init__(self):
        if self.n < 1:
            raise ConfigError("--ngram must be >= 1")
        if not 0.0 < self.threshold <= 1.0:
            raise ConfigError("--overlap-threshold must lie in (0, 1]")


def contamination(pool: pl.DataFrame, tests: pl.DataFrame,
                  config: ContaminationConfig | None = None) -> pl.DataFrame:
    """One row per pool problem: problem_id, exact (bool), overlap (max share of its n-grams in
    one test problem), test_benchmark, test_problem_id (the best match), flagged."""
    config = config or ContaminationConfig()
    index: dict[tuple[str, ...], set[int]] = {}
    exact: dict[str, int] = {}
    test_rows = tests.select("benchmark", "problem_id", "problem").rows()
    for j, (_, _, text) in enumerate(test_rows):
        exact.setdefault(normalize_problem(text), j)
        for g in ngrams(words(text), config.n):
            index.setdefault(g, set()).add(j)
    out = []
    for pid, text in pool.select("problem_id", "problem").rows():
        grams = ngrams(words(text), config.n)
        counts: dict[int, int] = {}
        for g in grams:
            for j in index.get(g, ()):
                counts[j] = counts.get(j, 0) + 1
        best_j, best = (max(counts.items(), key=lambda kv: kv[1]) if counts else (None, 0))
        hit = exact.get(normalize_problem(text))
        if hit is not None:
            best_j = hit
        overlap = (best / len(grams)) if grams else 0.0
        is_exact = hit is not None
        out.append({"problem_id": str(pid), "exact": is_exact,
                    "overlap": 1.0 if is_exact else overlap,
                    "test_benchmark": test_rows[best_j][0] if best_j is not None else None,
                    "test_problem_id": str(test_rows[best_j][1]) if best_j is not None
                    else None,
                    "flagged": is_exact or overlap >= config.threshold})
    schema = {"problem_id": pl.String, "exact": pl.Boolean, "overlap": pl.Float64,
              "test_benchmark": pl.String, "test_problem_id": pl.String, "flagged": pl.Boolean}
    return pl.DataFrame(out, schema=schema)


def assistant_content(reasoning: str | None, answer: str | None,
                      think_closed: bool | None = True) -> str:
    """``<think>\\n{reasoning}\\n</think>\\n\\n{answer}`` (the R1 layout the student learns).

    A trace cut inside its reasoning (``think_closed`` False, kept with --keep-truncated) stays
    open: no closing tag is invented for it."""
    if think_closed is False:
        return f"<think>\n{(reasoning or '').strip()}"
    return f"<think>\n{(reasoning or '').strip()}\n</think>\n\n{(answer or '').strip()}"


def chat_rows(traces: pl.DataFrame, prompts: dict[str, list[dict[str, str]]]) -> list[dict]:
    """Training rows: ``messages`` = the rendered prompt (system/user) + the assistant turn,
    plus bookkeeping columns. ``prompts`` maps problem_id to its rendered messages."""
    rows = []
    for r in traces.iter_rows(named=True):
        pid = str(r["problem_id"])
        msgs = [m for m in prompts[pid] if m["role"] != "assistant"]
        msgs = [{"role": m["role"], "content": m["content"]} for m in msgs]
        msgs.append({"role": "assistant",
                     "content": assistant_content(r.get("reasoning"), r.get("answer"),
                                                 r.get("think_closed"))})
        rows.append({
            "messages": msgs, "problem_id": pid, "benchmark": r.get("benchmark"),
            "gold": r.get("gold"), "answer_type": r.get("answer_type"),
            "teacher": r.get("model"), "sample": r.get("sample"),
            "correct": r.get("correct"), "finish_reason": r.get("finish_reason"),
            "completion_tokens": r.get("completion_tokens"), "trace_id": r.get("id"),
        })
    return rows


def length_frame(traces: pl.DataFrame) -> pl.DataFrame:
    """Per trace: problem_id, words of reasoning/answer, completion_tokens, correct."""
    wc = (lambda c: pl.col(c).fill_null("").str.count_matches(r"\S+").cast(pl.Int64))
    cols = [pl.col("problem_id"), wc("reasoning").alias("reasoning_words"),
            wc("answer").alias("answer_words"),
            (pl.col("completion_tokens").cast(pl.Int64) if "completion_tokens" in traces.columns
             else pl.lit(None, dtype=pl.Int64)).alias("completion_tokens"),
            (pl.col("correct") if "correct" in traces.columns
             else pl.lit(None, dtype=pl.Boolean)).alias("correct")]
    return traces.select(cols).with_columns(
        (pl.col("reasoning_words") + pl.col("answer_words")).alias("words"))


def length_stats(lengths: pl.DataFrame, thresholds: tuple[int, ...] = (8192, 16384, 32768)
                 ) -> dict[str, Any]:
    """Summary of the length distribution; the unit is completion tokens when every trace has
    them (usage accounting), otherwise words."""
    tok = lengths["completion_tokens"]
    unit = "completion_tokens" if lengths.height and tok.null_count() == 0 else "words"
    s = lengths[unit].cast(pl.Float64)
    out: dict[str, Any] = {"unit": unit, "n": lengths.height}
    if lengths.height:
        out.update({"mean": float(s.mean()), "median": float(s.median()),
                    "p10": float(s.quantile(0.1, "nearest")),
                    "p90": float(s.quantile(0.9, "nearest")), "min": float(s.min()),
                    "max": float(s.max())})
        if unit == "completion_tokens":
            out["over"] = {str(t): int((s > t).sum()) for t in thresholds}
        out["words_mean"] = float(lengths["words"].mean())
        if lengths["correct"].null_count() < lengths.height:
            for label, flag in (("correct", True), ("wrong", False)):
                sub = lengths.filter(pl.col("correct") == flag)[unit]
                out[f"median_{label}"] = float(sub.median()) if sub.len() else None
    return out


def length_chart(lengths: pl.DataFrame, *, title: str, unit: str, bin_step: int | None = None):
    """Histogram of trace lengths, stacked by correctness (the Figure 5 analogue)."""
    import altair as alt

    data = lengths.select(
        pl.col(unit).alias("length"),
        pl.when(pl.col("correct").is_null()).then(pl.lit("ungraded"))
        .when(pl.col("correct")).then(pl.lit("correct")).otherwise(pl.lit("wrong"))
        .alias("teacher answer")).to_dicts()
    bins = alt.Bin(step=bin_step) if bin_step else alt.Bin(maxbins=40)
    label = "completion tokens" if unit == "completion_tokens" else "words"
    return alt.Chart(alt.Data(values=data)).mark_bar().encode(
        x=alt.X("length:Q", bin=bins, title=f"trace length ({label})"),
        y=alt.Y("count():Q", title="traces"),
        color=alt.Color("teacher answer:N",
                        scale=alt.Scale(domain=["correct", "wrong", "ungraded"],
                                        range=["#4c78a8", "#e45756", "#9d9d9d"])),
    ).properties(title=title, width=520, height=260)
