"""Offline behaviour detector: the judge when no endpoint is given. APPROXIMATE, no network.

A detector (:mod:`reasonlens.judge.detector`) labels every sentence of a response (the one
splitter, :func:`reasonlens.judge.sentences.split_sentences`, so indices match the LLM judge's);
a response's count per behaviour is the number of **episodes** (maximal runs of consecutive
labelled sentences; the default unit) or of labelled **sentences**.

Which detector runs:

- ``OfflineConfig(detector=PATH)``: one trained with ``reasonlens detector train`` on any
  sentence-labelled human corpus (its taxonomy, outputs and thresholds come from the file);
- otherwise the **shipped default** (taxonomy ``paper``), built at first use (~0.1 s) only from
  what reasonlens may redistribute: logistic regressions over the detector features fitted on the
  train split of our gold set (``annotations/gold.jsonl``; a sentence is positive when it overlaps
  a gold instance span), plus a hand-set prior on our cue groups (:data:`CUE_PRIOR`) and one
  threshold (:data:`DEFAULT_THRESHOLD`). The gold set marks only the sentence that *begins* an
  episode, and real traces verify over several sentences ("Let me check. 24 x 18 = 432. Yes,
  that matches."), so a detector fitted on it alone misses most of them; the prior (check /
  verification words / "yes" / doubt / conclusions for metacognitive; "maybe" / "alternatively"
  / questions / "instead" for multi-perspective) was designed from that detector's errors on the
  real dev corpus of human-labelled R1 traces, which is itself never shipped or trained on.
  ``benchmarks/offline-detector.md`` gives its measured agreement.

Output: the judge frame (:func:`reasonlens.schema.judgment_schema`) and the instances frame
(:data:`reasonlens.schema.INSTANCE_SCHEMA`): one instance per labelled sentence.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.judge import detector as D
from reasonlens.judge.corpus import CORPUS_SCHEMA
from reasonlens.judge.features import CUE_GROUPS
from reasonlens.judge.gold import DEFAULT_GOLD, load_gold
from reasonlens.judge.sentences import split_many, split_sentences
from reasonlens.judge.taxonomy import check_unit, load_taxonomy
from reasonlens.schema import INSTANCE_SCHEMA, judgment_frame

VERSION = "2.0.0"
JUDGE_NAME = f"offline-detector@{VERSION}"
TEXT_FIELDS = ("response", "reasoning")

# log-odds added per cue group that matches the sentence, and a bias (see the module docstring)
CUE_PRIOR: dict[str, dict[str, float]] = {
    "metacognitive": {"check": 2.0, "verify_word": 1.5, "yes": 1.0, "doubt": 1.5, "recap": 1.0,
                      "wait": 0.5, "monitor": 0.5, "maybe": -0.5, "question": -0.5,
                      "plan": -1.0, "_bias": -1.0},
    "multi_perspective": {"maybe": 2.0, "alternative": 2.0, "question": 1.0, "instead": 1.0,
                          "try": 1.0, "wait": 0.5, "check": -1.0, "verify_word": -1.0,
                          "recap": -1.5, "_bias": -1.0},
}
DEFAULT_THRESHOLD = 0.4


@dataclass(frozen=True)
class OfflineConfig:
    """``detector``: a detector file (None: the shipped default); ``taxonomy``: checked against
    the detector's; ``unit``: ``episodes`` or ``sentences`` (None: the taxonomy's default);
    ``text_field``: ``response`` or ``reasoning``; ``behaviours``: a subset of the detector's
    outputs (empty: all); ``gold_path``: the gold set the default detector is fitted on."""

    detector: str | None = None
    taxonomy: str | None = None
    unit: str | None = None
    text_field: str = "response"
    behaviours: tuple[str, ...] = ()
    gold_path: str | None = None

    def __post_init__(self):
        if self.text_field not in TEXT_FIELDS:
            raise ConfigError(f"text field must be one of {', '.join(TEXT_FIELDS)}, got "
                              f"{self.text_field!r}")

    def record(self) -> dict[str, Any]:
        return {**asdict(self), "version": VERSION}


def gold_corpus(records: list[dict]) -> pl.DataFrame:
    """Gold records as a sentence corpus (labels: the behaviours whose spans a sentence
    overlaps)."""
    rows = []
    for rec in records:
        for s in split_sentences(rec["response"]):
            labs = [b for b, lab in rec["labels"].items()
                    if any(s.start < i["end"] and i["start"] < s.end for i in lab["instances"])]
            rows.append({"trace_id": rec["id"], "sentence": s.index, "text": s.text,
                         "labels": sorted(labs), "paragraph_label": None, "source": "gold",
                         "source_line": None})
    return pl.DataFrame(rows, schema=CORPUS_SCHEMA)


def _gold_file(gold_path: str | None) -> Path:
    p = Path(gold_path) if gold_path else DEFAULT_GOLD
    if not p.is_file():
        raise ConfigError(f"the default detector is fitted on a gold set, and none was found at "
                          f"{p}; pass a gold file or a detector file (--detector)")
    return p


@functools.lru_cache(maxsize=4)
def _default(gold_path: str, sha: str) -> D.Detector:
    paper = load_taxonomy("paper")
    corpus = gold_corpus(load_gold(gold_path, split="train"))
    outputs = paper.keys
    Y = np.array([[int(o in ls) for o in outputs] for ls in corpus.get_column("labels")])
    cfg = D.DetectorConfig()
    sent = corpus.select(pl.col("trace_id").alias("group"), "text")
    vocab, coef, icpt = D.fit_arrays(sent, Y, cfg)
    V = len(vocab)
    for j, o in enumerate(outputs):
        for k, cue in enumerate(CUE_GROUPS):
            coef[j, V + k] += CUE_PRIOR[o].get(cue, 0.0)
        icpt[j] += CUE_PRIOR[o]["_bias"]
    return D.Detector(taxonomy=D.taxonomy_record(paper), outputs=outputs, vocab=vocab,
                      coef=coef, intercept=icpt,
                      threshold=np.full(len(outputs), DEFAULT_THRESHOLD, np.float32),
                      config={**cfg.record(), "cue_prior": CUE_PRIOR},
                      trained_on={"gold_path": gold_path, "gold_sha256": sha, "split": "train"},
                      name="default")


def load(cfg: OfflineConfig) -> D.Detector:
    """The detector ``cfg`` names (the default one is built once per process)."""
    if cfg.detector:
        det = D.load_detector(cfg.detector)
    else:
        p = _gold_file(cfg.gold_path)
        det = _default(str(p), hashlib.sha256(p.read_bytes()).hexdigest())
    if cfg.taxonomy:
        tax = load_taxonomy(cfg.taxonomy)
        if tax.name != det.taxonomy["name"]:
            raise ConfigError(f"the detector {det.name!r} labels taxonomy "
                              f"{det.taxonomy['name']!r}, not {tax.name!r}; train one with "
                              f"`reasonlens detector train ... --taxonomy {tax.name}`")
    bad = [b for b in cfg.behaviours if b not in det.outputs]
    if bad:
        raise ConfigError(f"the detector {det.name!r} has no behaviour {', '.join(bad)}; it "
                          f"labels: {', '.join(det.outputs)}")
    return det


def judge_name(det: D.Detector) -> str:
    return JUDGE_NAME if det.name == "default" else f"detector:{det.name}@{det.sha256[:12]}"


def detect_frames(traces: pl.DataFrame, config: OfflineConfig | None = None
                  ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The judge frame and the instances frame for ``traces`` (rows keep their order). Responses
    that are null or blank are ``skipped`` with null counts (missing, never 0)."""
    cfg = config or OfflineConfig()
    if cfg.text_field not in traces.columns:
        raise ConfigError(f"the traces have no {cfg.text_field!r} column")
    det = load(cfg)
    unit = check_unit(cfg.unit or det.taxonomy.get("default_unit"), None)
    outs = list(cfg.behaviours) or list(det.outputs)
    cols = [det.outputs.index(o) for o in outs]
    n = traces.height
    texts = traces.get_column(cfg.text_field)
    skipped = pl.Series((texts.is_null() | (texts.str.strip_chars() == "")).fill_null(True))
    sp = split_many(texts, paragraphs=False)
    flags = D.predict(det, sp.select(pl.col("row").alias("group"), "text"))[:, cols] \
        if sp.height else np.zeros((0, len(cols)), np.int8)
    ids = traces.get_column("id") if "id" in traces.columns else pl.Series([None] * n,
                                                                           dtype=pl.String)
    rows = pl.DataFrame({"row": np.arange(n, dtype=np.int64)})
    per_b: dict[str, dict[str, list]] = {}
    inst_parts = []
    for j, b in enumerate(outs):
        lab = sp.with_columns(flag=pl.Series(flags[:, j].astype(bool))).with_columns(
            ep_start=pl.col("flag") & ~pl.col("flag").shift(1, fill_value=False).over("row"))
        lab = lab.filter("flag").with_columns(episode=pl.col("ep_start").cum_sum().over("row"))
        agg = lab.group_by("row").agg(
            n_sent=pl.len(), n_ep=pl.col("ep_start").sum(),
            inst=pl.struct(quote="text", sentence="index",
                           chunk=pl.lit(None, pl.Int64)).struct.json_encode())
        agg = rows.join(agg, on="row", how="left", maintain_order="left")
        cnt = pl.col("n_ep" if unit == "episodes" else "n_sent").fill_null(0)
        out = agg.select(
            count=pl.when(skipped).then(None).otherwise(cnt),
            sentences=pl.when(skipped).then(None).otherwise(pl.col("n_sent").fill_null(0)),
            status=pl.when(skipped).then(pl.lit("skipped")).otherwise(pl.lit("ok")),
            instances=pl.lit("[") + pl.col("inst").list.join(",").fill_null("") + pl.lit("]"))
        per_b[b] = {k: out.get_column(k).to_list() for k in out.columns}
        inst_parts.append(lab.select(
            id=ids.gather(lab.get_column("row")), behaviour=pl.lit(b), quote="text",
            sentence="index", episode="episode", chunk=pl.lit(None, pl.Int64),
            explanation=pl.lit(None, pl.String), char_start="start", char_end="end",
            counted=pl.lit(True)).cast(INSTANCE_SCHEMA))
    frame = judgment_frame(traces, per_b, judge=judge_name(det), taxonomy=det.taxonomy["name"],
                           mode="detector", unit=unit,
                           n_chunks=(~skipped).cast(pl.Int64).to_list(),
                           n_sentences=np.bincount(sp.get_column("row").to_numpy(),
                                                   minlength=n).tolist() if n else [])
    inst = pl.concat(inst_parts) if inst_parts else pl.DataFrame(schema=INSTANCE_SCHEMA)
    return frame, inst


def detect(traces: pl.DataFrame, config: OfflineConfig | None = None) -> pl.DataFrame:
    """The judge frame only (see :func:`detect_frames`)."""
    return detect_frames(traces, config)[0]


def provenance_record(config: OfflineConfig | None = None) -> dict[str, Any]:
    """What to put in provenance for a detector run: version, config, the detector's record."""
    cfg = config or OfflineConfig()
    from reasonlens.judge.taxonomy import UNIT_NOTE

    det = load(cfg)
    return {"judge": judge_name(det), "approximate": True, "config": cfg.record(),
            "taxonomy": det.taxonomy.get("name"),
            "unit": check_unit(cfg.unit or det.taxonomy.get("default_unit"), None),
            "unit_note": UNIT_NOTE, "detector": det.record(), "trained_on": det.trained_on}
