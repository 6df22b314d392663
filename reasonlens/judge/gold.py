"""The human-labelled gold set: loading, validation, and the marked-up source it is built from.

``annotations/gold.jsonl`` holds one JSON object per response (schema: ``annotations/schema.json``):
``id``, ``style`` (base | distilled | rl), ``split`` (train | test), ``problem``, ``response``,
``labels`` = {behaviour: {"count": int, "instances": [{"start", "end", "quote"}]}}, ``annotator``,
``notes``, ``guidelines_version``. Spans are character offsets into ``response`` (end exclusive)
and ``response[start:end] == quote``.

The maintainers label in ``annotations/source/<style>.txt``: plain text records whose instance spans
are marked inline as ``⟦mp|...⟧`` (multi_perspective), ``⟦mc|...⟧`` (metacognitive) or
``⟦mp+mc|...⟧`` (both); marks may nest. :func:`build_gold` strips the marks, computes the offsets
and keeps the split of every id already in the gold file (new ids are assigned by a seeded hash so
each style keeps about one third in test).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens.errors import InputError
from reasonlens.records import iter_json_records
from reasonlens.registry import ANNOTATIONS, DEFAULT_GOLD
from reasonlens.schema import BEHAVIOURS

STYLES = ("base", "distilled", "rl")
SPLITS = ("train", "test")
TAGS = {"mp": "multi_perspective", "mc": "metacognitive"}
OPEN, SEP, CLOSE = "\u27e6", "|", "\u27e7"  # ⟦tag|text⟧

SOURCE_DIR = ANNOTATIONS / "source"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    quote: str


# ---------------------------------------------------------------- loading and validation


def _check_record(rec: Any, path: str, line: int) -> dict:
    def bad(msg: str, field: str | None = None) -> InputError:
        return InputError(msg, path=path, line=line, field=field)

    if not isinstance(rec, dict):
        raise bad("expected a JSON object")
    for key in ("id", "problem", "response", "annotator"):
        if not isinstance(rec.get(key), str) or not rec[key]:
            raise bad("required, a non-empty string", key)
    if rec.get("style") not in STYLES:
        raise bad(f"must be one of {', '.join(STYLES)}", "style")
    if rec.get("split") not in SPLITS:
        raise bad(f"must be one of {', '.join(SPLITS)}", "split")
    labels = rec.get("labels")
    if not isinstance(labels, dict):
        raise bad("required, an object with one entry per behaviour", "labels")
    text = rec["response"]
    for b in BEHAVIOURS:
        lab = labels.get(b)
        where = f"labels.{b}"
        if not isinstance(lab, dict):
            raise bad("required, an object {count, instances}", where)
        count, inst = lab.get("count"), lab.get("instances")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise bad("must be a non-negative integer", where + ".count")
        if not isinstance(inst, list):
            raise bad("must be a list", where + ".instances")
        if len(inst) != count:
            raise bad(f"count {count} but {len(inst)} instances", where + ".count")
        for k, sp in enumerate(inst):
            f = f"{where}.instances[{k}]"
            if not isinstance(sp, dict) or not all(isinstance(sp.get(x), int) for x in ("start", "end")):
                raise bad("needs integer start and end", f)
            if not 0 <= sp["start"] < sp["end"] <= len(text):
                raise bad(f"span {sp['start']}..{sp['end']} outside the response", f)
            if text[sp["start"]:sp["end"]] != sp.get("quote"):
                raise bad("quote does not match response[start:end]", f + ".quote")
    return rec


def load_gold(path: str | Path | None = None, *, split: str = "all") -> list[dict]:
    """Read and validate a gold JSONL file; ``split`` is "train", "test" or "all"."""
    p = Path(path) if path is not None else DEFAULT_GOLD
    if not p.is_file():
        raise InputError("gold file not found", path=str(p))
    out: list[dict] = []
    seen: set[str] = set()
    for i, rec, _raw in iter_json_records(p):
        if isinstance(rec, InputError):
            raise rec
        _check_record(rec, str(p), i)
        if rec["id"] in seen:
            raise InputError(f"duplicate id {rec['id']!r}", path=str(p), line=i, field="id")
        seen.add(rec["id"])
        if split in ("all", rec["split"]):
            out.append(rec)
    if split not in ("all", *SPLITS):
        raise InputError(f"unknown split {split!r}; valid: all, train, test", path=str(p))
    return out


def gold_traces(records: list[dict]) -> pl.DataFrame:
    """The gold responses as a minimal trace frame (id, model=style, benchmark, problem_id, ...)."""
    return pl.DataFrame({
        "id": [r["id"] for r in records],
        "model": [r["style"] for r in records],
        "benchmark": ["gold"] * len(records),
        "problem_id": [r["id"] for r in records],
        "sample": [0] * len(records),
        "prompt": [r["problem"] for r in records],
        "response": [r["response"] for r in records],
    }, schema={"id": pl.String, "model": pl.String, "benchmark": pl.String,
               "problem_id": pl.String, "sample": pl.Int64, "prompt": pl.String,
               "response": pl.String})


# ---------------------------------------------------------------- the marked-up source


def parse_markup(marked: str, *, where: str = "<text>") -> tuple[str, dict[str, list[Span]]]:
    """Strip ``⟦tag|...⟧`` marks; return the clean text and the spans per behaviour."""
    out: list[str] = []
    pos = 0  # length of the clean text so far
    stack: list[tuple[list[str], int]] = []
    spans: dict[str, list[Span]] = {b: [] for b in BEHAVIOURS}
    i = 0
    while i < len(marked):
        ch = marked[i]
        if ch == OPEN:
            bar = marked.find(SEP, i)
            tags = marked[i + 1:bar].split("+") if bar > 0 else []
            if not tags or any(t not in TAGS for t in tags):
                raise InputError(f"bad mark {marked[i:i + 12]!r} (tags: mp, mc, mp+mc)",
                                 path=where)
            stack.append(([TAGS[t] for t in tags], pos))
            i = bar + 1
            continue
        if ch == CLOSE:
            if not stack:
                raise InputError(f"unbalanced {CLOSE} near {marked[max(0, i - 30):i]!r}",
                                 path=where)
            behaviours, start = stack.pop()
            text_so_far = "".join(out)
            for b in behaviours:
                spans[b].append(Span(start, pos, text_so_far[start:pos]))
            i += 1
            continue
        out.append(ch)
        pos += 1
        i += 1
    if stack:
        raise InputError(f"unclosed {OPEN} mark", path=where)
    for b in BEHAVIOURS:
        spans[b].sort(key=lambda s: s.start)
    return "".join(out), spans


_HEADER = re.compile(r"^### id: (\S+)\s*$", re.M)


def parse_source(path: str | Path) -> list[dict]:
    """Records of one ``annotations/source/<style>.txt`` file (style = the file's stem).

    Each record: a ``### id: ID`` line, ``key: value`` lines (problem, annotator, notes), a line
    ``---``, then the marked-up response up to the next ``### id:`` line.
    """
    p = Path(path)
    style = p.stem
    text = p.read_text(encoding="utf-8")
    heads = list(_HEADER.finditer(text))
    recs = []
    for k, m in enumerate(heads):
        body = text[m.end():heads[k + 1].start() if k + 1 < len(heads) else len(text)]
        line = text.count("\n", 0, m.start()) + 1
        head, sep, resp = body.partition("\n---\n")
        if not sep:
            raise InputError("record has no '---' line before the response", path=str(p),
                             line=line)
        meta: dict[str, str] = {}
        for hl in head.strip().splitlines():
            key, _, val = hl.partition(":")
            meta[key.strip()] = val.strip()
        if "problem" not in meta:
            raise InputError("record has no 'problem:' line", path=str(p), line=line,
                             field="problem")
        clean, spans = parse_markup(resp.strip("\n"), where=f"{p}:{line}")
        recs.append({
            "id": m.group(1), "style": style, "problem": meta["problem"], "response": clean,
            "labels": {b: {"count": len(spans[b]),
                           "instances": [{"start": s.start, "end": s.end, "quote": s.quote}
                                         for s in spans[b]]} for b in BEHAVIOURS},
            "annotator": meta.get("annotator", "maintainers"),
            "notes": meta.get("notes") or None,
        })
    return recs


def _rank(rec_id: str, seed: str) -> str:
    return hashlib.blake2b(f"{seed}:{rec_id}".encode(), digest_size=8).hexdigest()


def _stratum(rec: dict) -> tuple[bool, ...]:
    return tuple(rec["labels"][b]["count"] > 0 for b in BEHAVIOURS)


def assign_splits(records: list[dict], existing: dict[str, str], *, test_fraction: float = 1 / 3,
                  seed: str = "reasonlens-gold-v1") -> list[dict]:
    """Keep existing splits; give new ids a split, stratified by style and label pattern.

    Within each style the new records are ordered by (which behaviours are present, seeded hash
    of the id) and every ``1/test_fraction``-th one goes to test (systematic sampling), so each
    style has about ``test_fraction`` of its records in test and both behaviours' presence and
    absence are represented there.
    """
    out = [dict(r) for r in records]
    step = round(1 / test_fraction)
    for style in STYLES:
        group = [r for r in out if r["style"] == style]
        fresh = sorted((r for r in group if r["id"] not in existing),
                       key=lambda r: (_stratum(r), _rank(r["id"], seed)))
        for r in group:
            if r["id"] in existing:
                r["split"] = existing[r["id"]]
        for k, r in enumerate(fresh):
            r["split"] = "test" if k % step == step // 2 else "train"
    return out


def build_gold(source_dir: str | Path = SOURCE_DIR, existing_gold: str | Path | None = DEFAULT_GOLD,
               *, guidelines_version: str = "1.0.0") -> list[dict]:
    """Build the gold records from the marked-up source files (validated, splits assigned)."""
    records: list[dict] = []
    for f in sorted(Path(source_dir).glob("*.txt")):
        records.extend(parse_source(f))
    existing: dict[str, str] = {}
    if existing_gold is not None and Path(existing_gold).is_file():
        existing = {r["id"]: r["split"] for r in load_gold(existing_gold)}
    records = assign_splits(records, existing)
    keys = ("id", "style", "split", "problem", "response", "labels", "annotator", "notes",
            "guidelines_version")
    final = []
    for i, r in enumerate(records, start=1):
        r["guidelines_version"] = guidelines_version
        final.append({k: r[k] for k in keys})
        _check_record(final[-1], "<built gold>", i)
    return final


def dumps_gold(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in records)
