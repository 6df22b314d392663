"""Streaming scoring run: traces in, ``responses.parquet``, ``terms.parquet``, ``summary.json`` out.

Batches from :func:`reasonlens.traces.iter_trace_batches` are scored one at a time and appended
to the parquet files with ``pyarrow.parquet.ParquetWriter``, so memory holds one batch whatever
the input size; the aggregates are computed at the end by scanning the written files lazily.

The output directory is written as one step (:func:`reasonlens.io.stage_output`: a lock, a
fresh temporary directory renamed into place with a manifest). If loading stops on a bad record
(``on_error="fail"``) or the run is interrupted, the previous output is untouched and what was
scored is kept in ``<out>.partial/`` (``responses.parquet``, ``terms.parquet``); the error says
so. No usable response at all is an error (:func:`reasonlens.traces.load.require_rows`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import InputError
from reasonlens.io import ParquetSink, final_partial, stage_output
from reasonlens.provenance import InputHasher, provenance
from reasonlens.lexicon.count import counting_engine
from reasonlens.lexcount.aggregate import PartialCounts, summary_from_partials
from reasonlens.lexcount.engine import ScoreConfig, score_batch
from reasonlens.schema import ID_COLUMNS
from reasonlens.traces.load import LoadOptions, LoadReport, iter_trace_batches, require_rows

BehaviourFn = Callable[[pl.DataFrame], pl.DataFrame]
SCORE_WORKERS = 2   # batches counted at once
RESPONSE_ROW_GROUP = 16_384   # responses per row group at least (a batch holds ~2,500 R1 traces)


@dataclass
class ScoreResult:
    out_dir: Path
    n_responses: int
    report: LoadReport
    summary: dict[str, Any]
    elapsed_s: float
    files: dict[str, str] = field(default_factory=dict)


def prefetch(batches: Iterator[pl.DataFrame], depth: int = 2) -> Iterator[pl.DataFrame]:
    """Read the next batches in a background thread while the current one is scored.

    Parsing holds the GIL but counting (polars) releases it, so the two overlap on two cores.
    Items and the loader's final exception arrive in order, so a fail-mode error still comes
    after the rows read before it.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for b in batches:
                if not put(("batch", b)):
                    return
            put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(("error", exc))

    thread = threading.Thread(target=work, daemon=True, name="reasonlens-load")
    thread.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "batch":
                yield value
            elif kind == "end":
                return
            else:
                raise value
    finally:
        stop.set()
        thread.join(timeout=5)


def in_order(fn: Callable[[Any], Any], items: Iterator[Any], workers: int = SCORE_WORKERS
             ) -> Iterator[Any]:
    """``fn(item)`` for each item, ``workers`` at a time in threads, results in input order.
    The serial parts of one batch (joins, Python) overlap the GIL-free parts of the next."""
    from concurrent.futures import ThreadPoolExecutor

    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reasonlens-score")
    pending: list = []
    it = iter(items)
    try:
        while True:
            try:
                item = next(it)
            except StopIteration:
                break
            except BaseException:  # the input's own error (a bad record) comes after the
                while pending:     # results of the batches before it
                    yield pending.pop(0).result()
                raise
            pending.append(pool.submit(fn, item))
            if len(pending) >= workers:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


