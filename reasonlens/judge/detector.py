"""The trainable offline detector: per-sentence logistic regressions over sparse features
(:mod:`reasonlens.judge.features`: words, our cue patterns, the neighbouring sentences, the
position in the trace), one per output label, with a decision threshold each.

- :func:`train` fits a detector on a sentence-labelled corpus (:mod:`reasonlens.judge.corpus`)
  and measures it by **grouped cross-validation by trace**: in each outer fold the vocabulary and
  the model are fitted on the other traces, and the fold's threshold is chosen by an inner grouped
  cross-validation on those training traces only (never on the fold it is scored on). The final
  model is fitted on every trace with the threshold that maximised F1 over the pooled out-of-fold
  probabilities.
- :func:`save` / :func:`load_detector` write and read one ``.npz`` file (numpy arrays and a JSON
  header; no pickle, so loading a detector file runs no code). The CV report is saved beside it
  (``<file>.cv.json``).
- :func:`predict` gives, per sentence, a 0/1 flag per output.

Outputs: the labels of the taxonomy and, when it maps onto the paper's behaviours, the mapped
behaviours (``metacognitive``, ``multi_perspective``), each trained directly on the union of its
labels.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reasonlens.errors import ConfigError, InputError
from reasonlens.judge.corpus import label_matrix
from reasonlens.judge.features import (CUE_GROUPS, build_vocab, feature_names, featurise,
                                       linear_scores)
from reasonlens.judge.taxonomy import Taxonomy

FORMAT = "reasonlens-detector/1"


@dataclass(frozen=True)
class DetectorConfig:
    """How a detector is trained. ``C``: inverse L2 strength of the logistic regressions;
    ``context_weight``: weight of the neighbouring sentences' word features; ``min_df``: a word or
    bigram enters the vocabulary when it occurs in at least this many training sentences;
    ``folds``: outer grouped-CV folds (by trace); ``seed``: fold assignment."""

    C: float = 0.1
    context_weight: float = 0.5
    min_df: int = 2
    max_terms: int = 20000
    folds: int = 5
    seed: int = 0
    thresholds: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(2, 19))

    def __post_init__(self):
        if self.C <= 0 or self.context_weight < 0 or self.min_df < 1 or self.folds < 2:
            raise ConfigError("detector settings: need C > 0, context_weight >= 0, min_df >= 1, "
                              "folds >= 2")

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Detector:
    """A fitted detector: vocabulary, one weight vector, intercept and threshold per output."""

    taxonomy: dict[str, str]
    outputs: tuple[str, ...]
    vocab: list[str]
    coef: np.ndarray            # (n_outputs, n_features) float32
    intercept: np.ndarray       # (n_outputs,)
    threshold: np.ndarray       # (n_outputs,)
    config: dict[str, Any]
    trained_on: dict[str, Any] = field(default_factory=dict)
    name: str = "detector"

    @property
    def sha256(self) -> str:
        h = hashlib.sha256()
        for a in (self.coef, self.intercept, self.threshold):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update("\n".join(self.vocab).encode())
        return h.hexdigest()

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "format": FORMAT, "taxonomy": self.taxonomy,
                "outputs": list(self.outputs), "n_vocab": len(self.vocab),
                "thresholds": {o: round(float(t), 4) for o, t in zip(self.outputs, self.threshold)},
                "config": self.config, "trained_on": self.trained_on, "sha256": self.sha256}


def _weights(vocab: list[str], context_weight: float) -> np.ndarray:
    """Column scaling: context word blocks get ``context_weight``."""
    V, C = len(vocab), len(CUE_GROUPS)
    w = np.ones(len(feature_names(vocab)), np.float32)
    w[V + 3 * C:3 * V + 3 * C] = context_weight
    return w


def _design(sent: pl.DataFrame, vocab: list[str], context_weight: float):
    from scipy import sparse

    X = featurise(sent, vocab)
    return X @ sparse.diags(_weights(vocab, context_weight))


def _fit_one(X, y: np.ndarray, C: float):
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return None  # constant label: predict the constant
    return LogisticRegression(C=C, class_weight="balanced", solver="liblinear",
                              max_iter=1000).fit(X, y)


def _proba(model, X, y_const: int) -> np.ndarray:
    if model is None:
        return np.full(X.shape[0], float(y_const))
    return model.predict_proba(X)[:, 1]


def _f1(y: np.ndarray, p: np.ndarray) -> float:
    tp = float((y & p).sum())
    d = float(y.sum() + p.sum())
    return 2 * tp / d if d else 0.0


def best_threshold(y: np.ndarray, prob: np.ndarray, grid: tuple[float, ...]) -> float:
    """The grid threshold that maximises F1 (the lowest of ties)."""
    yb = y.astype(bool)
    scores = [(_f1(yb, prob >= t), -t) for t in grid]
    return -max(scores)[1]


def _folds(groups: np.ndarray, k: int, seed: int) -> list[np.ndarray]:
    ug = np.array(sorted(set(groups.tolist())))
    perm = np.random.default_rng(seed).permutation(ug)
    k = min(k, len(ug))
    return [np.isin(groups, perm[i::k]) for i in range(k)]


def _oof(sent: pl.DataFrame, Y: np.ndarray, groups: np.ndarray, cfg: DetectorConfig,
         k: int, seed: int) -> np.ndarray:
    """Out-of-fold probabilities (n_sentences, n_outputs) by grouped CV."""
    P = np.zeros(Y.shape, float)
    for te in _folds(groups, k, seed):
        tr = ~te
        vocab = build_vocab(sent.filter(pl.Series(tr)).get_column("text"), cfg.min_df,
                            cfg.max_terms)
        X = _design(sent, vocab, cfg.context_weight).tocsr()
        for j in range(Y.shape[1]):
            m = _fit_one(X[tr], Y[tr, j], cfg.C)
            P[te, j] = _proba(m, X[te], int(Y[tr, j].max()))
    return P


def _sentences(corpus: pl.DataFrame) -> pl.DataFrame:
    return corpus.select(pl.col("trace_id").alias("group"), "text")


def outputs_for(taxonomy: Taxonomy, label_taxonomy: Taxonomy) -> tuple[str, ...]:
    """What a detector of ``taxonomy`` trained on labels of ``label_taxonomy`` predicts."""
    if taxonomy.name == label_taxonomy.name:
        return taxonomy.outputs()
    out = tuple(b for b in taxonomy.keys if b in label_taxonomy.mapped or
                b in label_taxonomy.keys)
    if not out:
        raise ConfigError(f"the labels' taxonomy {label_taxonomy.name!r} has no label or mapping "
                          f"for any label of taxonomy {taxonomy.name!r}")
    return out


def train(corpus: pl.DataFrame, label_taxonomy: Taxonomy, taxonomy: Taxonomy | None = None,
          config: DetectorConfig | None = None, *, progress=None
          ) -> tuple[Detector, dict[str, Any]]:
    """Fit a detector on ``corpus`` (labels of ``label_taxonomy``) for ``taxonomy`` (default: the
    labels' own) and cross-validate it. Returns the detector and the CV record: per output the
    out-of-fold sentence probabilities' flags (``oof``) for :mod:`reasonlens.judge.sentence_eval`
    and the per-fold thresholds."""
    cfg = config or DetectorConfig()
    tax = taxonomy or label_taxonomy
    outputs = outputs_for(tax, label_taxonomy)
    lab = label_matrix(corpus, label_taxonomy, outputs)
    Y = np.array([lab[o] for o in outputs], dtype=np.int64).T
    groups = corpus.get_column("trace_id").to_numpy()
    n_traces = len(set(groups.tolist()))
    if n_traces < 3:
        raise InputError(f"detector training needs at least 3 labelled traces for grouped "
                         f"cross-validation, got {n_traces}")
    sent = _sentences(corpus)
    flags = np.zeros(Y.shape, np.int64)
    fold_thr: list[dict[str, float]] = []
    P_all = np.zeros(Y.shape, float)
    for fi, te in enumerate(_folds(groups, cfg.folds, cfg.seed)):
        tr = ~te
        sub = sent.filter(pl.Series(tr))
        inner = _oof(sub, Y[tr], groups[tr], cfg, cfg.folds - 1, cfg.seed + 1 + fi)
        thr = [best_threshold(Y[tr, j], inner[:, j], cfg.thresholds) for j in range(len(outputs))]
        vocab = build_vocab(sub.get_column("text"), cfg.min_df, cfg.max_terms)
        X = _design(sent, vocab, cfg.context_weight).tocsr()
        for j in range(len(outputs)):
            m = _fit_one(X[tr], Y[tr, j], cfg.C)
            P_all[te, j] = _proba(m, X[te], int(Y[tr, j].max()))
            flags[te, j] = P_all[te, j] >= thr[j]
        fold_thr.append(dict(zip(outputs, thr)))
        if progress is not None:
            progress(1)
    final_thr = np.array([best_threshold(Y[:, j], P_all[:, j], cfg.thresholds)
                          for j in range(len(outputs))])
    vocab, coef, icpt = fit_arrays(sent, Y, cfg)
    det = Detector(taxonomy=taxonomy_record(tax),
                   outputs=outputs, vocab=vocab, coef=coef, intercept=icpt,
                   threshold=final_thr.astype(np.float32), config=cfg.record(),
                   trained_on={"n_traces": n_traces, "n_sentences": corpus.height,
                               "label_taxonomy": label_taxonomy.record()})
    cv = {"method": f"grouped {min(cfg.folds, n_traces)}-fold CV by trace; each fold's "
                    "threshold chosen by an inner grouped CV on its training traces",
          "fold_thresholds": fold_thr, "flags": flags, "outputs": outputs}
    return det, cv


def fit_arrays(sent: pl.DataFrame, Y: np.ndarray, cfg: DetectorConfig
               ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Vocabulary, weights (n_outputs, n_features; column weights folded in) and intercepts of
    logistic regressions fitted on every row of ``sent`` (``group``, ``text``) for labels ``Y``."""
    vocab = build_vocab(sent.get_column("text"), cfg.min_df, cfg.max_terms)
    X = _design(sent, vocab, cfg.context_weight).tocsr()
    coef = np.zeros((Y.shape[1], X.shape[1]), np.float32)
    icpt = np.zeros(Y.shape[1], np.float32)
    w = _weights(vocab, cfg.context_weight)
    for j in range(Y.shape[1]):
        m = _fit_one(X, Y[:, j], cfg.C)
        if m is None:
            icpt[j] = 20.0 if Y[0, j] else -20.0
        else:
            coef[j] = m.coef_[0] * w  # predict uses the raw (unweighted) features
            icpt[j] = m.intercept_[0]
    return vocab, coef, icpt


def taxonomy_record(tax: Taxonomy) -> dict[str, str]:
    return {"name": tax.name, "version": tax.version, "sha256": tax.sha256,
            "default_unit": tax.default_unit}


def predict_proba(det: Detector, sentences: pl.DataFrame) -> np.ndarray:
    """Probabilities (n_sentences, n_outputs) for a frame with ``group`` and ``text``."""
    parts = _parts(sentences.get_column("group").to_numpy()) if sentences.height else []
    if len(parts) > 1:  # polars string work on one column runs on one core: split it
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(len(parts)) as ex:
            zs = list(ex.map(lambda ab: linear_scores(sentences.slice(ab[0], ab[1] - ab[0]),
                                                      det.vocab, det.coef, det.intercept),
                             parts))
        z = np.concatenate(zs)
    else:
        z = linear_scores(sentences, det.vocab, det.coef, det.intercept)
    return 1.0 / (1.0 + np.exp(-z))


def _parts(group: np.ndarray, min_rows: int = 20000) -> list[tuple[int, int]]:
    """Contiguous (start, end) row ranges, one per CPU, cut at trace boundaries (a sentence's
    context never crosses a trace, so the scores are the same)."""
    import os

    k = min(os.cpu_count() or 1, len(group) // min_rows)
    if k < 2:
        return [(0, len(group))]
    cuts = [0]
    for q in range(1, k):
        i = len(group) * q // k
        while 0 < i < len(group) and group[i] == group[i - 1]:
            i += 1
        if cuts[-1] < i < len(group):
            cuts.append(i)
    cuts.append(len(group))
    return list(zip(cuts[:-1], cuts[1:]))


def predict(det: Detector, sentences: pl.DataFrame) -> np.ndarray:
    """0/1 flags (n_sentences, n_outputs)."""
    return (predict_proba(det, sentences) >= det.threshold).astype(np.int8)


def save(det: Detector, path: str | Path, cv_report: dict[str, Any] | None = None) -> Path:
    """Write the detector (``.npz``) and, given a report, ``<path>.cv.json`` beside it."""
    from reasonlens.io import atomic_write_bytes, write_json

    p = Path(path)
    header = {"format": FORMAT, "taxonomy": det.taxonomy, "outputs": list(det.outputs),
              "config": det.config, "trained_on": det.trained_on, "name": det.name}
    from scipy import sparse

    buf = io.BytesIO()
    cs = sparse.csr_matrix(det.coef)
    np.savez_compressed(buf, header=np.frombuffer(json.dumps(header).encode(), np.uint8),
                        vocab=np.frombuffer("\n".join(det.vocab).encode(), np.uint8),
                        coef_data=cs.data, coef_indices=cs.indices, coef_indptr=cs.indptr,
                        n_features=np.array([det.coef.shape[1]]), intercept=det.intercept,
                        threshold=det.threshold)
    atomic_write_bytes(p, buf.getvalue())
    if cv_report is not None:
        write_json(cv_path(p), cv_report)
    return p


def cv_path(path: str | Path) -> Path:
    p = Path(path)
    return p.with_name(p.name + ".cv.json")


def load_detector(path: str | Path) -> Detector:
    """Read a detector file written by :func:`save` (no pickle)."""
    from scipy import sparse

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"detector file not found: {p}")
    with p.open("rb") as fh:
        if fh.read(4) != b"PK\x03\x04":  # numpy would call any other file "pickled data"
            raise ConfigError(f"{p}: not a reasonlens detector file (not an .npz archive; "
                              "write one with `reasonlens detector train`)")
    try:
        with np.load(p, allow_pickle=False) as z:
            header = json.loads(bytes(z["header"]).decode())
            vocab_b = bytes(z["vocab"]).decode()
            n_out = len(header["outputs"])
            coef = sparse.csr_matrix((z["coef_data"], z["coef_indices"], z["coef_indptr"]),
                                     shape=(n_out, int(z["n_features"][0]))).toarray()
            icpt, thr = z["intercept"], z["threshold"]
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{p}: not a reasonlens detector file ({exc})") from exc
    if header.get("format") != FORMAT:
        raise ConfigError(f"{p}: unsupported detector format {header.get('format')!r} "
                          f"(expected {FORMAT})")
    vocab = vocab_b.split("\n") if vocab_b else []
    if coef.shape[1] != len(feature_names(vocab)):
        raise ConfigError(f"{p}: the detector's features do not match this reasonlens version")
    return Detector(taxonomy=header["taxonomy"], outputs=tuple(header["outputs"]), vocab=vocab,
                    coef=coef.astype(np.float32), intercept=icpt, threshold=thr,
                    config=header["config"], trained_on=header.get("trained_on", {}),
                    name=header.get("name", p.stem))
