"""stats.bootstrap.bootstrap_statistics: the one percentile bootstrap of non-ratio statistics
(judge agreement, sentence-level evaluation)."""

from __future__ import annotations

import numpy as np

from reasonlens.stats.bootstrap import bootstrap_statistics


def test_seeded_percentiles_and_undefined_replicates_left_out():
    x = np.array([0.0, 1.0, 2.0, 3.0, 10.0])

    def stats(i):
        v = x[i]
        return {"mean": float(v.mean()), "ratio": None if v.min() == v.max() else 1.0,
                "nan": float("nan")}

    out = bootstrap_statistics(len(x), stats, n_boot=300, seed=4, level=0.9)
    assert out == bootstrap_statistics(len(x), stats, n_boot=300, seed=4, level=0.9)
    (lo, hi), n_valid = out["mean"]
    assert n_valid == 300 and lo < x.mean() < hi
    assert out["ratio"][1] <= 300 and "nan" not in out  # never defined: no interval at all
    assert bootstrap_statistics(0, stats, n_boot=10, seed=0, level=0.9) == {}
