"""Agreement of a judge or detector with sentence-level human labels. Pure.

Per behaviour (a label of the evaluated taxonomy, or a paper behaviour reached through the labels'
mapping), over the traces the judge answered:

- **sentences**: precision, recall, F1 and Cohen's kappa of the per-sentence 0/1 flags (pooled
  over sentences);
- **counts per trace** in the chosen unit (``episodes``: maximal runs of consecutive flagged
  sentences; ``sentences``): Spearman's rho and quadratic weighted kappa between the human and
  the judged count, and the mean counts.

Every figure has a percentile bootstrap CI from resampling **traces** (seeded; the unit of
independence is the trace, not the sentence). Undefined values are ``None``.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import orjson
import polars as pl

from reasonlens.errors import InputError
from reasonlens.judge.agreement import _kappa_np, _spearman_np, format_value  # noqa: F401
from reasonlens.judge.taxonomy import count_units
from reasonlens.stats.bootstrap import bootstrap_statistics

SENTENCE_METRICS = ("precision", "recall", "f1", "kappa")
COUNT_METRICS = ("spearman", "qwk")


@dataclass(frozen=True)
class EvalConfig:
    n_boot: int = 1000
    seed: int = 0
    ci_level: float = 0.95
    unit: str = "episodes"

    def record(self) -> dict[str, Any]:
        return asdict(self)


def _per_trace(groups: np.ndarray, y: np.ndarray, p: np.ndarray, unit: str):
    """Per trace: (tp, n_pred, n_gold, n, gold_count, pred_count, a, b, c, d) where a..d are the
    2x2 cells for kappa (both 1, gold only, pred only, both 0)."""
    out = []
    bounds = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1], True])
    for s, e in zip(bounds[:-1], bounds[1:]):
        gy, gp = y[s:e].astype(bool), p[s:e].astype(bool)
        out.append([(gy & gp).sum(), gp.sum(), gy.sum(), e - s,
                    count_units(gy.tolist(), unit), count_units(gp.tolist(), unit),
                    (gy & gp).sum(), (gy & ~gp).sum(), (~gy & gp).sum(), (~gy & ~gp).sum()])
    return np.array(out, dtype=float)


def _metrics(t: np.ndarray) -> dict[str, float | None]:
    tp, npred, ngold = t[:, 0].sum(), t[:, 1].sum(), t[:, 2].sum()
    a, b, c, d = (t[:, k].sum() for k in (6, 7, 8, 9))
    n = a + b + c + d
    po = (a + d) / n if n else None
    pe = (((a + b) * (a + c)) + ((c + d) * (b + d))) / n ** 2 if n else None
    kappa = (po - pe) / (1 - pe) if n and pe is not None and pe < 1 else None
    g, p = t[:, 4], t[:, 5]
    return {"precision": tp / npred if npred else None, "recall": tp / ngold if ngold else None,
            "f1": 2 * tp / (npred + ngold) if (npred + ngold) else None, "kappa": kappa,
            "spearman": _spearman_np(g, p), "qwk": _kappa_np(g, p, "quadratic")}


def evaluate_flags(groups: np.ndarray, gold: np.ndarray, pred: np.ndarray,
                   config: EvalConfig | None = None, *, seed_offset: int = 0) -> dict[str, Any]:
    """Metrics with CIs for one behaviour: ``groups`` (trace key per sentence, each trace's rows
    contiguous), ``gold`` and ``pred`` 0/1 per sentence."""
    cfg = config or EvalConfig()
    t = _per_trace(np.asarray(groups), np.asarray(gold), np.asarray(pred), cfg.unit)
    point = _metrics(t)
    boots = bootstrap_statistics(len(t), lambda i: _metrics(t[i]), n_boot=cfg.n_boot,
                                 seed=cfg.seed + seed_offset, level=cfg.ci_level)
    out: dict[str, Any] = {
        "n": int(len(t)), "n_traces": int(len(t)), "n_sentences": int(t[:, 3].sum()),
        "gold_sentences": int(t[:, 2].sum()), "pred_sentences": int(t[:, 1].sum()),
        "gold_mean_count": float(t[:, 4].mean()) if len(t) else None,
        "pred_mean_count": float(t[:, 5].mean()) if len(t) else None, "unit": cfg.unit}
    for m, v in point.items():
        ci, n_valid = boots.get(m, (None, 0))
        out[m] = {"value": None if v is None or np.isnan(v) else float(v), "ci": ci,
                  "n_boot_valid": n_valid}
    return out


def evaluate(groups, gold: dict[str, list[int]], pred: dict[str, np.ndarray],
             config: EvalConfig | None = None) -> dict[str, Any]:
    """:func:`evaluate_flags` for every behaviour of ``pred``."""
    return {b: evaluate_flags(np.asarray(groups), np.asarray(gold[b]), np.asarray(pred[b]),
                              config, seed_offset=100 * k)
            for k, b in enumerate(pred)}


def flags_from_judgments(judged: pl.DataFrame, traces: pl.DataFrame, spans: pl.DataFrame,
                         behaviours: tuple[str, ...]) -> tuple[dict[str, np.ndarray],
                                                               np.ndarray, list[str]]:
    """Per-sentence flags of a judge output over corpus traces (built by
    :func:`reasonlens.judge.corpus.corpus_traces`). An instance marks the corpus sentence that
    holds the start of its sentence (or of its located quote span). Returns the flags, a mask of
    the corpus rows whose trace was answered (status ok for every behaviour) and the ids of the
    traces left out as missing."""
    from reasonlens.judge.chunking import split_sentences

    if judged.get_column("id").is_duplicated().any():
        dup = judged.filter(pl.col("id").is_duplicated()).get_column("id")[0]
        raise InputError(f"judgment id {dup!r} appears more than once", field="id")
    rows = {r["id"]: r for r in judged.iter_rows(named=True)}
    resp = dict(zip(traces.get_column("id").to_list(), traces.get_column("response").to_list()))
    tids = spans.get_column("trace_id").to_list()
    starts = spans.get_column("start").to_list()
    flags = {b: np.zeros(spans.height, np.int8) for b in behaviours}
    answered = np.zeros(spans.height, bool)
    missing: list[str] = []
    first: dict[str, int] = {}
    for k, t in enumerate(tids):
        first.setdefault(t, k)
    for tid, k0 in first.items():
        k1 = k0
        while k1 < len(tids) and tids[k1] == tid:
            k1 += 1
        r = rows.get(tid)
        ok = r is not None and all(r.get(f"{b}_status") == "ok" for b in behaviours)
        if not ok:
            missing.append(tid)
            continue
        answered[k0:k1] = True
        own = split_sentences(resp[tid])
        offs = starts[k0:k1]
        for b in behaviours:
            for inst in orjson.loads(r.get(f"{b}_instances") or "[]"):
                s = inst.get("sentence")
                pos = own[s - 1].start if isinstance(s, int) and 1 <= s <= len(own) else None
                if pos is None and isinstance(inst.get("char_start"), int):
                    pos = inst["char_start"]
                if pos is not None:
                    flags[b][k0 + max(0, bisect.bisect_right(offs, pos) - 1)] = 1
    return flags, answered, missing



def behaviours_for(eval_tax, label_tax, available: tuple[str, ...]) -> tuple[str, ...]:
    """What can be scored: outputs of the evaluated taxonomy that the judge produced and the
    human labels define (directly or through the labels' mapping)."""
    derivable = set(label_tax.keys) | set(label_tax.mapped)
    out = tuple(b for b in eval_tax.outputs() if b in available and b in derivable)
    if not out:
        raise InputError(f"nothing to score: the judge gives {', '.join(available) or 'nothing'}"
                         f"; the {label_tax.name!r} labels define "
                         f"{', '.join(sorted(derivable))}")
    return out


def detector_flags(det, corpus: pl.DataFrame, behaviours: tuple[str, ...]
                   ) -> dict[str, np.ndarray]:
    """A detector's 0/1 flags on the corpus's own sentences (no re-splitting)."""
    from reasonlens.judge.detector import predict

    sent = corpus.select(pl.col("trace_id").alias("group"), "text")
    f = predict(det, sent)
    return {b: f[:, det.outputs.index(b)] for b in behaviours}


def evaluate_corpus(corpus: pl.DataFrame, label_tax, behaviours: tuple[str, ...],
                    pred: dict[str, np.ndarray], answered: np.ndarray | None = None,
                    config: EvalConfig | None = None) -> dict[str, Any]:
    """Metrics per behaviour over the answered traces of ``corpus``."""
    from reasonlens.judge.corpus import label_matrix

    keep = np.ones(corpus.height, bool) if answered is None else answered
    gold = label_matrix(corpus, label_tax, behaviours)
    groups = corpus.get_column("trace_id").to_numpy()[keep]
    return evaluate(groups, {b: np.asarray(gold[b])[keep] for b in behaviours},
                    {b: np.asarray(pred[b])[keep] for b in behaviours}, config)
