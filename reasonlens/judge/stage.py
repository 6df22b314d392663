"""The judge stage: ONE library entry point for the LLM judge and the offline detector alike.

    from reasonlens.judge.stage import JudgeStageConfig, judge_traces, run_judge_stage

    result = judge_traces(traces, JudgeStageConfig())            # in memory, writes nothing
    result = run_judge_stage(batches, "out/judge", config)       # writes the stage outputs

``traces`` is a polars frame of :data:`reasonlens.schema.TRACE_SCHEMA` (at least ``id`` and the
text field); ``run_judge_stage`` also takes an iterable of such frames and then works batch by
batch for the offline detector (memory holds one batch; the outputs are appended), so its memory
does not grow with the input. It writes ``judgments.parquet`` (:func:`reasonlens.schema.
judgment_schema`), ``instances.parquet`` (:data:`reasonlens.schema.INSTANCE_SCHEMA`) and
``summary.json`` (written last), every one with the same provenance.

Failures: a judgment that failed (status error, parse_error or refusal) is a null count, never 0.
:attr:`JudgeResult.n_failed` counts them; ``run_judge_stage`` raises :class:`JudgeFailures` after
writing the outputs when any failed, unless ``allow_failures``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import ConfigError, JudgeError
from reasonlens.judge.config import JudgeConfig
from reasonlens.judge.offline import OfflineConfig
from reasonlens.judge.taxonomy import UNIT_NOTE
from reasonlens.redact import Redactor

FAILED = ("error", "parse_error", "refusal")


class JudgeFailures(JudgeError):
    """Some judgments failed (their counts are missing); the outputs were written."""


@dataclass(frozen=True)
class JudgeStageConfig:
    """What the judge stage runs.

    ``endpoint`` (an :class:`reasonlens.endpoint.EndpointConfig`) selects the LLM judge, with
    ``llm`` its settings (taxonomy, mode, unit, rubrics, ...); without it the offline detector
    runs with ``offline`` (detector file, taxonomy, unit, text field, behaviours).
    ``allow_failures``: do not raise :class:`JudgeFailures`."""

    endpoint: Any = None
    llm: JudgeConfig = field(default_factory=JudgeConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    allow_failures: bool = False

    @property
    def kind(self) -> str:
        return "llm" if self.endpoint is not None else "offline"

    def record(self) -> dict[str, Any]:
        if self.endpoint is not None:
            red = Redactor.for_endpoint(self.endpoint.base_urls, self.endpoint.api_key_env)
            return {"judge": "llm", "endpoint": red.record(self.endpoint.public()),
                    **self.llm.record()}
        return {"judge": "offline", **asdict(self.offline)}


@dataclass
class JudgeResult:
    """The frames (None once written batch by batch), the summary and the provenance."""

    frame: pl.DataFrame | None
    instances: pl.DataFrame | None
    summary: dict[str, Any]
    provenance: dict[str, Any]
    n_failed: int = 0
    files: dict[str, str] = field(default_factory=dict)


def failure_counts(summary: dict[str, Any]) -> dict[str, int]:
    """Failed judgments by status, over every behaviour (from the summary's overall block)."""
    out: dict[str, int] = {}
    for st in summary["overall"]["behaviours"].values():
        for status, n in st["statuses"].items():
            if status in FAILED:
                out[status] = out.get(status, 0) + n
    return out


def failure_line(summary: dict[str, Any], frame: pl.DataFrame | None = None) -> str:
    """"3 of 24 judgments failed (error: 2, parse_error: 1); first reason: ..." or ""."""
    fc = failure_counts(summary)
    n = sum(fc.values())
    if not n:
        return ""
    total = sum(sum(st["statuses"].values()) for st in
                summary["overall"]["behaviours"].values())
    why = ", ".join(f"{k}: {v}" for k, v in sorted(fc.items()))
    reason = ""
    if frame is not None:
        for c in (c for c in frame.columns if c.endswith("_reason")):
            r = frame.get_column(c).drop_nulls()
            if len(r):
                reason = f"; first reason: {str(r[0])[:200]}"
                break
    return f"{n} of {total} judgments failed ({why}){reason}"


def _offline_batch(traces: pl.DataFrame, cfg: JudgeStageConfig):
    from reasonlens.judge.offline import detect_frames

    return detect_frames(traces, cfg.offline)


def _summary_fields(cfg: JudgeStageConfig, frame: pl.DataFrame) -> dict[str, Any]:
    first = frame.row(0, named=True) if frame.height else {}
    return {"taxonomy": first.get("taxonomy"), "mode": first.get("mode"),
            "unit": first.get("count_unit"), "unit_note": UNIT_NOTE}


def judge_traces(traces: pl.DataFrame, config: JudgeStageConfig | None = None, *,
                 inputs: Iterable[str] = (), progress: Callable[[int], None] | None = None,
                 on_total: Callable[[int], None] | None = None) -> JudgeResult:
    """Judge ``traces`` in memory: frames, summary and provenance (nothing is written)."""
    from reasonlens.judge.summary import summarise
    from reasonlens.provenance import input_records, provenance

    cfg = config or JudgeStageConfig()
    t0 = time.perf_counter()
    if cfg.endpoint is None:
        from reasonlens.judge.offline import provenance_record

        frame, inst = _offline_batch(traces, cfg)
        prov = provenance(command="judge", config=provenance_record(cfg.offline),
                          inputs=input_records(list(inputs)))
        summary = summarise(frame)
        summary.update({"judge": frame.get_column("judge")[0] if frame.height else
                        provenance_record(cfg.offline)["judge"], "approximate": True,
                        "note": "offline detector: approximate counts, no LLM judge",
                        **_summary_fields(cfg, frame)})
    else:
        frame, inst, summary, prov = _llm(traces, cfg, inputs, progress, on_total)
    summary["elapsed_s"] = round(time.perf_counter() - t0, 3)
    summary["provenance"] = prov
    n_failed = sum(failure_counts(summary).values())
    summary["failures"] = {"n": n_failed, "by_status": failure_counts(summary)}
    return JudgeResult(frame, inst, summary, prov, n_failed)


def _llm(traces, cfg: JudgeStageConfig, inputs, progress, on_total):
    from reasonlens.judge.run import run_judge
    from reasonlens.judge.summary import summarise
    from reasonlens.provenance import input_records, provenance

    endpoint = cfg.endpoint
    red = Redactor.for_endpoint(endpoint.base_urls, endpoint.api_key_env)
    if cfg.llm.params.sampled and cfg.llm.cache and not cfg.llm.cache_sampled:
        import logging

        logging.getLogger(__name__).warning(
            "temperature > 0 without --seed: replies are sampled, so they are not served from "
            "the cache (pass --cache-sampled to reuse them)")
    run = run_judge(traces, endpoint, cfg.llm, progress=progress, on_total=on_total)
    data_files = [r.record() for r in run.rubrics] + [run.template.record()]
    if run.taxonomy is not None and run.taxonomy.path:
        data_files.append(run.taxonomy.record())
    prov = provenance(command="judge", inputs=input_records(list(inputs)), data_files=data_files,
                      config=red.record({"judge": run.judge, "endpoint": endpoint.public(),
                                         **cfg.llm.record()}))
    summary = summarise(run.frame)
    summary.update(red.record({
        "judge": run.judge, "approximate": False, "model": endpoint.model,
        "rubrics": {r.behaviour: r.record() for r in run.rubrics},
        "template": run.template.record(), "structured_output": run.structured,
        "usage": run.usage, "cache": run.cache, "chunking": run.chunking}))
    summary.update(_summary_fields(cfg, run.frame))
    return run.frame, run.instances, summary, prov


def run_judge_stage(traces: pl.DataFrame | Iterable[pl.DataFrame] | None, out_dir: str | Path,
                    config: JudgeStageConfig | None = None, *, inputs: Iterable[str] = (),
                    load_options: Any = None, limit: int | None = None,
                    progress: Callable[[int], None] | None = None,
                    on_total: Callable[[int], None] | None = None) -> JudgeResult:
    """Judge and write ``judgments.parquet``, ``instances.parquet`` and ``summary.json`` into
    ``out_dir`` as one step (:func:`reasonlens.io.stage_output`). ``traces``: a frame, an
    iterable of frames, or None to load ``inputs`` here with ``load_options`` (rejects then go
    to ``rejects.jsonl`` in the output). Raises :class:`JudgeFailures` after the outputs are
    committed when a judgment failed and ``config.allow_failures`` is off."""
    from reasonlens.io import stage_output
    from reasonlens.traces.load import LoadReport, iter_trace_batches, load_traces, require_rows

    cfg = config or JudgeStageConfig()
    inputs = [str(i) for i in inputs]
    if limit is not None and limit < 0:  # head(-1) would drop the last trace, silently
        raise ConfigError(f"limit (--limit) must be >= 0, got {limit}")
    with stage_output(out_dir, stage="judge", sources=inputs if traces is None else ()) as so:
        report = None
        if traces is None:
            report = LoadReport(rejects_path=str(so.file("rejects.jsonl")))
            if cfg.endpoint is None and limit is None:
                traces = iter_trace_batches(inputs, load_options, report)
            else:
                traces = load_traces(inputs, load_options, report)
        if isinstance(traces, pl.DataFrame) and limit is not None:
            traces = traces.head(limit)
        try:
            if cfg.endpoint is None and not isinstance(traces, pl.DataFrame):
                result = _offline_batched(traces, so, cfg, inputs, progress)
            else:
                if not isinstance(traces, pl.DataFrame):
                    traces = pl.concat(list(traces), how="vertical_relaxed")
                if report is not None:
                    require_rows(traces.height, report, inputs, "judge")
                result = judge_traces(traces, cfg, inputs=inputs, progress=progress,
                                      on_total=on_total)
                result.provenance = so.stamp(result.provenance)
                result.summary["provenance"] = result.provenance
                so.write_parquet(result.frame, "judgments.parquet", result.provenance)
                so.write_parquet(result.instances, "instances.parquet", result.provenance)
            if report is not None:
                report.close()
                if report.n_rejected:
                    result.summary["rejected"] = {"n": report.n_rejected,
                                                  "file": str(so.final / "rejects.jsonl")}
            so.write_json("summary.json", result.summary)
        finally:
            if report is not None:
                report.close()
    result.files = {k: str(so.final / f) for k, f in (("judgments", "judgments.parquet"),
                                                        ("instances", "instances.parquet"),
                                                        ("summary", "summary.json"))}
    if result.n_failed and not cfg.allow_failures:
        raise JudgeFailures(failure_line(result.summary, result.frame) + f" (outputs written "
                            f"to {so.final}; a rerun retries failed requests and serves the "
                            "rest from the cache; pass --allow-failures to accept missing "
                            "counts)")
    return result


def _offline_batched(batches: Iterable[pl.DataFrame], so, cfg: JudgeStageConfig,
                     inputs: list[str], progress) -> JudgeResult:
    """The offline detector batch by batch: outputs appended, summary from the written file."""
    from reasonlens.errors import InputError
    from reasonlens.judge.offline import provenance_record
    from reasonlens.judge.summary import summarise
    from reasonlens.io.sinks import ParquetSink
    from reasonlens.provenance import input_records, provenance

    t0 = time.perf_counter()
    sinks = {"judgments": ParquetSink(so.file("judgments.parquet")),
             "instances": ParquetSink(so.file("instances.parquet"))}
    first = None
    try:
        for batch in batches:
            if not batch.height:
                continue
            frame, inst = _offline_batch(batch, cfg)
            first = first if first is not None else frame.head(1)
            sinks["judgments"].write(frame)
            sinks["instances"].write(inst)
            if progress is not None:
                progress(batch.height)
        if first is None:
            raise InputError("no responses to judge", path=", ".join(inputs) or None)
    except BaseException:
        for s in sinks.values():
            if s.writer is not None:
                s.writer.close()
        raise
    prov_cfg = provenance_record(cfg.offline)
    prov = so.stamp(provenance(command="judge", config=prov_cfg,
                               inputs=input_records(list(inputs))))
    for s in sinks.values():
        s.close(prov)
    path = so.file("judgments.parquet")
    cols = [c for c in pl.read_parquet_schema(path)
            if not c.endswith(("_instances", "_reason", "_raw"))]
    summary = summarise(pl.read_parquet(path, columns=cols))
    summary.update({"judge": prov_cfg["judge"], "approximate": True,
                    "note": "offline detector: approximate counts, no LLM judge",
                    **_summary_fields(cfg, first),
                    "elapsed_s": round(time.perf_counter() - t0, 3), "provenance": prov})
    n_failed = sum(failure_counts(summary).values())
    summary["failures"] = {"n": n_failed, "by_status": failure_counts(summary)}
    return JudgeResult(None, None, summary, prov, n_failed)


def check_offline_options(given: dict[str, Any]) -> None:
    """Refuse LLM-only options given to the offline path (never ignore them)."""
    if given:
        raise ConfigError(f"{', '.join(sorted(given))} "
                          f"{'is' if len(given) == 1 else 'are'} for the LLM judge (give "
                          "--base-url); the offline detector does not use "
                          f"{'it' if len(given) == 1 else 'them'}")


def read_judgments(path: str | Path, *, on_duplicate: str = "error") -> pl.DataFrame:
    """Read a judgments parquet (the judge stage's own output) and check it: an unreadable file,
    a missing ``id``, a repeated id (``on_duplicate="error"``; ``"keep-first"`` keeps the first
    row), a negative count, an ``ok`` row without a count, a count on a failed row, or a positive
    count with no evidence all raise :class:`~reasonlens.errors.InputError` naming the file, the
    row (as ``line``, 1-based) and the column (as ``field``)."""
    import orjson

    from reasonlens.errors import InputError
    from reasonlens.judge.summary import behaviours_in

    p = str(path)
    try:
        frame = pl.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - polars/pyarrow raise many kinds for a bad file
        raise InputError(f"not a readable judgments parquet file ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:200] if str(exc) else 'no detail'})",
                         path=p) from exc
    if "id" not in frame.columns:
        raise InputError("no 'id' column (not a judge output?)", path=p, field="id")
    frame = frame.with_row_index("_row", offset=1)
    dup = frame.filter(pl.col("id").is_duplicated())
    if dup.height:
        if on_duplicate == "keep-first":
            frame = frame.unique("id", keep="first", maintain_order=True)
        else:
            first = dup.get_column("id")[0]
            rows = dup.filter(pl.col("id") == first).get_column("_row").to_list()
            raise InputError(f"id {first!r} appears {len(rows)} times (rows {rows}; "
                             f"{dup.get_column('id').n_unique()} ids repeat); pass "
                             "--on-duplicate keep-first to keep the first row", path=p,
                             line=rows[1], field="id")
    for b in behaviours_in(frame):
        cnt, st = f"{b}_count", f"{b}_status"
        inst = f"{b}_instances" if f"{b}_instances" in frame.columns else None
        for r in frame.select("_row", cnt, st, *([inst] if inst else [])).iter_rows():
            row, c, s = r[0], r[1], r[2]
            if c is not None and c < 0:
                raise InputError(f"negative count {c}", path=p, line=row, field=cnt)
            if s == "ok" and c is None:
                raise InputError("status ok without a count", path=p, line=row, field=cnt)
            if s not in ("ok", None) and c is not None:
                raise InputError(f"a count ({c}) on a {s!r} row (failed judgments are missing)",
                                 path=p, line=row, field=cnt)
            if inst and c:
                try:
                    n_ev = len(orjson.loads(r[3] or "[]"))
                except orjson.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc}", path=p, line=row,
                                     field=inst) from exc
                if n_ev < c:
                    raise InputError(f"count {c} has evidence for only {n_ev} instances",
                                     path=p, line=row, field=cnt)
    return frame.drop("_row")


