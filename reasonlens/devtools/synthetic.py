"""Synthetic stage outputs (score, grade, judge, judge-eval, ablate) with planted effects.

For tests, benchmarks and trying the report without a model: the files follow the agreed
contracts (docs/report.md) so ``reasonlens stats`` and ``reasonlens report`` read them as they
would read real outputs. Counts are negative-binomial with a per-problem random effect (so
responses cluster within problems) and a planted per-model rate ratio.

    python -c "from reasonlens.devtools.synthetic import write_synthetic; write_synthetic('syn')"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from reasonlens.io import write_json, write_parquet
from reasonlens.schema import BEHAVIOURS, TERMS_SCHEMA, conform, judgment_frame, responses_schema

LEXICON = {
    "connectors": ["but", "alternatively", "however", "so", "therefore", "because", "then", "if"],
    "anthropomorphic": ["i think", "let me", "hmm", "wait", "i guess", "i'm", "we", "i wonder"],
    "reflection": ["check", "verify", "double-check", "actually", "mistake", "re-examine"],
    "math": ["equation", "substitute", "simplify", "solve", "compute", "denominator"],
}


@dataclass(frozen=True)
class SyntheticConfig:
    """Shape of the synthetic data.

    ``rate_ratio[i]`` multiplies every lexicon rate of model i (model 0 is the reference) and
    ``problem_sd`` is the SD of the per-problem log-rate effect shared by all models.
    """

    models: tuple[str, ...] = ("distilled", "zero-rl", "base")
    benchmarks: tuple[str, ...] = ("aime24", "math500", "gpqa")
    n_problems: int = 30
    n_samples: int = 4
    rate_ratio: tuple[float, ...] = (1.0, 0.5, 0.7)
    base_rate_per_1k: float = 4.0
    problem_sd: float = 0.6
    nb_size: float = 3.0
    seed: int = 0
    hostile_model: str | None = None  # e.g. '</script><script>alert(1)</script>' (escaping test)


def _provenance(command: str) -> dict:
    from reasonlens.provenance import provenance

    return provenance(command=command, config={"synthetic": True},
                      data_files=[{"kind": "lexicon", "name": k, "version": "synthetic-1",
                                   "sha256": "", "path": ""} for k in LEXICON])


def synthetic_frames(cfg: SyntheticConfig = SyntheticConfig()) -> dict[str, pl.DataFrame]:
    """responses, terms, graded and judgments frames (contract columns)."""
    rng = np.random.default_rng(cfg.seed)
    models = list(cfg.models)
    if cfg.hostile_model:
        models[-1] = cfg.hostile_model
    rr = list(cfg.rate_ratio) + [1.0] * (len(models) - len(cfg.rate_ratio))
    n_p, n_s = cfg.n_problems, cfg.n_samples
    rows = []
    for bi, b in enumerate(cfg.benchmarks):
        peff = rng.normal(0, cfg.problem_sd, n_p)
        diff = rng.normal(0, 1.2, n_p)
        plen = rng.lognormal(7.0 + 0.3 * bi, 0.4, n_p)
        for mi, m in enumerate(models):
            for p in range(n_p):
                for s in range(n_s):
                    rows.append((m, mi, b, f"{b}-{p:04d}", s, peff[p], diff[p], plen[p]))
    n = len(rows)
    model = np.array([r[0] for r in rows], dtype=object)
    mi = np.array([r[1] for r in rows])
    bench = np.array([r[2] for r in rows], dtype=object)
    pid = np.array([r[3] for r in rows], dtype=object)
    sample = np.array([r[4] for r in rows])
    peff = np.array([r[5] for r in rows])
    diff = np.array([r[6] for r in rows])
    plen = np.array([r[7] for r in rows])
    words = np.maximum(20, (plen * np.exp(0.25 * mi) * rng.lognormal(0, 0.3, n)).astype(np.int64))
    ids = [f"{m}:{b}:{p}:{s}" for m, b, p, s in zip(model, bench, pid, sample)]
    resp = {"id": ids, "model": model.tolist(), "benchmark": bench.tolist(),
            "problem_id": pid.tolist(), "sample": sample.tolist(),
            "finish_reason": np.where(rng.random(n) < 0.05, "length", "stop").tolist(),
            "think_closed": (rng.random(n) > 0.03).tolist(),
            "completion_tokens": (words * 1.3).astype(np.int64).tolist(),
            "words": words.tolist(), "words_reasoning": (words * 0.85).astype(np.int64).tolist()}
    resp["words_answer"] = (words - np.array(resp["words_reasoning"])).tolist()
    ratio = np.array([rr[i] for i in mi])
    term_rows = {"id": [], "model": [], "benchmark": [], "problem_id": [], "category": [],
                 "term": [], "part": [], "count": []}
    for cat, terms in LEXICON.items():
        cat_total = np.zeros(n, dtype=np.int64)
        for ti, term in enumerate(terms):
            mu = cfg.base_rate_per_1k / (ti + 1) * words / 1000 * ratio * np.exp(peff)
            if ti == len(terms) - 1:  # one rare term goes the other way (distinctive for B)
                mu = mu / ratio ** 2
            c = rng.negative_binomial(cfg.nb_size, cfg.nb_size / (cfg.nb_size + mu))
            cat_total += c
            nz = np.nonzero(c)[0]
            for part, frac in (("reasoning", 0.85), ("answer", 0.15)):
                cp = np.floor(c[nz] * frac).astype(np.int64) if part == "reasoning" else \
                    c[nz] - np.floor(c[nz] * 0.85).astype(np.int64)
                keep = cp > 0
                idx = nz[keep]
                term_rows["id"] += [ids[i] for i in idx]
                term_rows["model"] += model[idx].tolist()
                term_rows["benchmark"] += bench[idx].tolist()
                term_rows["problem_id"] += pid[idx].tolist()
                term_rows["category"] += [cat] * idx.size
                term_rows["term"] += [term] * idx.size
                term_rows["part"] += [part] * idx.size
                term_rows["count"] += cp[keep].tolist()
        resp[cat] = cat_total.tolist()
        resp[f"{cat}_reasoning"] = np.floor(cat_total * 0.85).astype(np.int64).tolist()
        resp[f"{cat}_answer"] = (cat_total - np.array(resp[f"{cat}_reasoning"])).tolist()
        resp[f"{cat}_per_1k"] = (cat_total / words * 1000).tolist()
    responses = conform(pl.DataFrame(resp), responses_schema(list(LEXICON)))
    terms = pl.DataFrame(term_rows, schema=TERMS_SCHEMA)
    beh_total = responses["connectors"].to_numpy()
    logit = 0.8 - diff + 0.15 * np.log1p(beh_total) - 0.2 * (mi == 1)
    correct = rng.random(n) < 1 / (1 + np.exp(-logit))
    reason = np.where(rng.random(n) < 0.02, "no_answer", "ok")
    graded = responses.select("id", "model", "benchmark", "problem_id", "sample",
                              "finish_reason", "completion_tokens", "think_closed").with_columns(
        pl.Series("correct", np.where(reason == "ok", correct, False).tolist(),
                  dtype=pl.Boolean),
        pl.Series("grade_reason", reason.tolist()), pl.lit("42").alias("gold"),
        pl.lit("42").alias("extracted"))
    per_b = {}
    for bi, bname in enumerate(BEHAVIOURS):
        mu = (0.8 + 0.4 * bi) * ratio * np.exp(0.5 * peff)
        cnt = rng.poisson(mu)
        status = np.where(rng.random(n) < 0.02, "parse_error", "ok")
        per_b[bname] = {"count": [int(c) if s == "ok" else None for c, s in zip(cnt, status)],
                        "status": status.tolist(), "instances": ["[]"] * n}
    judg = judgment_frame(responses, per_b, judge="offline-detector@synthetic", n_chunks=[1] * n)
    return {"responses": responses, "terms": terms, "graded": graded, "judgments": judg}


def write_synthetic(out_dir: str | Path, cfg: SyntheticConfig = SyntheticConfig(), *,
                    stages: tuple[str, ...] = ("score", "grade", "judge", "judge-eval",
                                               "ablate")) -> dict[str, Path]:
    """Write synthetic stage directories under ``out_dir``; returns {stage: dir}."""
    out = Path(out_dir)
    fr = synthetic_frames(cfg)
    dirs: dict[str, Path] = {}
    if "score" in stages:
        d = dirs["score"] = out / "score"
        prov = _provenance("score")
        write_parquet(fr["responses"], d / "responses.parquet", prov)
        write_parquet(fr["terms"], d / "terms.parquet", prov)
        summary = {"models": {m: {"n_responses": int(s.height), "words": int(s["words"].sum())}
                              for (m,), s in fr["responses"].group_by("model")},
                   "provenance": prov}
        write_json(d / "summary.json", summary)
    if "grade" in stages:
        from reasonlens.stats.accuracy import accuracy_table

        d = dirs["grade"] = out / "grade"
        prov = _provenance("grade")
        write_parquet(fr["graded"], d / "graded.parquet", prov)
        acc = accuracy_table(fr["graded"])
        models: dict = {}
        for row in acc.iter_rows(named=True):
            models.setdefault(row["model"], {"benchmarks": {}})["benchmarks"][row["benchmark"]] = {
                "n_problems": row["n_problems"], "n_samples": row["n_samples"],
                "accuracy": row["accuracy"], "accuracy_ci": [row["ci_low"], row["ci_high"]],
                "pass_at_k": {}, "maj_at_k": {}, "clip_ratio": 0.05, "mean_length": 1000.0,
                "median_length": 900.0, "length_unit": "tokens"}
        write_json(d / "metrics.json", {"models": models, "provenance": prov})
    if "judge" in stages:
        d = dirs["judge"] = out / "judge"
        prov = _provenance("judge")
        write_parquet(fr["judgments"], d / "judgments.parquet", prov)
        write_json(d / "summary.json", {"provenance": prov})
    if "judge-eval" in stages:
        d = dirs["judge-eval"] = out / "judge-eval"
        def entry(v: float, n: int) -> dict:
            metrics = {m: {"value": v + dv, "ci": [v + dv - 0.15, min(1.0, v + dv + 0.12)],
                           "n_boot_valid": 1000}
                       for m, dv in (("kappa", 0.0), ("qwk", 0.05), ("spearman", 0.02),
                                     ("f1", 0.15))}
            return {"n": n, "n_missing": 0, "instances": {"tp": 10, "n_pred": 12, "n_gold": 14},
                    **metrics}

        write_json(d / "agreement.json", {
            "judge": ["offline-detector@synthetic"], "split": "test", "n_responses": 60,
            "bootstrap": {"n_boot": 1000, "unit": "response"},
            "behaviours": {b: {"overall": entry(0.6 - 0.1 * i, 60),
                               "by_style": {"distilled": entry(0.65 - 0.1 * i, 30),
                                            "zero-rl": entry(0.5 - 0.1 * i, 30)}}
                           for i, b in enumerate(BEHAVIOURS)},
            "provenance": _provenance("judge-eval")})
    if "ablate" in stages:
        d = dirs["ablate"] = out / "ablate"
        conds = {"none": (0.55, 0.0), "ban_connectors": (0.48, -0.07),
                 "ban_anthropomorphic": (0.50, -0.05), "ban_random": (0.545, -0.005)}
        write_json(d / "ablation.json", {"conditions": {
            c: {"n_banned_ids": 0 if c == "none" else 120, "accuracy": a,
                "accuracy_ci": [a - 0.06, a + 0.06], "delta_vs_none": dl,
                "delta_ci": [dl - 0.04, dl + 0.04] if c != "none" else [0.0, 0.0],
                "leakage_rate": 0.0 if c == "none" else 0.01, "clip_ratio": 0.05,
                "mean_length": 3000.0, "repetition_rate": 0.01, "n_samples": 240,
                "n_problems": 60} for c, (a, dl) in conds.items()},
            "banset": {"hash": "b2:synthetic"}, "provenance": _provenance("ablate")})
    return dirs
