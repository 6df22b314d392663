"""Sentence-labelled human corpora: the input of ``judge-eval`` and ``detector train``.

Two layouts are read (a directory may hold either; files are read in name order):

1. **Sentence JSONL** (``*.jsonl``, ``*.jsonl.gz``), one sentence per line::

       {"trace_id": "t1", "sentence": 1, "text": "Okay, so I need ...", "labels": ["read"],
        "paragraph_label": "general"}

   ``trace_id`` (string), ``sentence`` (1-based position in the trace), ``text``; ``labels`` (a
   list of label names, possibly empty) or ``label`` (one name, or null for none); optional
   ``paragraph_label``. Label names are matched case-insensitively to the label taxonomy's keys,
   titles or ``source_labels``.
2. **Schoenfeld release** (Li et al. 2025, ``responses_labeled/<n>.json``), one file per trace:
   ``{"Question ID": ..., "data": [{"text", "gt-class-1" (paragraph label), "gt-class-2"
   (sentence label)}]}`` in trace order. The trace id is the file's stem.

The result is one frame, one row per sentence, in trace and sentence order (:data:`CORPUS_SCHEMA`).
Bad input (broken JSON, a missing or mistyped field, an unknown label, a repeated
(trace_id, sentence)) raises :class:`~reasonlens.errors.InputError` naming file, line and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import InputError
from reasonlens.judge.taxonomy import Taxonomy

CORPUS_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String, "sentence": pl.Int64, "text": pl.String,
    "labels": pl.List(pl.String), "paragraph_label": pl.String, "source": pl.String,
    "source_line": pl.Int64,
}
SCHOENFELD_LAYOUT = "schoenfeld"
JSONL_LAYOUT = "sentence-jsonl"


def _files(paths: list[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted((f for f in p.iterdir() if f.is_file() and f.name.endswith(
                (".json", ".jsonl", ".jsonl.gz"))), key=_natural)
            if not found:
                raise InputError("no .json/.jsonl files in this directory", path=str(p))
            out.extend(found)
        elif p.is_file():
            out.append(p)
        else:
            raise InputError("no such file or directory", path=str(p))
    return out


def _natural(p: Path) -> tuple:
    stem = p.name.split(".")[0]
    return (0, int(stem), p.name) if stem.isdigit() else (1, 0, p.name)


def _labels_of(raw: Any, tax: Taxonomy, path: str, line: int, field: str) -> list[str]:
    names = [] if raw is None else [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not all(isinstance(x, str) for x in names):
        raise InputError("expected a label name or a list of label names", path=path, line=line,
                         field=field)
    keys = []
    for n in names:
        if not n.strip():
            continue
        k = tax.key_of(n)
        if k is None:
            raise InputError(f"unknown label {n!r} for taxonomy {tax.name!r} (labels: "
                             f"{', '.join(tax.keys)})", path=path, line=line, field=field)
        keys.append(k)
    return sorted(set(keys))


def _schoenfeld_row(path: Path, i: int, s: Any, tax: Taxonomy) -> dict:
    where = f"data[{i - 1}]"
    if not isinstance(s, dict) or not isinstance(s.get("text"), str):
        raise InputError("expected an object with a string 'text'", path=str(path), field=where)
    lab = s.get("gt-class-2")
    if not isinstance(lab, str):
        raise InputError("expected the sentence label (a string)", path=str(path),
                         field=f"{where}.gt-class-2")
    para = s.get("gt-class-1")
    return {"trace_id": path.name.split(".")[0], "sentence": i, "text": s["text"],
            "labels": _labels_of(lab, tax, str(path), None, f"{where}.gt-class-2"),
            "paragraph_label": para if isinstance(para, str) else None,
            "source": str(path), "source_line": None}


def _jsonl_row(p: str, line: int, rec: dict, tax: Taxonomy) -> dict:
    tid, idx, text = rec.get("trace_id"), rec.get("sentence"), rec.get("text")
    if not isinstance(tid, str | int) or isinstance(tid, bool) or str(tid) == "":
        raise InputError("required (a string)", path=p, line=line, field="trace_id")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 1:
        raise InputError(f"expected a 1-based sentence position, got {idx!r}", path=p,
                         line=line, field="sentence")
    if not isinstance(text, str):
        raise InputError("required (a string)", path=p, line=line, field="text")
    field = "labels" if "labels" in rec else "label"
    para = rec.get("paragraph_label")
    if para is not None and not isinstance(para, str):
        raise InputError("expected a string or null", path=p, line=line, field="paragraph_label")
    return {"trace_id": str(tid), "sentence": idx, "text": text,
            "labels": _labels_of(rec.get(field), tax, p, line, field),
            "paragraph_label": para, "source": p, "source_line": line}


def _read_file(path: Path, tax: Taxonomy) -> list[dict]:
    """Rows of one file, through the project's one JSON/JSONL reader."""
    from reasonlens.records import iter_json_records

    rows: list[dict] = []
    p = str(path)
    for line, rec, _ in iter_json_records(path):
        if isinstance(rec, Exception):
            raise rec
        if isinstance(rec, dict) and isinstance(rec.get("data"), list):  # one-line release file
            rows.extend(_schoenfeld_row(path, i, s, tax) for i, s in enumerate(rec["data"], 1))
        elif isinstance(rec, dict) and "gt-class-2" in rec:  # a sentence of a release file
            rows.append(_schoenfeld_row(path, line, rec, tax))
        elif isinstance(rec, dict) and "trace_id" in rec:
            rows.append(_jsonl_row(p, line, rec, tax))
        else:
            raise InputError("expected a sentence record {\"trace_id\", \"sentence\", "
                             "\"text\", \"labels\"} or the Schoenfeld release layout "
                             "{\"Question ID\": ..., \"data\": [...]}", path=p, line=line)
    return rows


