"""Find and load stage outputs (score, grade, judge, judge-eval, ablate) or trace files.

The kind of a directory is detected from the files in it:

==========  ======================================
kind        files
==========  ======================================
score       ``summary.json`` + ``responses.parquet`` (+ ``terms.parquet``)
grade       ``metrics.json`` + ``graded.parquet``
judge       ``judgments.parquet`` (+ ``instances.parquet``)
judge-eval  ``agreement.json``
ablate      ``ablation.json``
==========  ======================================

A directory with none of them is searched one level down (so ``reasonlens report out/`` finds
``out/score``, ``out/grade``, ...). A file is read as traces and scored on the fly with the default
lexicons. Only the columns the statistics need are read: never the response text.

Every input is checked before it is used (``InputError`` otherwise, naming the directory):
each stage directory is one run's complete output (:func:`reasonlens.io.check_stage_dir`), score,
grade and judge outputs were computed from the same input files
(:func:`reasonlens.io.check_same_inputs`), and the response ids of each frame are unique
(:func:`assert_unique`), so no later join on ``id`` can fan out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import InputError
from reasonlens.io import check_same_inputs, check_stage_dir, parquet_provenance, read_json
from reasonlens.schema import GRADE_SCHEMA, TRACE_SCHEMA

KINDS = ("score", "grade", "judge", "judge-eval", "ablate")

GRADED_COLUMNS = ("id", "model", "benchmark", "problem_id", "sample", "correct", "grade_reason",
                  "finish_reason", "completion_tokens", "think_closed", "step")


@dataclass
class StageInput:
    """One detected input: its kind, path and the provenance it carries."""

    kind: str
    path: Path
    provenance: dict[str, Any] | None = None


@dataclass
class Inputs:
    """Everything loaded from the inputs; absent stages stay None / empty."""

    items: list[StageInput] = field(default_factory=list)
    responses: pl.DataFrame | None = None
    terms: pl.LazyFrame | None = None   # score's long term counts, read when aggregated
    graded: pl.DataFrame | None = None
    metrics: list[dict] = field(default_factory=list)
    judgments: pl.DataFrame | None = None
    instances: pl.DataFrame | None = None
    agreement: list[dict] = field(default_factory=list)
    ablation: list[dict] = field(default_factory=list)
    ablation_n: dict[str, int] = field(default_factory=dict)

    @property
    def kinds(self) -> set[str]:
        return {i.kind for i in self.items}


def detect_kinds(path: Path) -> list[str]:
    """Stage kinds whose files are present in directory ``path``."""
    has = {p.name for p in path.iterdir()} if path.is_dir() else set()
    kinds = []
    if {"summary.json", "responses.parquet"} <= has:
        kinds.append("score")
    if {"metrics.json", "graded.parquet"} <= has:
        kinds.append("grade")
    if "judgments.parquet" in has:
        kinds.append("judge")
    if "agreement.json" in has:
        kinds.append("judge-eval")
    if "ablation.json" in has:
        kinds.append("ablate")
    return kinds


def discover(paths: list[Path]) -> list[StageInput]:
    """Expand the given paths into detected stage inputs (one level of sub-directories)."""
    found: list[StageInput] = []
    for p in map(Path, paths):
        if not p.exists():
            raise InputError("no such file or directory", path=str(p))
        if p.is_file():
            found.append(StageInput("traces", p))
            continue
        kinds = detect_kinds(p)
        if not kinds:
            for sub in sorted(x for x in p.iterdir() if x.is_dir()):
                found += [StageInput(k, sub) for k in detect_kinds(sub)]
            if not any(f.path.parent == p for f in found):
                raise InputError(
                    "not a reasonlens stage output: expected summary.json+responses.parquet "
                    "(score), metrics.json+graded.parquet (grade), judgments.parquet (judge), "
                    "agreement.json (judge-eval) or ablation.json (ablate), here or one level "
                    "down", path=str(p))
        found += [StageInput(k, p) for k in kinds]
    return found


def _read_parquet(path: Path, columns: tuple[str, ...] | None = None) -> pl.DataFrame:
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
        cols = [c for c in columns if c in names] if columns else None
        return pl.read_parquet(path, columns=cols)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read parquet: {exc}", path=str(path)) from exc


def _read_json(path: Path) -> dict:
    try:
        obj = read_json(path)
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read JSON: {exc}", path=str(path)) from exc
    if not isinstance(obj, dict):
        raise InputError("expected a JSON object", path=str(path))
    return obj


def _concat(a: pl.DataFrame | None, b: pl.DataFrame) -> pl.DataFrame:
    return b if a is None else pl.concat([a, b], how="diagonal_relaxed")


def _concat_lazy(a: pl.LazyFrame | None, b: pl.LazyFrame) -> pl.LazyFrame:
    return b if a is None else pl.concat([a.lazy(), b], how="diagonal_relaxed")


def _scan_parquet(path: Path, required: tuple[str, ...]) -> pl.LazyFrame:
    """A parquet file to read later (the statistics aggregate it on the fly), checked now."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read parquet: {exc}", path=str(path)) from exc
    for c in required:
        if c not in names:
            raise InputError("missing column", path=str(path), field=c)
    return pl.scan_parquet(path)