class BackgroundWriter:
    """Writes scored batches to their sinks and adds their partial counts in a thread of its own,
    in order, while the next batch is counted (parquet encoding and the polars group-bys release
    the GIL). ``put`` hands a batch over (waiting while ``depth`` batches are pending) and raises
    the writer's error, if it had one; ``close`` waits until everything handed over is written."""

    def __init__(self, sinks: tuple[ParquetSink, ParquetSink], partials: PartialCounts,
                 depth: int = 2):
        self.sinks, self.partials = sinks, partials
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        self._raised = False
        self.thread = threading.Thread(target=self._work, daemon=True, name="reasonlens-write")
        self.thread.start()

    def _work(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is not None:
                continue  # keep draining so that put() never blocks forever
            try:
                resp, terms = item
                self.sinks[0].write(resp)
                self.sinks[1].write(terms)
                self.partials.add(resp, terms)
            except BaseException as exc:  # noqa: BLE001 - handed to the scoring thread
                self.error = exc

    def put(self, resp: pl.DataFrame, terms: pl.DataFrame) -> None:
        self._raise()
        self.q.put((resp, terms))

    def close(self) -> None:
        if self.thread.is_alive():
            self.q.put(None)
            self.thread.join()
        self._raise()

    def _raise(self) -> None:
        if self.error is not None and not self._raised:
            self._raised = True  # once: a failed writer writes nothing more
            raise self.error


def input_bytes(sources: list[str]) -> int | None:
    """Total size of the input files (None when one is not a local path)."""
    total = 0
    for s in sources:
        p = Path(s)
        if p.is_file():
            total += p.stat().st_size
        elif p.is_dir():
            total += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
        else:
            return None
    return total


def run_score(sources: list[str], out_dir: str | Path, config: ScoreConfig,
              load_options: LoadOptions | None = None, *,
              behaviours: BehaviourFn | None = None,
              behaviour_info: dict[str, Any] | None = None,
              on_batch: Callable[[LoadReport, int], None] | None = None) -> ScoreResult:
    """Score ``sources`` into ``out_dir`` (see the module docstring)."""
    t0 = time.perf_counter()
    load_options = load_options or LoadOptions()
    matcher = config.matcher()
    with stage_output(out_dir, stage="score", sources=sources) as so:
        report = LoadReport(rejects_path=str(so.file("rejects.jsonl"))
                            if load_options.on_error == "skip" else None)
        hasher = InputHasher.started(list(sources))
        resp_sink = ParquetSink(so.file("responses.parquet"), min_rows=RESPONSE_ROW_GROUP)
        term_sink = ParquetSink(so.file("terms.parquet"))
        n = 0
        partials = PartialCounts(matcher.categories, config.parts)
        writer = BackgroundWriter((resp_sink, term_sink), partials)
        try:
            def count(batch: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
                resp, terms = score_batch(batch, matcher, config, coded=True)
                if behaviours is not None:
                    resp = _with_behaviours(resp, behaviours(batch))
                return resp, terms

            batches = prefetch(iter_trace_batches(list(sources), load_options, report))
            for resp, terms in in_order(count, (b for b in batches if len(b))):
                writer.put(resp, terms)
                n += len(resp)
                if on_batch is not None:
                    on_batch(report, n)
            writer.close()
            require_rows(n, report, sources, "score")
        except BaseException as exc:
            try:
                writer.close()  # what was scored reaches the partial files
            except BaseException:  # noqa: BLE001 - keep the original error
                pass
            _close_partial(resp_sink, term_sink)
            if isinstance(exc, InputError) and n:
                kept = final_partial(so.final) / "responses.parquet"
                raise InputError(
                    f"{exc.reason} (the {n} responses scored before it are kept in {kept}; "
                    "the previous output is untouched; use --on-error skip to skip bad "
                    "records)", path=exc.path, line=exc.line, field=exc.field) from exc
            raise
        hasher.join()
        so.inputs = hasher.records
        prov = so.stamp(provenance(
            command="score",
            config={"score": config.record(), "load": _load_record(load_options),
                    "behaviours": behaviour_info},
            data_files=[lx.record() for lx in matcher.lexicons],
            inputs=hasher.records))
        resp_sink.close(prov)
        term_sink.close(prov)
        summary = summary_from_partials(partials.merged(), matcher.lexicons)
        summary["parts"] = config.parts
        summary["engine"] = counting_engine(matcher, config.mode)
        summary["lexicons"] = {lx.name: {"version": lx.version, "n_terms": len(lx.terms),
                                         "sha256": lx.sha256} for lx in matcher.lexicons}
        summary["load"] = report.summary()
        if report.n_rejected:
            summary["load"]["rejects_file"] = str(so.final / "rejects.jsonl")
        if behaviour_info:
            summary["behaviour_source"] = behaviour_info
        summary["provenance"] = prov
        so.write_json("summary.json", summary)
    out = so.final
    files = {"responses": str(out / "responses.parquet"), "terms": str(out / "terms.parquet"),
             "summary": str(out / "summary.json")}
    if report.n_rejected:
        files["rejects"] = str(out / "rejects.jsonl")
    return ScoreResult(out_dir=out, n_responses=n, report=report, summary=summary,
                       elapsed_s=time.perf_counter() - t0, files=files)


def _close_partial(resp_sink: ParquetSink, term_sink: ParquetSink) -> None:
    prov = {"partial": True, "note": "run stopped before the end; see the error message"}
    for sink in (resp_sink, term_sink):
        try:
            sink.close(prov)
        except Exception:  # noqa: BLE001 - keep the original error
            pass


def _with_behaviours(resp: pl.DataFrame, judged: pl.DataFrame) -> pl.DataFrame:
    keep = [c for c in judged.columns if c not in ID_COLUMNS or c == "id"]
    keep = [c for c in keep if not c.endswith(("_raw", "_reason"))]
    return resp.join(judged.select(keep), on="id", how="left", maintain_order="left")


def _load_record(options: LoadOptions) -> dict[str, Any]:
    return {k: v for k, v in asdict(options).items()}