def detect_layout(path: Path) -> str:
    return JSONL_LAYOUT if path.name.endswith((".jsonl", ".jsonl.gz")) else SCHOENFELD_LAYOUT


def load_corpus(paths: list[str | Path] | str | Path, taxonomy: Taxonomy) -> pl.DataFrame:
    """Read sentence-labelled corpora (see the module docstring) into one frame."""
    if isinstance(paths, str | Path):
        paths = [paths]
    rows: list[dict] = []
    for f in _files(list(paths)):
        rows.extend(_read_file(f, taxonomy))
    seen: dict[tuple[str, int], tuple[str, Any]] = {}
    for r in rows:
        k = (r["trace_id"], r["sentence"])
        if k in seen:
            raise InputError(f"sentence {k[1]} of trace {k[0]!r} appears twice (first in "
                             f"{seen[k][0]}" + (f" line {seen[k][1]}" if seen[k][1] else "")
                             + ")", path=r["source"], line=r["source_line"], field="sentence")
        seen[k] = (r["source"], r["source_line"])
    if not rows:
        raise InputError("the corpus holds no sentence", path=str(paths[0]))
    df = pl.DataFrame(rows, schema=CORPUS_SCHEMA)
    order = {t: i for i, t in enumerate(dict.fromkeys(df.get_column("trace_id").to_list()))}
    return (df.with_columns(pl.col("trace_id").replace_strict(order, return_dtype=pl.Int64)
                            .alias("_o"))
            .sort("_o", "sentence").drop("_o"))


def label_matrix(corpus: pl.DataFrame, taxonomy: Taxonomy, behaviours: tuple[str, ...]
                 ) -> dict[str, list[int]]:
    """Per behaviour, 0/1 per corpus row. A behaviour that is a label of ``taxonomy`` is itself;
    a paper behaviour mapped by ``taxonomy`` is the union of its labels."""
    labels = corpus.get_column("labels").to_list()
    out: dict[str, list[int]] = {}
    for b in behaviours:
        members = set(taxonomy.mapped.get(b, ())) | ({b} if b in taxonomy.keys else set())
        if not members:
            raise InputError(f"the labels' taxonomy {taxonomy.name!r} has no label or mapping "
                             f"for behaviour {b!r}")
        out[b] = [int(bool(members.intersection(ls))) for ls in labels]
    return out


def corpus_traces(corpus: pl.DataFrame, *, model: str = "corpus") -> tuple[pl.DataFrame,
                                                                           pl.DataFrame]:
    """A trace frame (one response per corpus trace: its sentences joined by newlines, so every
    corpus sentence boundary is a sentence boundary of the judge's splitter) and, per corpus row,
    its character span in that response (``trace_id, sentence, start, end``)."""
    from reasonlens.schema import conform, TRACE_SCHEMA

    traces, spans = [], []
    for (tid,), g in corpus.group_by("trace_id", maintain_order=True):
        pos, parts = 0, []
        for idx, text in zip(g.get_column("sentence").to_list(), g.get_column("text").to_list()):
            spans.append({"trace_id": tid, "sentence": idx, "start": pos, "end": pos + len(text)})
            parts.append(text)
            pos += len(text) + 1
        traces.append({"id": str(tid), "model": model, "benchmark": "corpus",
                       "problem_id": str(tid), "sample": 0, "response": "\n".join(parts)})
    tr = conform(pl.DataFrame(traces), TRACE_SCHEMA)
    sp = pl.DataFrame(spans, schema={"trace_id": pl.String, "sentence": pl.Int64,
                                     "start": pl.Int64, "end": pl.Int64})
    return tr, sp
