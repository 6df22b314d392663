"""``score`` and ``grade`` on Ray Data: read -> map_batches(stage) -> write_parquet, summaries
merged in the driver.

    ray.data.read_json(files, lines=True)    (or read_parquet: trace or raw-record tables)
      .map_batches(traces_table)             raw records -> trace rows (loader's field mapping)
      .map_batches(score_table)              the engine's score_batch (+ offline detector)
    -> responses/*.parquet, terms/*.parquet  (Ray's write_parquet: one file per block)
    -> summary.json                          partial counts per batch, added up in the driver,
                                             rates/medians computed once after the merge

Row order follows the input (``preserve_order``). Outputs are the same rows as ``reasonlens
score`` (tests/test_scale.py compares them on the shipped example); ``consolidate`` writes them
as the single ``responses.parquet`` / ``terms.parquet`` the other stages read.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.lexcount.engine import ScoreConfig
from reasonlens.scale import batches


@dataclass(frozen=True)
class RayConfig:
    """Where and how wide to run.

    - ``address``: a running Ray cluster (``ray://HOST:10001`` or ``auto``); None starts a local
      Ray with ``num_cpus`` CPUs (None: all of this machine's).
    - ``batch_rows``: responses per ``map_batches`` batch (memory per task holds one batch).
    """

    address: str | None = None
    num_cpus: int | None = None
    batch_rows: int = 4096
    behaviours: bool = False

    def __post_init__(self):
        if self.batch_rows < 1:
            raise ConfigError("batch_rows must be at least 1")


@dataclass
class RayScoreResult:
    out_dir: Path
    n_responses: int
    summary: dict[str, Any]
    elapsed_s: float


def _ray():
    from reasonlens._optional import import_optional

    return import_optional("ray")


def init(config: RayConfig):
    """Start (or join) Ray once per process; quiet, no dashboard."""
    import logging

    ray = _ray()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False,
                                  "logging_level": logging.WARNING}
        if config.address:
            kwargs["address"] = config.address
        elif config.num_cpus:
            kwargs["num_cpus"] = config.num_cpus
        ray.init(**kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    for name in ("ray", "ray.data"):  # Ray Data configures its loggers on import
        logging.getLogger(name).setLevel(logging.WARNING)
    return ray


def read(sources: list[str], config: RayConfig, load_options=None):
    """A Dataset of trace rows from JSONL files or parquet tables (traces or raw records)."""
    from reasonlens.schema import TRACE_SCHEMA
    from reasonlens.traces.readers import expand_sources

    ray = _ray()
    files = expand_sources(list(sources))
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise ConfigError(f"the Ray path reads local or cluster-visible files; not found: "
                          f"{', '.join(missing)}")
    parquet = [f for f in files if f.endswith(".parquet")]
    jsonl = [f for f in files if not f.endswith(".parquet")]
    parts = []
    if jsonl:
        parts.append(ray.data.read_json(jsonl, lines=True, include_paths=True))
    if parquet:
        parts.append(ray.data.read_parquet(parquet, include_paths=True))
    ds = parts[0] if len(parts) == 1 else parts[0].union(*parts[1:])
    if set(TRACE_SCHEMA) <= set(ds.schema().names):  # already trace rows (a stage's parquet)
        return ds.drop_columns(["path"])
    return ds.map_batches(batches.traces_table, batch_format="pyarrow",
                          batch_size=config.batch_rows,
                          fn_kwargs={"load_options": load_options})


def run_score_ray(sources: list[str], out_dir: str | Path, config: ScoreConfig,
                  ray_config: RayConfig | None = None, load_options=None) -> RayScoreResult:
    """Score ``sources`` on Ray into ``out_dir`` (responses/, terms/, summary.json)."""
    from reasonlens.lexcount.aggregate import merge_partials, summary_from_partials
    from reasonlens.provenance import input_records, provenance

    t0 = time.perf_counter()
    ray_config = ray_config or RayConfig()
    matcher = config.matcher()  # fail early on a bad lexicon
    init(ray_config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scored = read(list(sources), ray_config, load_options).map_batches(
        batches.score_table, batch_format="pyarrow", batch_size=ray_config.batch_rows,
        fn_kwargs={"config": config, "behaviours": ray_config.behaviours}).materialize()
    scored.map_batches(batches.responses_of, batch_format="pyarrow").write_parquet(
        str(out / "responses"), mode="overwrite")
    scored.map_batches(batches.terms_of, batch_format="pyarrow").write_parquet(
        str(out / "terms"), mode="overwrite")
    partials = [pl.from_arrow(b) for b in scored.map_batches(
        batches.partial_table, batch_format="pyarrow",
        fn_kwargs={"categories": matcher.categories, "parts": config.parts}
    ).iter_batches(batch_format="pyarrow", batch_size=None)]
    summary = summary_from_partials(merge_partials(partials), matcher.lexicons)
    n = sum(blk["n_responses"] for blk in summary["models"].values())
    summary["parts"] = config.parts
    summary["lexicons"] = {lx.name: {"version": lx.version, "n_terms": len(lx.terms),
                                     "sha256": lx.sha256} for lx in matcher.lexicons}
    summary["provenance"] = provenance(
        command="score (ray)", config={"score": config.record(), "ray": asdict(ray_config)},
        data_files=[lx.record() for lx in matcher.lexicons], inputs=input_records(sources))
    from reasonlens.io import write_json

    write_json(out / "summary.json", summary)
    return RayScoreResult(out_dir=out, n_responses=n, summary=summary,
                          elapsed_s=time.perf_counter() - t0)


@dataclass
class RayGradeResult:
    out_dir: Path
    n_graded: int
    metrics: dict[str, Any]
    elapsed_s: float


def run_grade_ray(sources: list[str], out_dir: str | Path, config=None,
                  ray_config: RayConfig | None = None, load_options=None) -> RayGradeResult:
    """Grade ``sources`` on Ray into ``out_dir``: graded/ (parquet shards) and metrics.json.

    Each batch is graded by ``grade.core.grade_frame`` (``map_batches``); pass@k, maj@k and
    their bootstrap CIs need every sample of a problem, so they are computed once in the
    driver from the slim metric rows of all batches (``grade.run.grade_metrics``)."""
    from reasonlens.grade.run import GradeRunConfig, grade_metrics
    from reasonlens.io import write_json
    from reasonlens.provenance import input_records, provenance

    t0 = time.perf_counter()
    config = config or GradeRunConfig()
    if config.benchmark:
        raise ConfigError("the Ray grade takes gold answers from the records; for --benchmark "
                          "run `reasonlens grade`")
    ray_config = ray_config or RayConfig()
    init(ray_config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    graded = read(list(sources), ray_config, load_options).map_batches(
        batches.grade_table, batch_format="pyarrow", batch_size=ray_config.batch_rows,
        fn_kwargs={"config": config.grade}).materialize()
    graded.write_parquet(str(out / "graded"), mode="overwrite")
    rows = pl.concat([pl.from_arrow(b) for b in graded.map_batches(
        batches.grade_metric_rows, batch_format="pyarrow").iter_batches(
        batch_format="pyarrow", batch_size=None)])
    metrics, warnings = grade_metrics(rows, config)
    metrics["warnings"] = warnings
    metrics["provenance"] = provenance(
        command="grade (ray)", config={"grade": config.record(), "ray": asdict(ray_config)},
        inputs=input_records(sources))
    write_json(out / "metrics.json", metrics)
    return RayGradeResult(out_dir=out, n_graded=rows.height, metrics=metrics,
                          elapsed_s=time.perf_counter() - t0)


def consolidate(out_dir: str | Path) -> dict[str, str]:
    """Merge the Ray shards (``responses/``, ``terms/``) into single parquet files, streaming."""
    out = Path(out_dir)
    files = {}
    for name in ("responses", "terms"):
        shards = sorted((out / name).glob("*.parquet"))
        if not shards:
            raise ConfigError(f"{out / name}: no parquet shards (run the Ray score first)")
        target = out / f"{name}.parquet"
        pl.scan_parquet(shards).sink_parquet(target)
        files[name] = str(target)
    return files
