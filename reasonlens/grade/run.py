"""The ``grade`` stage: traces in, ``graded.parquet`` + ``metrics.json`` out, streamed and resumable.

* **Bounded memory**: traces are read in batches (:func:`reasonlens.traces.iter_trace_batches`),
  graded in chunks of ``chunk_rows`` and appended to ``graded.parquet`` batch by batch; only the
  few small columns the metrics need (no text) are kept until the end.
* **Resumable**: each finished chunk's grades (id, extracted, correct, grade_reason) are appended
  with one write to a journal in the output's resume directory (:attr:`StageOutput.resume_dir`).
  After ``kill -9`` a rerun with the same inputs and settings reads the journal and grades only
  what is missing: at most the chunk in flight is lost. Other inputs or settings start afresh.
* **Atomic**: the output directory is written through :func:`reasonlens.io.stage_output`.
* **Honest metrics**: responses without a gold answer (``no_gold``) are excluded from accuracy,
  pass@k and maj@k and counted (``n_no_gold``); k values larger than a group's samples per
  problem are not silently dropped: they are listed in ``ks_unavailable`` (and the CLI warns).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.grade.core import GradeConfig, grade_frame, row_answer_types
from reasonlens.grade.metrics import compute_metrics
from reasonlens.io import ParquetSink, stage_output
from reasonlens.provenance import InputHasher, content_hash, file_hash, provenance
from reasonlens.records import scan_append_log
from reasonlens.traces.load import LoadOptions, LoadReport, iter_trace_batches, require_rows

JOURNAL = "grades.jsonl"
JOURNAL_KEY = "resume-key.json"
RESULT_COLUMNS = ("extracted", "correct", "grade_reason")
METRIC_COLUMNS = ("id", "model", "benchmark", "problem_id", "sample", "extracted", "correct",
                  "grade_reason", "answer_type", "finish_reason", "completion_tokens", "words")


@dataclass(frozen=True)
class GradeRunConfig:
    """A grade run: how to grade, where gold answers come from, which metrics."""

    grade: GradeConfig = field(default_factory=GradeConfig)
    benchmark: str | None = None
    benchmark_source: str | None = None
    ks: tuple[int, ...] | None = None
    n_boot: int = 1000
    seed: int = 0
    chunk_rows: int = 256

    def __post_init__(self):
        if self.ks is not None and any(isinstance(k, bool) or not isinstance(k, int)
                                       or not 1 <= k < 2**31 for k in self.ks):
            raise ConfigError(f"ks (--ks) must be integers from 1 to 2**31 - 1, got "
                              f"{','.join(map(str, self.ks))[:80]}")
        if self.n_boot < 0 or not 0 <= self.seed < 2**63 or self.chunk_rows < 1:
            raise ConfigError(f"n_boot must be >= 0, seed from 0 to 2**63 - 1 and chunk_rows "
                              f">= 1, got {self.n_boot}, {self.seed}, {self.chunk_rows}")

    def record(self) -> dict[str, Any]:
        return {**self.grade.as_dict(), "benchmark": self.benchmark,
                "ks": list(self.ks) if self.ks else None, "n_boot": self.n_boot,
                "seed": self.seed}


@dataclass
class GradeRun:
    out_dir: Path
    n_graded: int
    n_resumed: int
    metrics: dict[str, Any]
    report: LoadReport
    join: dict[str, int] | None
    elapsed_s: float
    warnings: list[str] = field(default_factory=list)


def _fingerprint(sources: list[str]) -> list[list[Any]]:
    out = []
    for s in sources:
        p = Path(s)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            st = f.stat() if f.exists() else None
            out.append([str(f), st.st_size if st else None, st.st_mtime_ns if st else None])
    return out


class _Journal:
    """Append-only grades of a run, keyed by the inputs and settings they were made with."""

    def __init__(self, directory: Path, key: str):
        self.dir = directory
        self.path = directory / JOURNAL
        self.key = key
        self.done: dict[str, tuple[str | None, bool | None, str]] = {}
        self.discarded = False
        self.repaired = 0
        self._fd = -1

    def open(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        key_file = self.dir / JOURNAL_KEY
        old_key = None
        if key_file.exists():
            try:
                old_key = orjson.loads(key_file.read_bytes()).get("key")
            except (orjson.JSONDecodeError, AttributeError):
                old_key = None
        if old_key != self.key:
            self.discarded = self.path.exists() and self.path.stat().st_size > 0
            self.path.unlink(missing_ok=True)
            key_file.write_bytes(orjson.dumps({"key": self.key}))
        else:
            rows, info = scan_append_log(self.path, _parse_grade, what="grade journal")
            self.done = {r[0]: r[1:] for r in rows}
            self.repaired = info["repaired_bytes"]
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, df: pl.DataFrame) -> None:
        data = b"".join(orjson.dumps({"id": r[0], "extracted": r[1], "correct": r[2],
                                      "grade_reason": r[3]}) + b"\n"
                        for r in df.select("id", *RESULT_COLUMNS).iter_rows())
        view = memoryview(data)
        while view:  # one record per line; only the last line of a killed write can be torn
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def _parse_grade(rec: Any) -> tuple[str, str | None, bool | None, str]:
    if not isinstance(rec, dict) or "id" not in rec or "grade_reason" not in rec:
        raise ValueError("not a grade record")
    return str(rec["id"]), rec.get("extracted"), rec.get("correct"), str(rec["grade_reason"])


def _with_results(batch: pl.DataFrame, done: dict[str, tuple]) -> pl.DataFrame:
    """The batch with its grades; the grades leave ``done`` (ids are unique), so it holds at
    most the journal's not-yet-read part plus one batch."""
    rows = [done.pop(i) for i in batch["id"].to_list()]
    return batch.with_columns(
        pl.Series("extracted", [r[0] for r in rows], dtype=pl.String),
        pl.Series("correct", [r[1] for r in rows], dtype=pl.Boolean),
        pl.Series("grade_reason", [r[2] for r in rows], dtype=pl.String))