def assert_unique(df: pl.DataFrame, keys: str | tuple[str, ...] | list[str], what: str,
                  path: str | Path | None = None) -> None:
    """Raise InputError when ``keys`` repeat in ``df`` (call before joining on them)."""
    cols = [keys] if isinstance(keys, str) else list(keys)
    if df.height == 0 or any(c not in df.columns for c in cols):
        return
    if df.select(pl.struct(cols).hash().n_unique()).item() == df.height:
        return  # all hashes distinct, so all keys are (exact; a few MB, not a group table)
    dup = df.group_by(cols).len().filter(pl.col("len") > 1)
    if dup.height:
        first = dup.row(0, named=True)
        key = ", ".join(f"{c}={first[c]!r}" for c in cols)
        raise InputError(f"{dup.height} duplicate {'/'.join(cols)} value(s) in the {what} "
                         f"(first: {key}, {first['len']} times); the same responses were given "
                         "twice or the stage output is corrupt; a join would count them twice",
                         path=None if path is None else str(path), field=cols[0])


def _require(df: pl.DataFrame, cols: tuple[str, ...], path: Path) -> None:
    """The columns the statistics need are there, the frame has rows, and every column a
    stage schema declares has that schema's kind of type (an edited or foreign parquet fails
    here, naming the column, instead of deep inside the statistics)."""
    for c in cols:
        if c not in df.columns:
            raise InputError("missing column", path=str(path), field=c)
    if df.height == 0:
        raise InputError("holds no responses (0 rows); rerun the stage", path=str(path))
    for c, want in _DECLARED.items():
        have = df.schema.get(c)
        if have is not None and have != pl.Null and _kind(have) != _kind(want):
            raise InputError(f"column has type {have}, expected {want}: not this reasonlens "
                             "stage's output, or edited after the run", path=str(path), field=c)


_DECLARED: dict[str, pl.DataType] = {**TRACE_SCHEMA, **GRADE_SCHEMA, "words": pl.Int64}


def _kind(dtype: pl.DataType) -> str:
    if dtype.is_numeric():
        return "number"
    if dtype in (pl.String, pl.Categorical, pl.Enum) or isinstance(dtype, (pl.Categorical,
                                                                             pl.Enum)):
        return "text"
    return str(dtype.base_type())


def _check_metrics(m: dict, path: Path) -> None:
    """metrics.json holds ``models -> {model: {benchmarks: {benchmark: {...}}}}``."""
    models = m.get("models")
    ok = isinstance(models, dict) and all(
        isinstance(md, dict) and isinstance(md.get("benchmarks"), dict)
        and all(isinstance(bd, dict) for bd in md["benchmarks"].values())
        for md in models.values())
    if not ok:
        raise InputError("not a grade metrics file: expected models -> {MODEL: {benchmarks: "
                         "{BENCHMARK: {...}}}}", path=str(path), field="models")