def behaviour_hook(base_urls: tuple[str, ...] = (), judge_model: str | None = None,
                   judge_max_tokens: int | None = None, *, detector: str | None = None,
                   taxonomy: str | None = None, unit: str | None = None, parts: str = "all"):
    """For ``score --behaviours``: the function that gives a batch's behaviour columns (the
    judge frame) and what goes into provenance about it. ``parts`` is score's ``--parts``: the
    behaviours are judged on the same text (``all``: the response, ``reasoning``: the reasoning)
    so that their per-1k rates share score's word counts; ``answer`` has no judge text field."""
    if parts not in ("all", "reasoning"):
        raise ConfigError(f"--behaviours judges the whole response or its reasoning; not with "
                          f"--parts {parts} (score the behaviours with --parts all or reasoning)")
    text_field = "response" if parts == "all" else "reasoning"
    if base_urls:
        if not judge_model:
            raise ConfigError("--base-url needs --judge-model (the judge model's name)")
        if detector:
            raise ConfigError("--detector is the offline detector; not with --base-url")
        from reasonlens.endpoint import EndpointConfig
        from reasonlens.judge.request import RequestParams
        from reasonlens.judge.run import judge_frame

        endpoint = EndpointConfig(base_urls=tuple(base_urls), model=judge_model)
        params = RequestParams() if judge_max_tokens is None else \
            RequestParams(max_tokens=judge_max_tokens)
        config = JudgeConfig(params=params, taxonomy=taxonomy, unit=unit, text_field=text_field)
        red = Redactor.for_endpoint(base_urls, endpoint.api_key_env)

        def hook(traces):
            return judge_frame(traces, endpoint, config)

        from reasonlens.judge.taxonomy import UNIT_NOTE, check_unit, load_taxonomy

        tax = load_taxonomy(taxonomy)
        return hook, {"source": "llm-judge", "endpoint": red.record(endpoint.public()),
                      "taxonomy": tax.name, "unit": check_unit(unit, tax),
                      "unit_note": UNIT_NOTE, "judge_config": config.record()}
    if judge_model:
        raise ConfigError("--judge-model needs --base-url (an OpenAI-compatible endpoint)")
    from reasonlens.judge import offline

    cfg = OfflineConfig(detector=detector, taxonomy=taxonomy, unit=unit, text_field=text_field)
    info = {"source": "offline-detector", **offline.provenance_record(cfg)}
    return (lambda traces: offline.detect(traces, cfg)), info


def instances_from_frame(frame: pl.DataFrame, behaviours: list[str] | None = None
                         ) -> pl.DataFrame:
    """The instances frame (:data:`reasonlens.schema.INSTANCE_SCHEMA`) rebuilt from a judge
    frame's ``B_instances`` columns (no explanations or character offsets), episode numbers
    from the sentence indices; ``counted`` when the row's status is ok."""
    import orjson

    from reasonlens.judge.run import _episodes
    from reasonlens.schema import INSTANCE_SCHEMA, behaviours_in

    rows = []
    for b in behaviours or behaviours_in(frame):
        for rid, raw, st in frame.select("id", f"{b}_instances", f"{b}_status").iter_rows():
            insts = orjson.loads(raw or "[]")
            for m, ep in zip(insts, _episodes([m.get("sentence") for m in insts])):
                rows.append({"id": rid, "behaviour": b, "quote": m.get("quote"),
                             "sentence": m.get("sentence"), "episode": ep,
                             "chunk": m.get("chunk"), "counted": st == "ok"})
    return pl.DataFrame(rows, schema=INSTANCE_SCHEMA) if rows else \
        pl.DataFrame(schema=INSTANCE_SCHEMA)