def _metric_rows(graded: pl.DataFrame) -> pl.DataFrame:
    df = graded.with_columns(pl.col("response").fill_null("").str.count_matches(r"\S+")
                             .alias("words"))
    return df.select([c for c in METRIC_COLUMNS if c in df.columns])


def run_grade(sources: list[str], out_dir: str | Path, config: GradeRunConfig | None = None,
              load_options: LoadOptions | None = None, *,
              on_progress: Callable[[LoadReport, int], None] | None = None) -> GradeRun:
    """Grade ``sources`` into ``out_dir`` (see the module docstring)."""
    t0 = time.monotonic()
    config = config or GradeRunConfig()
    load_options = load_options or LoadOptions()
    problems = attach = None
    data_files: list[dict[str, Any]] = []
    if config.benchmark:
        from reasonlens.grade.join import attach_gold
        from reasonlens.problems import load_benchmark

        problems = load_benchmark(config.benchmark, config.benchmark_source)
        attach = attach_gold
        data_files.append({"kind": "benchmark", "name": config.benchmark,
                           "source": config.benchmark_source or "hub",
                           "hash": file_hash(config.benchmark_source)
                           if config.benchmark_source else None})
    key = content_hash({"config": config.record(), "load": asdict(load_options),
                        "inputs": _fingerprint(list(sources)), "data": data_files})
    join = {"matched_by_id": 0, "matched_by_text": 0, "unmatched": 0} if problems is not None \
        else None
    with stage_output(out_dir, stage="grade", sources=sources) as so:
        report = LoadReport(rejects_path=str(so.file("rejects.jsonl")))
        hasher = InputHasher.started(list(sources))
        journal = _Journal(so.resume_dir, key)
        journal.open()
        sink = ParquetSink(so.file("graded.parquet"))
        slim: list[pl.DataFrame] = []
        n = n_resumed = 0
        try:
            for batch in iter_trace_batches(list(sources), load_options, report):
                if problems is not None:
                    batch, info = attach(batch, problems)
                    for k, v in info.items():
                        join[k] += v
                if "answer_type" not in batch.columns:
                    batch = batch.with_columns(pl.Series("answer_type", row_answer_types(batch),
                                                         dtype=pl.String))
                done = journal.done
                todo = batch.filter(pl.Series([i not in done for i in batch["id"].to_list()],
                                              dtype=pl.Boolean))
                n_resumed += batch.height - todo.height
                for start in range(0, todo.height, config.chunk_rows):
                    chunk = grade_frame(todo.slice(start, config.chunk_rows), config.grade)
                    journal.append(chunk)
                    journal.done.update({r[0]: r[1:] for r in chunk.select(
                        "id", *RESULT_COLUMNS).iter_rows()})
                graded = _with_results(batch, journal.done)
                sink.write(graded)
                slim.append(_metric_rows(graded))
                n += batch.height
                if on_progress is not None:
                    on_progress(report, n)
            require_rows(n, report, sources, "grade")
        except BaseException:
            journal.close()
            sink.close({"partial": True})
            raise
        journal.close()
        rows = pl.concat(slim, how="vertical_relaxed")
        metrics, warnings = grade_metrics(rows, config)
        hasher.join()
        so.inputs = hasher.records
        prov = so.stamp(provenance(command="grade", config=config.record(),
                                   data_files=data_files, inputs=hasher.records))
        metrics["provenance"] = prov
        load = report.summary()
        if report.n_rejected:
            load["rejects_file"] = str(so.final / "rejects.jsonl")
        metrics["grading"] = {"join": join, "load": load, "resumed": n_resumed,
                              "journal_discarded": journal.discarded}
        sink.close(prov)
        so.write_json("metrics.json", metrics)
    if journal.discarded:
        warnings.insert(0, f"a previous partial grade in {so.resume_dir} was made with other "
                           "inputs or settings; it was discarded")
    return GradeRun(out_dir=so.final, n_graded=n, n_resumed=n_resumed, metrics=metrics,
                    report=report, join=join, elapsed_s=time.monotonic() - t0,
                    warnings=warnings)


