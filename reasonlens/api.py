"""The Python API: every stage as a function over polars frames (the code the CLI runs).

    import reasonlens as rl
    traces = rl.load_traces("examples/traces.jsonl")
    scored = rl.score(traces)                       # StageResult: responses, terms
    graded = rl.grade(traces)                       # graded
    judged = rl.judge(traces)                       # judgments, instances (offline detector)
    tables = rl.stats(scored, graded, judged)       # the tidy statistics tables
    rl.report(scored, graded, judged, path="reports/run.html")

Each stage returns a :class:`StageResult`: its frames (``result.responses`` or
``result["responses"]``), a ``summary`` dict (what the CLI writes as summary.json /
metrics.json) and ``provenance``; ``result.write(dir)`` writes the same files as the CLI
command, so any later stage (or ``reasonlens report``) can read them. Errors are the project's
(:mod:`reasonlens.errors`). Nothing prints and no progress bar shows unless ``progress=True``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import ConfigError

PathLike = str | Path
Source = PathLike | pl.DataFrame | list | tuple

#: File names each stage's outputs take on disk (the CLI's layout).
FILES = {"score": {"responses": "responses.parquet", "terms": "terms.parquet",
                   "_summary": "summary.json"},
         "grade": {"graded": "graded.parquet", "_summary": "metrics.json"},
         "judge": {"judgments": "judgments.parquet", "instances": "instances.parquet",
                   "_summary": "summary.json"},
         "diff": {"ranking": "ranking.parquet", "_summary": "summary.json"}}


@dataclass(frozen=True)
class StageResult:
    """What a stage returns: named frames, a summary and the provenance of the run.

    Frames are attributes (``result.responses``) and items (``result["responses"]``).
    """

    stage: str
    frames: Mapping[str, pl.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def __getattr__(self, name: str) -> pl.DataFrame:
        frames = object.__getattribute__(self, "frames")
        if name in frames:
            return frames[name]
        raise AttributeError(f"{self.stage} result has no frame {name!r}; frames: "
                             f"{', '.join(frames)}")

    def __getitem__(self, name: str) -> pl.DataFrame:
        return self.frames[name]

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k} {v.height}x{v.width}" for k, v in self.frames.items())
        where = f", path={str(self.path)!r}" if self.path else ""
        return f"StageResult({self.stage}: {shapes}{where})"

    def write(self, out_dir: PathLike) -> Path:
        """Write the frames (parquet, provenance in the metadata) and the summary JSON, as one
        atomic stage output directory (:func:`reasonlens.io.stage_output`)."""
        from reasonlens.io import stage_output

        names = FILES.get(self.stage, {})
        with stage_output(out_dir, stage=self.stage) as so:
            prov = so.stamp(self.provenance)
            for name, df in self.frames.items():
                so.write_parquet(df, names.get(name, f"{name}.parquet"), prov)
            so.write_json(names.get("_summary", f"{self.stage}.json"),
                          {**self.summary, "provenance": prov})
        return Path(out_dir)


# --- loading --------------------------------------------------------------------------------

def _load_options(fields: Mapping[str, str] | None = None, **kw: Any):
    from reasonlens.traces.layouts import FieldMapping
    from reasonlens.traces.load import LoadOptions

    fields = dict(fields or {})
    FieldMapping(fields)  # validates the names
    return LoadOptions(fields=fields, **{k: v for k, v in kw.items() if v is not None})


def _is_trace_frame(df: pl.DataFrame) -> bool:
    from reasonlens.schema import TRACE_COLUMNS

    return all(c in df.columns for c in TRACE_COLUMNS)


def load_traces(source: Source, *, fields: Mapping[str, str] | None = None,
                mapping_file: PathLike | None = None, model: str | None = None,
                benchmark: str | None = None, on_error: str = "fail",
                allow_empty: bool = False, split: str | None = None) -> pl.DataFrame:
    """Traces as a frame of :data:`reasonlens.schema.TRACE_SCHEMA` (``reasonlens score`` input).

    Args:
        source: a file or directory (JSONL, .jsonl.gz, JSON, parquet, ``datasets`` dir), a list
            of them, a polars frame of records (any layout the loader detects; a frame that
            already has every trace column is only conformed), or a list of record dicts.
        fields: ``{"response": "output.text", ...}`` overrides, like ``--field``.
        mapping_file, model, benchmark, on_error, allow_empty, split: as the CLI options.
    """
    from reasonlens.schema import TRACE_SCHEMA, conform
    from reasonlens.traces.load import load_traces as _load

    opts = _load_options(fields, mapping_file=str(mapping_file) if mapping_file else None,
                         model=model, benchmark=benchmark, on_error=on_error,
                         allow_empty=allow_empty, split=split)
    if isinstance(source, list) and source and all(isinstance(r, dict) for r in source):
        source = pl.DataFrame(source)
    if isinstance(source, pl.DataFrame):
        if _is_trace_frame(source) and not fields:
            return conform(source, TRACE_SCHEMA)
        with tempfile.TemporaryDirectory(prefix="reasonlens-frame-") as tmp:
            p = Path(tmp) / "frame.parquet"
            source.write_parquet(p)
            out = _load([str(p)], opts)
        return out.with_columns(pl.lit("<frame>").alias("source"))
    paths = [str(s) for s in source] if isinstance(source, (list, tuple)) else [str(source)]
    return _load(paths, opts)


def _traces(traces: Source) -> pl.DataFrame:
    return traces if isinstance(traces, pl.DataFrame) and _is_trace_frame(traces) \
        else load_traces(traces)


def _frame_input(df: pl.DataFrame) -> list[dict[str, Any]]:
    from reasonlens.provenance import frame_record

    return [frame_record(df["id"].to_list() if "id" in df.columns else [], df.height)]


class _Bar:
    """A progress bar on stderr only when asked (``progress=True``)."""

    def __init__(self, enabled: bool, description: str, total: float | None = None):
        self.enabled, self.description, self.total = enabled, description, total
        self._p = self._task = None

    def __enter__(self) -> Callable[[int], None]:
        if self.enabled:
            from reasonlens.cli._common import progress

            self._p = progress(self.description, self.total, unit="items")
            self._p.__enter__()
            self._task = self._p.add_task(self.description, total=self.total)
            return lambda n: self._p.update(self._task, completed=n)
        return lambda _n: None

    def __exit__(self, *exc) -> None:
        if self._p is not None:
            self._p.__exit__(*exc)


# --- score ----------------------------------------------------------------------------------

def _behaviour_fn(behaviours: bool | Callable | None, parts: str = "all"):
    """The behaviour columns for score: the offline detector (as ``score --behaviours``, on the
    text ``parts`` names) or a given function (trace frame -> judge frame)."""
    if not behaviours:
        return None, None
    if callable(behaviours):
        return behaviours, {"source": getattr(behaviours, "__name__", "callable")}
    from reasonlens.judge.stage import behaviour_hook

    return behaviour_hook(parts=parts)


def score(traces: Source, *, lexicons: Iterable[str] | None = None, mode: str = "fast",
          lemma: bool = False, parts: str = "all", behaviours: bool | Callable = False,
          batch_rows: int | None = None, progress: bool = False) -> StageResult:
    """Count lexicon terms per response (``reasonlens score``).

    Args:
        traces: a trace frame (:func:`load_traces`) or anything :func:`load_traces` takes.
        lexicons: registered names or TOML paths (default: the paper's three categories).
        mode, lemma, parts: as ``--mode``, ``--lemma``, ``--parts``.
        behaviours: True adds the offline detector's behaviour counts; a callable
            (trace frame -> judge frame) adds its own.

    Returns frames ``responses`` and ``terms`` (columns in docs/scoring.md) and the summary the
    CLI writes as summary.json.
    """
    from reasonlens.lexcount.aggregate import summarise
    from reasonlens.lexcount.engine import ScoreConfig, empty_outputs, score_batch
    from reasonlens.lexcount.run import _with_behaviours
    from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS
    from reasonlens.provenance import provenance
    from reasonlens.traces.model import SCORE_BATCH_ROWS

    config = ScoreConfig(lexicons=tuple(lexicons or DEFAULT_LEXICONS), mode=mode, lemma=lemma,
                         parts=parts)
    matcher = config.matcher()
    hook, info = _behaviour_fn(behaviours, parts)
    df = _traces(traces)
    batch_rows = batch_rows or SCORE_BATCH_ROWS
    resp_parts, term_parts = [], []
    with _Bar(progress, "scoring", df.height) as tick:
        for start in range(0, df.height, batch_rows):
            batch = df.slice(start, batch_rows)
            r, t = score_batch(batch, matcher, config)
            if hook is not None:
                r = _with_behaviours(r, hook(batch))
            resp_parts.append(r)
            term_parts.append(t)
            tick(start + batch.height)
    if not resp_parts:
        r, t = empty_outputs(matcher, config)
        resp_parts, term_parts = [r], [t]
    responses = pl.concat(resp_parts, how="vertical_relaxed")
    terms = pl.concat(term_parts, how="vertical_relaxed")
    prov = provenance(command="score (python api)",
                      config={"score": config.record(), "behaviours": info},
                      data_files=[lx.record() for lx in matcher.lexicons],
                      inputs=_frame_input(df))
    summary = summarise(responses, terms, matcher.lexicons, parts=parts)
    summary["parts"] = parts
    summary["lexicons"] = {lx.name: {"version": lx.version, "n_terms": len(lx.terms),
                                     "sha256": lx.sha256} for lx in matcher.lexicons}
    if info:
        summary["behaviour_source"] = info
    return StageResult("score", {"responses": responses, "terms": terms}, summary, prov)


# --- grade ----------------------------------------------------------------------------------

def grade(traces: Source, *, benchmark: str | None = None,
          benchmark_source: PathLike | None = None, timeout: float = 5.0, workers: int = 2,
          include_reasoning: bool = False, strict_integers: bool = False,
          ks: list[int] | None = None, n_boot: int = 1000, seed: int = 0,
          progress: bool = False) -> StageResult:
    """Extract and verify final answers; accuracy metrics (``reasonlens grade``).

    Gold answers come from the traces' ``gold`` column or from a registered ``benchmark``
    (joined on problem_id, else on the problem text). Returns frame ``graded`` (the traces plus
    extracted, correct, grade_reason, answer_type) and the metrics as the summary.
    """
    from reasonlens.grade import GradeConfig, grade_frame
    from reasonlens.grade.run import GradeRunConfig, _metric_rows, grade_metrics
    from reasonlens.provenance import file_hash, provenance

    if benchmark_source and not benchmark:
        raise ConfigError("benchmark_source needs benchmark")
    config = GradeRunConfig(
        grade=GradeConfig(timeout=timeout, workers=workers, include_reasoning=include_reasoning,
                          integer_fallback=not strict_integers),
        benchmark=benchmark, benchmark_source=str(benchmark_source) if benchmark_source
        else None, ks=tuple(sorted(set(ks))) if ks else None, n_boot=n_boot, seed=seed)
    df = _traces(traces)
    if df.height == 0:
        raise ConfigError("no traces to grade")
    join_info, data_files = None, []
    if benchmark:
        from reasonlens.grade.join import attach_gold
        from reasonlens.problems import load_benchmark

        df, join_info = attach_gold(df, load_benchmark(benchmark, benchmark_source))
        data_files.append({"kind": "benchmark", "name": benchmark,
                           "source": str(benchmark_source) if benchmark_source else "hub",
                           "hash": file_hash(benchmark_source) if benchmark_source else None})
    with _Bar(progress, "grading") as tick:
        graded = grade_frame(df, config.grade, progress=tick)
    metrics, warnings = grade_metrics(_metric_rows(graded), config)
    prov = provenance(command="grade (python api)", config=config.record(),
                      data_files=data_files, inputs=_frame_input(df))
    metrics["grading"] = {"join": join_info, "warnings": warnings}
    return StageResult("grade", {"graded": graded}, metrics, prov)


# --- judge ----------------------------------------------------------------------------------

def judge(traces: Source, *, judge: Any = "offline", model: str | None = None,
          config: Any = None, offline: Any = None, allow_failures: bool = True,
          progress: bool = False) -> StageResult:
    """Count the judged behaviours per response (``reasonlens judge``), through the judge
    stage's one entry point (:func:`reasonlens.judge.stage.judge_traces`).

    Args:
        judge: ``"offline"`` (the approximate offline detector, no network), a base URL or a
            list of them (an OpenAI-compatible LLM judge), or an
            :class:`reasonlens.endpoint.EndpointConfig`.
        model: the judge model's name at the base URL(s) (required for an LLM judge).
        config: a :class:`reasonlens.judge.config.JudgeConfig` (taxonomy, mode, rubrics,
            chunking, cache...); LLM judge only.
        offline: a :class:`reasonlens.judge.offline.OfflineConfig` (detector, taxonomy, unit);
            offline detector only.
        allow_failures: keep failed judgments as missing counts (the summary counts them);
            False raises :class:`reasonlens.judge.stage.JudgeFailures` when any failed.

    Returns frames ``judgments`` (B_count / B_status / B_instances per behaviour B) and
    ``instances`` (one row per quoted instance), and the summary.
    """
    from reasonlens.endpoint import EndpointConfig
    from reasonlens.judge.stage import JudgeFailures, JudgeStageConfig, judge_traces

    df = _traces(traces)
    stage: dict[str, Any] = {"allow_failures": allow_failures}
    if judge == "offline":
        if config is not None:
            raise ConfigError("config is for the LLM judge; the offline detector takes offline=")
        if offline is not None:
            stage["offline"] = offline
    else:
        if isinstance(judge, EndpointConfig):
            endpoint = judge
        elif isinstance(judge, str) or (isinstance(judge, (list, tuple)) and judge):
            if not model:
                raise ConfigError("an LLM judge needs model= (the judge model's name)")
            urls = (judge,) if isinstance(judge, str) else tuple(judge)
            endpoint = EndpointConfig(base_urls=urls, model=model)
        else:
            raise ConfigError(f"judge must be 'offline', a base URL or an EndpointConfig, "
                              f"got {judge!r}")
        stage["endpoint"] = endpoint
        if config is not None:
            stage["llm"] = config
    with _Bar(progress, "judging") as tick:
        done = [0]

        def advance(n: int) -> None:
            done[0] += n
            tick(done[0])

        res = judge_traces(df, JudgeStageConfig(**stage), progress=advance)
    if res.n_failed and not allow_failures:
        raise JudgeFailures(f"{res.n_failed} judgment(s) failed (counts missing)")
    prov = {**res.provenance, "inputs": _frame_input(df), "command": "judge (python api)"}
    summary = {k: v for k, v in res.summary.items() if k != "provenance"}
    return StageResult("judge", {"judgments": res.frame, "instances": res.instances}, summary,
                       prov)


# --- diff -----------------------------------------------------------------------------------

def diff(traces: Source, *, a: str | None = None, b: str | None = None, by: str = "model",
         text: str = "all", ngrams: tuple[int, ...] = (1, 2), min_count: int = 5,
         prior_scale: float = 0.1, top: int | None = None) -> StageResult:
    """Words and n-grams that distinguish group A from group B (``reasonlens diff``).

    Groups are the responses whose ``by`` column (a trace column or a metadata key) equals
    ``a`` / ``b`` (case-insensitive); with two models and no ``a``/``b``, the two models.
    Returns frame ``ranking`` (term, count_a, count_b, per_1k_a, per_1k_b, log_odds, z, n).
    """
    from reasonlens.provenance import provenance
    from reasonlens.stats.diff import DiffCounts, Group, text_of

    df = _traces(traces)
    text_of(df.head(0), text)  # checks the part's name
    if (a is None) != (b is None):
        raise ConfigError("give both a and b")
    groups = None if a is None else (Group.of(by, a), Group.of(by, b))
    counts = DiffCounts(groups, text, tuple(ngrams))
    counts.add(df)
    label_a, label_b, ranking = counts.ranking(min_count=min_count, prior_scale=prior_scale,
                                               top=top)
    cfg = {"a": label_a, "b": label_b, "text": text, "ngrams": list(ngrams),
           "min_count": min_count, "prior_scale": prior_scale}
    prov = provenance(command="diff (python api)", config=cfg, inputs=_frame_input(df))
    return StageResult("diff", {"ranking": ranking}, {**cfg, "n_terms": ranking.height}, prov)


# --- stats and report -----------------------------------------------------------------------

def inputs_of(items: Iterable[Any]):
    """Stage inputs for stats/report from paths, StageResults and trace frames (mixed)."""
    from reasonlens.stats.inputs import Inputs, StageInput, load_inputs

    items = list(items)
    paths = [Path(i) for i in items if isinstance(i, (str, Path))]
    out = load_inputs(paths) if paths else Inputs()
    for it in items:
        if isinstance(it, (str, Path)):
            continue
        if isinstance(it, pl.DataFrame):
            it = score(it)
        if not isinstance(it, StageResult):
            raise ConfigError(f"cannot use a {type(it).__name__} as a stats input; give paths, "
                              "StageResults or trace frames")
        _add_result(out, it)
        out.items.append(StageInput(it.stage, Path(f"<{it.stage} result>"), it.provenance))
    return out


def _cat(a, b):
    if b is None:
        return a
    if a is None:
        return b
    if isinstance(a, pl.LazyFrame) or isinstance(b, pl.LazyFrame):
        return pl.concat([a.lazy(), b.lazy()], how="diagonal_relaxed")
    return pl.concat([a, b], how="diagonal_relaxed")


def _add_result(inputs, res: StageResult) -> None:
    f = res.frames
    if res.stage == "score":
        inputs.responses = _cat(inputs.responses, f["responses"])
        inputs.terms = _cat(inputs.terms, f.get("terms"))
    elif res.stage == "grade":
        inputs.graded = _cat(inputs.graded, f["graded"].drop(
            [c for c in ("prompt", "response", "reasoning", "answer") if c in f["graded"].columns]))
        inputs.metrics.append({**res.summary, "provenance": res.provenance})
    elif res.stage == "judge":
        inputs.judgments = _cat(inputs.judgments, f["judgments"])
        inputs.instances = _cat(inputs.instances, f.get("instances"))
    else:
        raise ConfigError(f"a {res.stage} result is not a stats input")


def stats(*inputs: Any, config: Any = None, reference: str | None = None,
          progress: bool = False) -> StageResult:
    """Every statistics table the inputs allow (``reasonlens stats``).

    ``inputs``: stage output directories, trace files, StageResults of score / grade / judge,
    or trace frames (scored with the default lexicons). ``config``: a
    :class:`reasonlens.stats.StatsConfig`. Returns one frame per table (names and columns in
    docs/report.md); the summary lists each table's rows and columns.
    """
    from reasonlens.provenance import provenance
    from reasonlens.stats.analysis import analyse
    from reasonlens.stats.bootstrap import StatsConfig

    if not inputs:
        raise ConfigError("stats needs at least one input")
    config = config or StatsConfig()
    loaded = inputs_of(inputs)
    say = (lambda s: __import__("sys").stderr.write(f"stats: {s}\n")) if progress else None
    tables = analyse(loaded, config, reference=reference, on_step=say)
    prov = provenance(command="stats", config={**config.__dict__, "reference": reference},
                      inputs=[{"kind": i.kind, "path": str(i.path)} for i in loaded.items])
    prov["data_files"] = [d for i in loaded.items for d in ((i.provenance or {}).get(
        "data_files") or []) if isinstance(d, dict)]
    index = {name: {"rows": df.height, "columns": df.columns} for name, df in tables.items()}
    return StageResult("stats", tables, {"tables": index}, prov)


def write_tables(result: StageResult, out_dir: PathLike, fmt: str = "both", *,
                 sources: Iterable[PathLike] = ()) -> Path:
    """Write stats tables as ``reasonlens stats`` does: NAME.parquet and/or NAME.csv plus
    stats.json, as one atomic stage output (:func:`reasonlens.io.stage_output`)."""
    from reasonlens.io import stage_output

    if fmt not in ("parquet", "csv", "both"):
        raise ConfigError(f"format must be parquet, csv or both, got {fmt!r}")
    with stage_output(out_dir, stage="stats", sources=sources) as so:
        prov = so.stamp(result.provenance)
        for name, df in result.frames.items():
            if fmt in ("parquet", "both"):
                so.write_parquet(df, f"{name}.parquet", prov)
            if fmt in ("csv", "both"):
                df.write_csv(so.file(f"{name}.csv"))
        so.write_json("stats.json", {**result.summary, "provenance": prov})
    return Path(out_dir)


def report(*inputs: Any, path: PathLike, title: str | None = None, config: Any = None,
           png_dir: PathLike | None = None, svg_dir: PathLike | None = None,
           traces: Iterable[Any] = (), progress: bool = False) -> StageResult:
    """One self-contained HTML report (``reasonlens report``); inputs as for :func:`stats`.

    ``traces``: trace files or frames holding the response texts for the trace viewer (grade
    results and trace frames among ``inputs`` are used too). Returns a StageResult whose frames
    are the statistics tables behind the report and whose ``path`` is the HTML file written.
    """
    from reasonlens.io import refuse_overwriting_inputs
    from reasonlens.report import render_report

    if not inputs:
        raise ConfigError("report needs at least one input")
    refuse_overwriting_inputs(path, [*inputs, *traces])
    texts: list[Any] = [t if isinstance(t, pl.DataFrame) else Path(t) for t in traces]
    for it in inputs:
        if isinstance(it, pl.DataFrame):
            texts.append(_traces(it))
        elif isinstance(it, StageResult) and it.stage == "grade":
            texts.append(it.frames["graded"])
    say = (lambda s: __import__("sys").stderr.write(f"report: {s}\n")) if progress else None
    built = render_report(inputs_of(inputs), Path(path), title=title,
                          png_dir=Path(png_dir) if png_dir else None,
                          svg_dir=Path(svg_dir) if svg_dir else None, config=config,
                          on_step=say, texts=texts)
    return StageResult("report", built.tables, {"path": str(built.path),
                                                "bytes": built.path.stat().st_size,
                                                "sections": built.sections},
                       built.provenance, path=built.path)


__all__ = ["StageResult", "diff", "grade", "inputs_of", "judge", "load_traces", "report",
           "score", "stats", "write_tables"]