def load_inputs(paths: list[Path], *, progress: bool = False) -> Inputs:
    """Detect and load every input; several inputs of one kind are concatenated."""
    out = Inputs()
    for item in discover(paths):
        d = item.path
        if item.kind != "traces":
            check_stage_dir(d)
        if item.kind == "score":
            r = _read_parquet(d / "responses.parquet")
            _require(r, ("id", "model", "words"), d / "responses.parquet")
            out.responses = _concat(out.responses, r)
            if (d / "terms.parquet").exists():  # lazily: tens of rows per response
                t = _scan_parquet(d / "terms.parquet", ("id", "category", "term", "count"))
                out.terms = _concat_lazy(out.terms, t)
            item.provenance = _read_json(d / "summary.json").get("provenance") or \
                parquet_provenance(d / "responses.parquet")
        elif item.kind == "grade":
            g = _read_parquet(d / "graded.parquet", GRADED_COLUMNS)
            _require(g, ("id", "model", "correct"), d / "graded.parquet")
            out.graded = _concat(out.graded, g)
            m = _read_json(d / "metrics.json")
            _check_metrics(m, d / "metrics.json")
            out.metrics.append(m)
            item.provenance = m.get("provenance") or parquet_provenance(d / "graded.parquet")
        elif item.kind == "judge":
            j = _read_parquet(d / "judgments.parquet")
            _require(j, ("id", "model"), d / "judgments.parquet")
            out.judgments = _concat(out.judgments, j)
            if (d / "instances.parquet").exists():
                out.instances = _concat(out.instances, _read_parquet(d / "instances.parquet"))
            item.provenance = parquet_provenance(d / "judgments.parquet")
            if item.provenance is None and (d / "summary.json").exists():
                item.provenance = _read_json(d / "summary.json").get("provenance")
        elif item.kind == "judge-eval":
            a = _read_json(d / "agreement.json")
            out.agreement.append(a)
            item.provenance = a.get("provenance")
        elif item.kind == "ablate":
            a = _read_json(d / "ablation.json")
            out.ablation.append(a)
            item.provenance = a.get("provenance")
            gdir = d / "graded"
            if gdir.is_dir():
                for f in sorted(gdir.glob("*.parquet")):
                    out.ablation_n[f.stem] = _read_parquet(f, ("id",)).height
        elif item.kind == "traces":
            from reasonlens.stats.onthefly import score_traces

            r, t, prov = score_traces(d, progress=progress)
            out.responses = _concat(out.responses, r)
            out.terms = _concat_lazy(out.terms, t.lazy())
            item.provenance = prov
        out.items.append(item)
    check_same_inputs((i.kind, i.path, i.provenance) for i in out.items)
    check_unique(out)
    check_ids_overlap(out)
    return out


def check_ids_overlap(inputs: Inputs) -> None:
    """Score, grade and judge outputs of the same traces must name the responses alike: when
    two of them share no response id (e.g. one was run with ``--field problem_id=id`` and the
    other without), every join between them would be empty and the correctness model or the
    behaviour rates would quietly have nothing to work on."""
    frames = [(what, f) for what, f in (("score", inputs.responses), ("grade", inputs.graded),
                                        ("judge", inputs.judgments))
              if f is not None and f.height and "id" in f.columns]
    for i, (wa, fa) in enumerate(frames):
        for wb, fb in frames[i + 1:]:
            if fa.select(pl.col("id").is_in(fb.get_column("id").implode())).to_series().any():
                continue
            where = ", ".join(str(x.path) for x in inputs.items if x.kind in (wa, wb))
            raise InputError(f"the {wa} and {wb} outputs share no response id (e.g. "
                             f"{fa['id'][0]!r} vs {fb['id'][0]!r}): run both stages with the "
                             "same --field / --mapping options", path=where, field="id")


def check_unique(inputs: Inputs) -> None:
    """Every response id once per frame (score, grade, judge), so no join on ``id`` fans out;
    :func:`reasonlens.stats.analyse` calls it before any join, whatever built the inputs."""
    where = ", ".join(str(i.path) for i in inputs.items) or None
    for frame, what in ((inputs.responses, "score outputs"), (inputs.graded, "grade outputs"),
                        (inputs.judgments, "judge outputs")):
        if frame is not None:
            assert_unique(frame, "id", what, where)