def grade_metrics(rows: pl.DataFrame, config: GradeRunConfig) -> tuple[dict[str, Any], list[str]]:
    """Metrics without the no-gold responses (counted), and the k values no group could give."""
    warnings: list[str] = []
    key = ["model", "benchmark"]
    rows = rows.with_columns(pl.col(c).fill_null("unknown") for c in key if c in rows.columns)
    no_gold = rows.filter(pl.col("grade_reason") == "no_gold")
    gradable = rows.filter(pl.col("grade_reason") != "no_gold")
    ks = list(config.ks) if config.ks else None
    metrics = compute_metrics(gradable, ks=ks, n_boot=config.n_boot, seed=config.seed) \
        if gradable.height else {"models": {}}
    counts = {(r["model"], r["benchmark"]): r["len"]
              for r in no_gold.group_by(key).len().iter_rows(named=True)}
    excluded: dict[str, dict[str, int]] = {}
    for (m, b), c in counts.items():
        bd = metrics["models"].get(m, {}).get("benchmarks", {}).get(b)
        if bd is None:
            excluded.setdefault(m, {})[b] = c
        else:
            bd["n_no_gold"] = c
    for m, md in metrics["models"].items():
        for b, bd in md["benchmarks"].items():
            bd.setdefault("n_no_gold", 0)
            if ks:
                missing = [k for k in ks if str(k) not in bd["pass_at_k"]]
                bd["ks_unavailable"] = missing
                if missing:
                    warnings.append(
                        f"{m} / {b}: pass@k and maj@k for k = {', '.join(map(str, missing))} "
                        f"not reported: only {bd['samples_per_problem']['min']} sample(s) for "
                        "some problem")
    n_no_gold = no_gold.height
    metrics["no_gold"] = {"n": n_no_gold, "excluded_groups": excluded}
    if n_no_gold:
        warnings.append(f"{n_no_gold} response(s) have no gold answer: excluded from accuracy, "
                        "pass@k and maj@k (grade_reason no_gold)")
    return metrics, warnings
