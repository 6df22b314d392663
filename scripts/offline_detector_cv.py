"""Choose the offline detector's settings by cross-validation on the gold TRAIN split only.

    python scripts/offline_detector_cv.py [--folds 5] [--gold annotations/gold.jsonl]

Grouped K-fold over train responses (a response's sentences never straddle folds; folds are
stratified by style). For each classifier C, the held-out sentence probabilities are computed once;
then every (threshold, cue_threshold, merge_adjacent) is scored on the pooled held-out responses by
the mean over both behaviours of presence kappa, count QWK and instance F1 (no bootstrap). Prints
the best settings, the shipped defaults, and two reference rules (cues only, classifier only).
The test split is never read.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time

import numpy as np
import polars as pl

from reasonlens.judge import offline
from reasonlens.judge.agreement import AgreementConfig, point_metrics
from reasonlens.judge.gold import BEHAVIOURS, DEFAULT_GOLD, STYLES, load_gold
from reasonlens.judge.sentences import split_sentences


def folds_of(records: list[dict], k: int) -> list[int]:
    """Fold number per record: round-robin within each style, in id order (deterministic)."""
    fold = [0] * len(records)
    for style in STYLES:
        idx = sorted((i for i, r in enumerate(records) if r["style"] == style),
                     key=lambda i: records[i]["id"])
        for j, i in enumerate(idx):
            fold[i] = j % k
    return fold


def heldout_probs(records: list[dict], k: int, C: float, features: str
                  ) -> list[dict[str, list[float]]]:
    fold = folds_of(records, k)
    out: list[dict[str, list[float]] | None] = [None] * len(records)
    for f in range(k):
        train = [r for r, g in zip(records, fold) if g != f]
        models = offline.fit_models(train, C=C, features=features)
        for i, r in enumerate(records):
            if fold[i] == f:
                sents = [s.text for s in split_sentences(r["response"])]
                out[i] = offline.score_sentences(sents, models)
    return out  # type: ignore[return-value]


def score(records, probs, cfg: offline.OfflineConfig) -> dict[str, dict[str, float | None]]:
    from reasonlens.judge.agreement import match_instances

    res = {}
    for b in BEHAVIOURS:
        g, p, tp, npred, ngold = [], [], [], [], []
        for r, pr in zip(records, probs):
            sents = split_sentences(r["response"])
            inst = offline.instances_for(sents, pr[b], b, cfg)
            m = match_instances(r["response"], r["labels"][b]["instances"],
                                [{"sentence": x["sentence"]} for x in inst])
            g.append(r["labels"][b]["count"])
            p.append(len(inst))
            tp.append(m["tp"])
            npred.append(m["n_pred"])
            ngold.append(m["n_gold"])
        arr = [np.array(x, dtype=float) for x in (g, p, tp, npred, ngold)]
        res[b] = point_metrics(*arr)
    return res


def objective(res) -> float:
    vals = [res[b][m] if res[b][m] is not None else 0.0
            for b in BEHAVIOURS for m in ("kappa", "qwk", "f1")]
    return float(np.mean(vals))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--gold", default=str(DEFAULT_GOLD))
    args = ap.parse_args(argv)
    records = load_gold(args.gold, split="train")
    print(f"train split: {len(records)} responses, {args.folds}-fold grouped CV")
    t0 = time.perf_counter()
    rows = []
    for C, feats in itertools.product((1.0, 4.0), offline.FEATURE_SETS):
        probs = heldout_probs(records, args.folds, C, feats)
        for th, cth, merge in itertools.product((0.4, 0.5, 0.6, 0.7, 0.8),
                                                (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 1.0),
                                                (False, True)):
            if cth > th and cth != 1.0:
                continue
            cfg = offline.OfflineConfig(threshold=th, cue_threshold=min(cth, th), C=C,
                                        merge_adjacent=merge, features=feats)
            res = score(records, probs, cfg)
            rows.append({"C": C, "features": feats, "threshold": th, "cue_threshold": min(cth, th),
                         "merge_adjacent": merge, "objective": objective(res),
                         **{f"{b[:2]}_{m}": res[b][m] for b in BEHAVIOURS
                            for m in ("kappa", "qwk", "f1")}})
        # reference rule: cues only (any cue = instance); classifier-only rules are the grid rows
        # with cue_threshold == threshold
        rows.append({"C": C, "features": feats, "threshold": 1.01, "cue_threshold": 0.0,
                     "merge_adjacent": False,
                     "objective": objective(score(records, probs, offline.OfflineConfig(
                         threshold=1.0, cue_threshold=0.0, C=C))), "rule": "cues only"})
    df = pl.DataFrame(rows, infer_schema_length=None).sort("objective", descending=True)
    pl.Config.set_tbl_cols(20)
    pl.Config.set_tbl_width_chars(200)
    print(df.drop("rule").head(10))
    d = offline.OfflineConfig()
    shipped = df.filter((pl.col("C") == d.C) & (pl.col("features") == d.features)
                        & (pl.col("threshold") == d.threshold)
                        & (pl.col("cue_threshold") == d.cue_threshold)
                        & (pl.col("merge_adjacent") == d.merge_adjacent))
    print("shipped defaults:", shipped.drop("rule").to_dicts())
    print("cues only:", df.filter(pl.col("rule") == "cues only")
          .select("C", "features", "objective").to_dicts()[:1])
    clf_only = df.filter((pl.col("cue_threshold") == pl.col("threshold")) & pl.col("rule").is_null())
    print("classifier only (best threshold):", clf_only.drop("rule").to_dicts()[:1])
    print(f"({time.perf_counter() - t0:.1f}s; {AgreementConfig.__name__} not used: no bootstrap)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
