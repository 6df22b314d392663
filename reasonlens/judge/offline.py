"""Offline behaviour detector: the embedded default when no judge endpoint is given. APPROXIMATE.

It needs no API and no network, and it is meant to be read:

1. **Sentences.** Each response is split with the judge's segmenter
   (:mod:`reasonlens.judge.sentences`), so sentence indices match the LLM judge's.
2. **Cue patterns.** Regular expressions per behaviour (:data:`CUES`), e.g. "alternatively",
   "another way", "let me try ... instead" for multi_perspective; "wait" (not "wait, so"),
   "let me check/verify/re-read", "did I", "that can't be right", "seems plausible" for
   metacognitive.
3. **Classifier.** Per behaviour, a TF-IDF (word 1-2-grams, optionally + character 2-5-grams;
   numbers folded to 0) logistic regression over sentences, trained at first use (well under a
   second) on the **train split** of the gold set only. A training sentence is positive when it
   overlaps a gold instance span of that behaviour.
4. **Rule.** A sentence is an instance when ``p >= threshold`` (0.8) or when a cue matches and
   ``p >= cue_threshold`` (0.05), ``p`` being the classifier's probability: the cues decide,
   the classifier vetoes very unlikely cue hits and adds very likely cue-less sentences. The
   settings were chosen by cross-validation over the train split (grouped by response; see
   ``scripts/offline_detector_cv.py``), never on the test split.
5. **Count.** The number of instance sentences; with ``merge_adjacent`` consecutive instance
   sentences count as one episode (off by default: cross-validation preferred it off).

Agreement with the human labels on the gold test split: ``docs/judge-validation.md``
(``reasonlens judge-eval offline``). Output: the judge frame shared with the LLM judge:
id, model, benchmark, problem_id, sample,
``<b>_count`` (Int64; null only for a skipped response), ``<b>_status`` ("ok" | "skipped"),
``<b>_instances`` (JSON list of {"quote", "sentence", "chunk": null}), ``judge``
("offline-detector@VERSION"), ``n_chunks`` (1, or 0 when skipped).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.judge.gold import DEFAULT_GOLD, load_gold
from reasonlens.judge.sentences import split_sentences
from reasonlens.schema import BEHAVIOURS, judgment_frame

VERSION = "1.0.0"
JUDGE_NAME = f"offline-detector@{VERSION}"

_I = re.IGNORECASE
CUES: dict[str, tuple[tuple[str, re.Pattern], ...]] = {
    "multi_perspective": tuple((name, re.compile(rx, _I)) for name, rx in (
        ("alternatively", r"\balternative(?:ly)?\b"),
        ("another way", r"\b(?:another|other|different|second|cleaner|smarter|simpler|easier|"
                        r"better|faster) (?:way|approach|method|perspective|angle|route|strategy)\b"),
        ("could also", r"\b(?:we|i|you) (?:could|can|might) also\b"),
        ("let me try instead", r"\b(?:let me|let's|lets|i'll|i will|i could) (?:just )?try "
                               r"(?!\d|[a-z]\s*=|some |small |a few )"),
        ("instead", r"\binstead\b(?! of)"),
        ("think differently", r"\b(?:think|look|see) (?:about )?(?:it |this |this problem )?"
                              r"(?:geometrically|algebraically|differently|another way)\b"),
        ("verify by method", r"\b(?:verify|check|confirm)\w* (?:this |it |that )?(?:with|using|by) "
                             r"(?:python|code|calculus|a different|another|the formula)"),
        ("what if / or does", r"\b(?:what if|or does|or could it mean|does .{0,40} mean)\b"),
        ("redo it", r"\bredo (?:it|this|the)\b"),
    )),
    "metacognitive": tuple((name, re.compile(rx, _I)) for name, rx in (
        ("wait", r"\b(?:wait|hold on)\b(?!,? so\b)"),
        ("let me check", r"\b(?:let me|let's|lets|i should|i need to|i'll|to|just to) (?:also )?"
                         r"(?:quickly |just )?(?:double[- ]?check|check|verify|confirm|re-?check|"
                         r"re-?read|sanity[- ]check|make sure|be sure|be safe)\b"),
        ("check:", r"^\W*(?:check|verify|verification|sanity check)\b\s*[:,]"),
        ("re-read / double-check", r"\b(?:double[- ]check|sanity[- ]check|re-?read|re-?examine|"
                                   r"reconsider|re-?evaluate|recheck)\w*"),
        ("did I", r"\b(?:did i|am i (?:sure|right|missing)|have i|should i worry)\b"),
        ("unsure", r"\b(?:not sure|unsure|i think i)\b"),
        ("that can't be right", r"\b(?:that|this|it)(?:'s| is)? (?:can'?t|cannot|doesn'?t|does not|"
                                r"isn'?t|is not|not) (?:be )?(?:right|correct|possible|make sense)"),
        ("plausible", r"\b(?:plausible|makes sense|seems (?:reasonable|right|off|wrong|too)|"
                      r"sounds right|too (?:easy|small|large|big))\b"),
        ("agrees", r"\b(?:matches|agrees?|consistent|same (?:answer|result))\b"),
        ("mistake", r"\b(?:miscount|mistake|slipped|messed up|forgot|overcomplicat)\w*"),
        ("progress", r"\b(?:getting (?:messy|complicated)|take a while|going in circles|"
                     r"annoying)\b"),
        ("question asks", r"\b(?:question|problem) (?:asks|says|wants)\b"),
    )),
}

# one alternation per behaviour: "does any cue match?" in a single regex search
_ANY_CUE = {b: re.compile("|".join(f"(?:{rx.pattern})" for _, rx in cues), _I)
            for b, cues in CUES.items()}
_DIGITS = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True)
class OfflineConfig:
    """How the offline detector decides (defaults chosen by cross-validation on the train split).

    ``gold_path``: the gold JSONL whose train split trains the classifier (default: the shipped
    ``annotations/gold.jsonl``). ``threshold``/``cue_threshold``: see the module docstring.
    ``merge_adjacent``: count consecutive instance sentences as one episode.
    """

    gold_path: str | None = None
    threshold: float = 0.8
    cue_threshold: float = 0.05
    merge_adjacent: bool = False
    C: float = 1.0
    features: str = "word"

    def __post_init__(self):
        for name in ("threshold", "cue_threshold"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"offline detector {name} must lie in [0, 1], got {v}")
        if self.C <= 0:
            raise ConfigError(f"offline detector C must be > 0, got {self.C}")
        if self.features not in FEATURE_SETS:
            raise ConfigError(f"offline detector features must be one of "
                              f"{', '.join(FEATURE_SETS)}, got {self.features!r}")

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "version": VERSION}


def normalise(sentence: str) -> str:
    """What the classifier sees: lower-cased, numbers folded to 0, whitespace collapsed."""
    return " ".join(_DIGITS.sub("0", sentence.lower()).split())


def cue_hits(sentence: str, behaviour: str) -> list[str]:
    """Names of the cue patterns of ``behaviour`` that match ``sentence``."""
    return [name for name, rx in CUES[behaviour] if rx.search(sentence)]


def sentence_labels(record: dict) -> tuple[list[str], dict[str, list[int]]]:
    """Sentences of a gold record and, per behaviour, a 0/1 label per sentence (1 = the sentence
    overlaps a gold instance span)."""
    text = record["response"]
    sents = split_sentences(text)
    labels: dict[str, list[int]] = {}
    for b in BEHAVIOURS:
        spans = [(i["start"], i["end"]) for i in record["labels"][b]["instances"]]
        labels[b] = [int(any(s.start < e and a < s.end for a, e in spans)) for s in sents]
    return [s.text for s in sents], labels


FEATURE_SETS = ("word", "word+char")


def _features(kind: str):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    parts = [("word", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                      token_pattern=r"(?u)\b\w+\b|[?!:]"))]
    if kind == "word+char":
        parts.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5),
                                              sublinear_tf=True, min_df=2)))
    return FeatureUnion(parts)


def fit_models(records: list[dict], C: float = 1.0, features: str = "word") -> dict[str, Any]:
    """The fitted sentence features (``"features"``) and one logistic regression per behaviour,
    trained on ``records`` (all of them)."""
    from sklearn.linear_model import LogisticRegression

    texts: list[str] = []
    ys: dict[str, list[int]] = {b: [] for b in BEHAVIOURS}
    for rec in records:
        sents, labels = sentence_labels(rec)
        texts.extend(normalise(s) for s in sents)
        for b in BEHAVIOURS:
            ys[b].extend(labels[b])
    for b in BEHAVIOURS:
        if len(set(ys[b])) < 2:
            raise ConfigError(f"cannot train the offline detector: the training records have no "
                              f"{'positive' if 1 not in ys[b] else 'negative'} sentence for {b}")
    vec = _features(features).fit(texts)
    X = vec.transform(texts)
    models: dict[str, Any] = {"features": vec}
    for b in BEHAVIOURS:
        models[b] = LogisticRegression(C=C, class_weight="balanced", solver="liblinear",
                                       random_state=0, max_iter=1000).fit(X, ys[b])
    return models


def _gold_file(cfg: OfflineConfig) -> Path:
    p = Path(cfg.gold_path) if cfg.gold_path else DEFAULT_GOLD
    if not p.is_file():
        raise ConfigError(f"the offline detector trains on a gold set, and none was found at {p}; "
                          "run from a reasonlens checkout or pass a gold file "
                          "(OfflineConfig(gold_path=...))")
    return p


@functools.lru_cache(maxsize=4)
def _trained(gold_path: str, sha: str, C: float, features: str) -> dict[str, Any]:
    return fit_models(load_gold(gold_path, split="train"), C=C, features=features)


def trained_models(cfg: OfflineConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """The classifiers for ``cfg`` (trained once per process) and a record of what trained them."""
    p = _gold_file(cfg)
    sha = hashlib.sha256(p.read_bytes()).hexdigest()
    models = _trained(str(p), sha, cfg.C, cfg.features)
    return models, {"gold_path": str(p), "gold_sha256": sha, "split": "train"}


def score_sentences(sentences: list[str], models: dict[str, Any]) -> dict[str, list[float]]:
    """Classifier probability per sentence and behaviour."""
    if not sentences:
        return {b: [] for b in BEHAVIOURS}
    X = models["features"].transform([normalise(s) for s in sentences])
    return {b: models[b].predict_proba(X)[:, 1].tolist() for b in BEHAVIOURS}


def decide(sentence: str, p: float, behaviour: str, cfg: OfflineConfig) -> bool:
    """The combination rule: a confident classifier, or a cue with a less confident one."""
    return p >= cfg.threshold or (p >= cfg.cue_threshold
                                  and _ANY_CUE[behaviour].search(sentence) is not None)


def instances_for(sentences, probs: list[float], behaviour: str, cfg: OfflineConfig
                  ) -> list[dict[str, Any]]:
    """Instances (quote, 1-based sentence index, chunk None) of one behaviour in one response."""
    out: list[dict[str, Any]] = []
    prev_pos = -2
    for k, (s, p) in enumerate(zip(sentences, probs)):
        if not decide(s.text, p, behaviour, cfg):
            continue
        if cfg.merge_adjacent and k == prev_pos + 1:
            prev_pos = k
            continue
        out.append({"quote": s.text, "sentence": s.index, "chunk": None})
        prev_pos = k
    return out


def detect(traces: pl.DataFrame, config: OfflineConfig | None = None) -> pl.DataFrame:
    """Run the offline detector over a trace frame (needs at least ``response``).

    Returns the judge frame (see the module docstring); rows keep the order of ``traces``.
    Responses that are null or blank are ``skipped`` with null counts (missing, never 0).
    """
    cfg = config or OfflineConfig()
    if "response" not in traces.columns:
        raise ConfigError("the offline detector needs a 'response' column")
    models, _ = trained_models(cfg)
    per_b: dict[str, dict[str, list]] = {b: {"count": [], "status": [], "instances": []}
                                         for b in BEHAVIOURS}
    n_chunks: list[int] = []
    texts = traces.get_column("response").to_list()
    split = [split_sentences(t) if t is not None and t.strip() else None for t in texts]
    flat = [s.text for sents in split if sents for s in sents]
    probs = score_sentences(flat, models)  # one batch: much faster than per response
    pos = 0
    for sents in split:
        if sents is None:
            for b in BEHAVIOURS:
                per_b[b]["count"].append(None)
                per_b[b]["status"].append("skipped")
                per_b[b]["instances"].append("[]")
            n_chunks.append(0)
            continue
        for b in BEHAVIOURS:
            inst = instances_for(sents, probs[b][pos:pos + len(sents)], b, cfg)
            per_b[b]["count"].append(len(inst))
            per_b[b]["status"].append("ok")
            per_b[b]["instances"].append(orjson.dumps(inst).decode())
        pos += len(sents)
        n_chunks.append(1)
    return judgment_frame(traces, per_b, judge=JUDGE_NAME, n_chunks=n_chunks)


def provenance_record(config: OfflineConfig | None = None) -> dict[str, Any]:
    """What to put in provenance for a detector run: version, config, training data."""
    cfg = config or OfflineConfig()
    p = _gold_file(cfg)
    return {"judge": JUDGE_NAME, "approximate": True, "config": cfg.record(),
            "trained_on": {"gold_path": str(p),
                           "gold_sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                           "split": "train"}}
