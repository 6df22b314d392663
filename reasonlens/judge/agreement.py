"""Agreement between a behaviour judge (LLM or offline detector) and the human gold labels. Pure.

Per behaviour, overall and per style, over the gold responses the judge answered (status "ok"
and a count; the others are reported as missing, never scored as 0):

- presence (count >= 1): Cohen's kappa (``sklearn.metrics.cohen_kappa_score``);
- counts: quadratic weighted kappa (``cohen_kappa_score(weights="quadratic")``), Spearman's rho
  (``scipy.stats.spearmanr``) and the mean absolute error;
- instances: precision, recall and F1, micro-averaged over responses. A predicted instance is
  located in the response by its quote (:func:`reasonlens.judge.sentences.locate_quote`), else by
  its sentence index; it matches a gold instance when the located span overlaps the gold span.
  Matching is one-to-one, greedy in text order.

Every figure has a percentile bootstrap confidence interval over responses (seeded). Undefined
values (e.g. kappa when both raters give one class only) are ``None``; bootstrap resamples where a
metric is undefined are dropped and counted.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import orjson
import polars as pl

from reasonlens.errors import InputError
from reasonlens.judge.gold import STYLES
from reasonlens.judge.sentences import locate_quote, split_sentences
from reasonlens.schema import BEHAVIOURS
from reasonlens.stats.bootstrap import bootstrap_statistics

METRICS = ("kappa", "qwk", "spearman", "mae", "precision", "recall", "f1")
MATCHING_RULE = ("a predicted instance is located by its quote in the response (else by its "
                 "sentence index) and matches a gold instance when the spans overlap; one-to-one, "
                 "greedy in text order")


@dataclass(frozen=True)
class AgreementConfig:
    """Bootstrap settings: ``n_boot`` resamples of responses, ``seed``, two-sided ``ci_level``."""

    n_boot: int = 1000
    seed: int = 0
    ci_level: float = 0.95

    def record(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- instance matching


def locate(text: str, inst: dict[str, Any], sentences=None) -> tuple[int, int] | None:
    """Character span of a predicted instance in ``text`` (quote first, then sentence index)."""
    quote = inst.get("quote")
    if isinstance(quote, str) and quote.strip():
        span = locate_quote(quote, text)
        if span:
            return span
    idx = inst.get("sentence")
    if isinstance(idx, int):
        sentences = sentences if sentences is not None else split_sentences(text)
        for s in sentences:
            if s.index == idx:
                return s.start, s.end
    return None


def match_instances(text: str, gold: list[dict[str, Any]], pred: list[dict[str, Any]]
                    ) -> dict[str, int]:
    """True positives, predictions, gold instances and unlocated predictions for one response."""
    sentences = split_sentences(text)
    spans = [locate(text, p, sentences) for p in pred]
    located = sorted((s for s in spans if s is not None))
    used = [False] * len(located)
    tp = 0
    for g in sorted(gold, key=lambda x: x["start"]):
        for k, (a, b) in enumerate(located):
            if not used[k] and a < g["end"] and g["start"] < b:
                used[k] = True
                tp += 1
                break
    return {"tp": tp, "n_pred": len(pred), "n_gold": len(gold),
            "n_unlocated": sum(s is None for s in spans)}


# ---------------------------------------------------------------- per-response table


def _parse_instances(raw: Any, rid: str, field: str) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if isinstance(raw, list):
        return raw
    try:
        val = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc}", field=field, path=f"judgments (id {rid})"
                         ) from exc
    if not isinstance(val, list):
        raise InputError("expected a JSON list", field=field, path=f"judgments (id {rid})")
    return val


def response_table(gold: list[dict], judged: pl.DataFrame) -> pl.DataFrame:
    """One row per (gold response, behaviour): gold and predicted counts and instance matches.

    Gold responses the judge did not answer, or answered with a status other than "ok" or a null
    count, have ``pred_count`` null (missing).
    """
    if "id" not in judged.columns:
        raise InputError("judgments have no 'id' column")
    jd = {r["id"]: r for r in judged.iter_rows(named=True)}
    rows: list[dict[str, Any]] = []
    for rec in gold:
        j = jd.get(rec["id"])
        for b in BEHAVIOURS:
            g = rec["labels"][b]
            row = {"id": rec["id"], "style": rec["style"], "split": rec["split"], "behaviour": b,
                   "gold_count": g["count"], "pred_count": None, "status": "absent",
                   "tp": 0, "n_pred": 0, "n_gold": g["count"], "n_unlocated": 0}
            if j is not None:
                status = j.get(f"{b}_status")
                count = j.get(f"{b}_count")
                row["status"] = status if status is not None else "ok"
                if row["status"] == "ok" and count is not None:
                    row["pred_count"] = int(count)
                    pred = _parse_instances(j.get(f"{b}_instances"), rec["id"], f"{b}_instances")
                    row.update(match_instances(rec["response"], g["instances"], pred))
            rows.append(row)
    schema = {"id": pl.String, "style": pl.String, "split": pl.String, "behaviour": pl.String,
              "gold_count": pl.Int64, "pred_count": pl.Int64, "status": pl.String,
              "tp": pl.Int64, "n_pred": pl.Int64, "n_gold": pl.Int64, "n_unlocated": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


# ---------------------------------------------------------------- metrics


def _kappa_np(a: np.ndarray, b: np.ndarray, weights: str | None = None) -> float | None:
    """Cohen's kappa (unweighted or quadratic), same values as scikit-learn's; None if undefined."""
    labels = np.union1d(a, b)
    k = len(labels)
    if k < 2:
        return None
    ia = np.searchsorted(labels, a)
    ib = np.searchsorted(labels, b)
    conf = np.zeros((k, k))
    np.add.at(conf, (ia, ib), 1.0)
    expected = np.outer(conf.sum(1), conf.sum(0)) / conf.sum()
    if weights == "quadratic":
        idx = np.arange(k)
        w = (idx[:, None] - idx[None, :]) ** 2.0
    else:
        w = 1.0 - np.eye(k)
    den = (w * expected).sum()
    if den == 0:
        return None
    return float(1.0 - (w * conf).sum() / den)


def _rankdata(a: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    order = np.argsort(a, kind="mergesort")
    ranks = np.empty(len(a))
    ranks[order] = np.arange(1, len(a) + 1)
    _, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
    return (np.bincount(inv, weights=ranks) / counts)[inv]


def _spearman_np(a: np.ndarray, b: np.ndarray) -> float | None:
    if len(a) < 2:
        return None
    ra, rb = _rankdata(a), _rankdata(b)
    sa, sb = ra.std(), rb.std()
    if sa == 0 or sb == 0:
        return None
    return float(((ra - ra.mean()) * (rb - rb.mean())).mean() / (sa * sb))


def _prf(tp: float, n_pred: float, n_gold: float) -> tuple[float | None, ...]:
    p = tp / n_pred if n_pred else None
    r = tp / n_gold if n_gold else None
    f = 2 * tp / (n_pred + n_gold) if (n_pred + n_gold) else None
    return p, r, f


def _fast_metrics(g: np.ndarray, p: np.ndarray, tp: np.ndarray, npred: np.ndarray,
                  ngold: np.ndarray) -> dict[str, float | None]:
    prec, rec, f1 = _prf(tp.sum(), npred.sum(), ngold.sum())
    return {"kappa": _kappa_np(g > 0, p > 0), "qwk": _kappa_np(g, p, "quadratic"),
            "spearman": _spearman_np(g, p), "mae": float(np.abs(g - p).mean()) if len(g) else None,
            "precision": prec, "recall": rec, "f1": f1}


def point_metrics(g: np.ndarray, p: np.ndarray, tp: np.ndarray, npred: np.ndarray,
                  ngold: np.ndarray) -> dict[str, float | None]:
    """The point estimates, computed with scikit-learn and scipy themselves."""
    import warnings

    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    out = _fast_metrics(g, p, tp, npred, ngold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if out["kappa"] is not None:
            out["kappa"] = float(cohen_kappa_score(g > 0, p > 0))
        if out["qwk"] is not None:
            out["qwk"] = float(cohen_kappa_score(g, p, weights="quadratic"))
        if out["spearman"] is not None:
            out["spearman"] = float(spearmanr(g, p).statistic)
    return {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) else v)
            for k, v in out.items()}


def summarise(table: pl.DataFrame, config: AgreementConfig, *, seed_offset: int = 0
              ) -> dict[str, Any]:
    """Metrics with bootstrap CIs for one behaviour's rows (one row per response)."""
    n_total = table.height
    ok = table.filter(pl.col("pred_count").is_not_null())
    g = ok.get_column("gold_count").to_numpy().astype(float)
    p = ok.get_column("pred_count").to_numpy().astype(float)
    tp, npred, ngold = (ok.get_column(c).to_numpy().astype(float)
                        for c in ("tp", "n_pred", "n_gold"))
    point = point_metrics(g, p, tp, npred, ngold) if ok.height else dict.fromkeys(METRICS)
    n = ok.height
    boots = bootstrap_statistics(
        n, lambda i: _fast_metrics(g[i], p[i], tp[i], npred[i], ngold[i]),
        n_boot=config.n_boot, seed=config.seed + seed_offset, level=config.ci_level)
    out: dict[str, Any] = {"n": n, "n_missing": n_total - n,
                           "gold_mean_count": float(g.mean()) if n else None,
                           "pred_mean_count": float(p.mean()) if n else None,
                           "gold_share_with_any": float((g > 0).mean()) if n else None,
                           "pred_share_with_any": float((p > 0).mean()) if n else None,
                           "instances": {"tp": int(tp.sum()), "n_pred": int(npred.sum()),
                                         "n_gold": int(ngold.sum()),
                                         "n_unlocated": int(ok.get_column("n_unlocated").sum())
                                         if n else 0}}
    for m in METRICS:
        ci, n_valid = boots.get(m, (None, 0))
        out[m] = {"value": point[m], "ci": ci, "n_boot_valid": n_valid}
    return out


def evaluate(gold: list[dict], judged: pl.DataFrame, config: AgreementConfig | None = None
             ) -> dict[str, Any]:
    """Agreement per behaviour, overall and per style (the ``behaviours`` block of
    agreement.json), plus the per-response table."""
    cfg = config or AgreementConfig()
    table = response_table(gold, judged)
    result: dict[str, Any] = {}
    for bi, b in enumerate(BEHAVIOURS):
        tb = table.filter(pl.col("behaviour") == b)
        block = {"overall": summarise(tb, cfg, seed_offset=100 * bi), "by_style": {}}
        for si, style in enumerate(STYLES):
            ts = tb.filter(pl.col("style") == style)
            if ts.height:
                block["by_style"][style] = summarise(ts, cfg, seed_offset=100 * bi + si + 1)
        result[b] = block
    return {"behaviours": result, "table": table}


def format_value(entry: dict[str, Any], digits: int = 2) -> str:
    """"0.71 [0.52, 0.86]" (or "n/a")."""
    v = entry.get("value")
    if v is None:
        return "n/a"
    ci = entry.get("ci")
    s = f"{v:.{digits}f}"
    return s + (f" [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]" if ci else "")
