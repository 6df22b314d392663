"""Tidy frames from the JSON outputs of grade (metrics.json), ablate (ablation.json) and
judge-eval (agreement.json)."""

from __future__ import annotations

from typing import Any

import polars as pl


def _ci(v: Any) -> tuple[float | None, float | None]:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        lo, hi = v
        return (float(lo) if isinstance(lo, (int, float)) else None,
                float(hi) if isinstance(hi, (int, float)) else None)
    if isinstance(v, dict):
        return _ci([v.get("low", v.get("lo")), v.get("high", v.get("hi"))])
    return None, None


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def metrics_frame(metrics: list[dict]) -> pl.DataFrame:
    """metrics.json -> model, benchmark, accuracy, ci_low, ci_high, n_problems, n_samples, ..."""
    rows = []
    for m_json in metrics:
        for model, mv in (m_json.get("models") or {}).items():
            for bench, bv in ((mv or {}).get("benchmarks") or {}).items():
                lo, hi = _ci(bv.get("accuracy_ci"))
                rows.append({"model": str(model), "benchmark": str(bench),
                             "accuracy": _num(bv.get("accuracy")), "ci_low": lo, "ci_high": hi,
                             "n_problems": bv.get("n_problems"), "n_samples": bv.get("n_samples"),
                             "clip_ratio": _num(bv.get("clip_ratio")),
                             "mean_length": _num(bv.get("mean_length")),
                             "median_length": _num(bv.get("median_length")),
                             "length_unit": bv.get("length_unit"),
                             "ungradable": bv.get("ungradable"), "source": "metrics.json"})
    schema = {"model": pl.String, "benchmark": pl.String, "accuracy": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "n_problems": pl.Int64,
              "n_samples": pl.Int64, "clip_ratio": pl.Float64, "mean_length": pl.Float64,
              "median_length": pl.Float64, "length_unit": pl.String, "ungradable": pl.Int64,
              "source": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)


def ablation_frame(ablations: list[dict], n_by_condition: dict[str, int] | None = None
                   ) -> pl.DataFrame:
    """ablation.json -> condition, accuracy (+CI), delta_vs_none (+CI), leakage, clip, length, n."""
    rows = []
    n_by_condition = n_by_condition or {}
    for a in ablations:
        for cond, cv in (a.get("conditions") or {}).items():
            lo, hi = _ci(cv.get("accuracy_ci"))
            dlo, dhi = _ci(cv.get("delta_ci"))
            n = cv.get("n_samples", cv.get("n_responses", n_by_condition.get(cond)))
            rows.append({"condition": str(cond), "n_banned_ids": cv.get("n_banned_ids"),
                         "accuracy": _num(cv.get("accuracy")), "ci_low": lo, "ci_high": hi,
                         "delta_vs_none": _num(cv.get("delta_vs_none")), "delta_ci_low": dlo,
                         "delta_ci_high": dhi, "leakage_rate": _num(cv.get("leakage_rate")),
                         "clip_ratio": _num(cv.get("clip_ratio")),
                         "mean_length": _num(cv.get("mean_length")),
                         "repetition_rate": _num(cv.get("repetition_rate")),
                         "n_samples": int(n) if isinstance(n, (int, float)) else None,
                         "n_problems": cv.get("n_problems")})
    schema = {"condition": pl.String, "n_banned_ids": pl.Int64, "accuracy": pl.Float64,
              "ci_low": pl.Float64, "ci_high": pl.Float64, "delta_vs_none": pl.Float64,
              "delta_ci_low": pl.Float64, "delta_ci_high": pl.Float64,
              "leakage_rate": pl.Float64, "clip_ratio": pl.Float64, "mean_length": pl.Float64,
              "repetition_rate": pl.Float64, "n_samples": pl.Int64, "n_problems": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)


_N_KEYS = ("n", "n_items", "n_responses", "n_pairs", "n_gold")
_CONTAINERS = {"behaviours", "behaviors", "results", "metrics", "by_behaviour"}
_SKIP = {"provenance", "config", "confusion", "confusion_matrix", "instances", "bootstrap",
         "table", "matching", "judge", "split", "n_missing", "n_boot_valid"}
_SCOPE_NAMES = {"overall": "all", "by_style": "style", "by_model": "model"}
_KNOWN = {"kappa", "qwk", "weighted_kappa", "spearman", "pearson", "mae", "precision", "recall",
          "f1", "accuracy", "agreement"}


def agreement_frame(agreements: list[dict]) -> pl.DataFrame:
    """agreement.json -> behaviour, scope, metric, estimate, ci_low, ci_high, n.

    Reads judge-eval's layout (``behaviours.B.overall.kappa = {"value", "ci"}``, per-style blocks
    under ``by_style``) and, generically, any numeric ``k`` with a sibling ``k_ci``. The first path
    component is the behaviour, the rest (e.g. ``style/distilled``) the scope; n comes from the
    enclosing object's n / n_items / n_responses.
    """
    rows: list[dict] = []

    def emit(path: list[str], metric: str, est: Any, ci: Any, n: Any) -> None:
        p = [x for x in path if x not in _CONTAINERS] or path
        scope = "/".join(_SCOPE_NAMES.get(x, x) for x in p[1:]) or "all"
        lo, hi = _ci(ci)
        rows.append({"behaviour": p[0], "scope": scope, "metric": metric, "estimate": _num(est),
                     "ci_low": lo, "ci_high": hi, "n": n if isinstance(n, int) else None})

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        n = next((node[k] for k in _N_KEYS if isinstance(node.get(k), int)), None)
        for k, v in node.items():
            if k in _SKIP or k in _N_KEYS or k.endswith("_ci"):
                continue
            if isinstance(v, dict) and "value" in v and path:
                if _num(v.get("value")) is not None:
                    emit(path, str(k), v["value"], v.get("ci"), n)
            elif isinstance(v, dict):
                walk(v, path + [str(k)])
            elif _num(v) is not None and path and (f"{k}_ci" in node or k in _KNOWN):
                emit(path, str(k), v, node.get(f"{k}_ci"), n)

    for a in agreements:
        walk({k: v for k, v in a.items() if k not in _SKIP}, [])
    schema = {"behaviour": pl.String, "scope": pl.String, "metric": pl.String,
              "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "n": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(
        schema=schema)
