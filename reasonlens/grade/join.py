"""Attach gold answers from a benchmark to traces (by problem id, else by problem text)."""

from __future__ import annotations

import re

import polars as pl


def _norm(s: str | None) -> str:
    return re.sub(r"\s+", " ", s or "").strip()


def attach_gold(traces: pl.DataFrame, problems: pl.DataFrame) -> tuple[pl.DataFrame, dict]:
    """Set ``gold`` and ``answer_type`` from ``problems`` where a trace matches a problem.

    A trace matches by ``problem_id``; traces whose id is unknown to the benchmark match when
    their prompt equals or contains exactly one problem statement. Unmatched traces keep their
    own gold. Returns (frame, {"matched_by_id", "matched_by_text", "unmatched"}).
    """
    by_id = {r["problem_id"]: r for r in problems.iter_rows(named=True)}
    texts = [(_norm(r["problem"]), r) for r in problems.iter_rows(named=True)]
    exact = {t: r for t, r in texts}
    cache: dict[str, dict | None] = {}

    def by_text(prompt: str | None) -> dict | None:
        p = _norm(prompt)
        if not p:
            return None
        if p in cache:
            return cache[p]
        hit = exact.get(p)
        if hit is None:
            found = [r for t, r in texts if len(t) > 20 and t in p]
            hit = found[0] if len(found) == 1 else None
        cache[p] = hit
        return hit

    n = traces.height
    pids = traces["problem_id"].to_list() if "problem_id" in traces.columns else [None] * n
    prompts = traces["prompt"].to_list() if "prompt" in traces.columns else [None] * n
    golds = traces["gold"].to_list() if "gold" in traces.columns else [None] * n
    types = traces["answer_type"].to_list() if "answer_type" in traces.columns else [None] * n
    stats = {"matched_by_id": 0, "matched_by_text": 0, "unmatched": 0}
    new_pid, new_gold, new_type = [], [], []
    for pid, prompt, gold, typ in zip(pids, prompts, golds, types):
        row = by_id.get(pid) if pid is not None else None
        if row is not None:
            stats["matched_by_id"] += 1
        else:
            row = by_text(prompt)
            stats["matched_by_text" if row is not None else "unmatched"] += 1
        if row is None:
            new_pid.append(pid)
            new_gold.append(gold)
            new_type.append(typ)
        else:
            new_pid.append(row["problem_id"])
            new_gold.append(row["gold"])
            new_type.append(row["answer_type"])
    out = traces.with_columns(pl.Series("problem_id", new_pid, dtype=pl.String),
                              pl.Series("gold", new_gold, dtype=pl.String),
                              pl.Series("answer_type", new_type, dtype=pl.String))
    return out, stats
