"""Distillation and RL data: the AIME 1983-2023 pool, teacher sampling, the chat dataset.

    # 1. the problem pool (dedupe, contamination check against AIME 2024/2025)
    python -m training.data pool --source ../shared/data --out out/distill
    # 2. teacher traces through any OpenAI-compatible endpoint (resumable; usage in the sidecar)
    python -m training.data sample --pool out/distill/pool.parquet --out out/distill \\
        --base-url https://api.deepseek.com/v1 --model deepseek-reasoner \\
        --api-key-env DEEPSEEK_API_KEY
    # 3. the chat dataset (unscreened by default; --keep-correct keeps graded-correct traces only)
    python -m training.data build --traces out/distill/traces.jsonl \\
        --pool out/distill/pool.parquet --out out/distill
    # prompts with gold answers for zero-RL
    python -m training.data rl-prompts --benchmark aime_1983_2023 --source ../shared/data \\
        --out out/rl

Outputs carry provenance (``stats.json``, ``contamination.json``, parquet metadata).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson
import polars as pl

from reasonlens.errors import ConfigError, ReasonlensError

DEFAULT_TESTS = ("aime24", "aime25")


# --- steps (importable) ------------------------------------------------------------------------

def load_tests(names: tuple[str, ...], source: str | None) -> pl.DataFrame:
    from reasonlens.problems import load_benchmark

    frames = [load_benchmark(n, source) for n in names]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(
        schema={"benchmark": pl.String, "problem_id": pl.String, "problem": pl.String})


def build_pool(pool: pl.DataFrame, tests: pl.DataFrame | None, *, drop_contaminated: bool,
               ngram: int = 8, threshold: float = 0.5) -> tuple[pl.DataFrame, dict[str, Any]]:
    """De-duplicate the pool and check it against the test problems. Returns (pool, report)."""
    from training.dataprep import ContaminationConfig, contamination, dedupe_problems

    kept, dropped = dedupe_problems(pool)
    report: dict[str, Any] = {"n_input": pool.height, "n_duplicates": dropped.height,
                              "duplicates": dropped.select("problem_id", "duplicate_of").to_dicts()}
    if tests is not None and tests.height:
        cfg = ContaminationConfig(n=ngram, threshold=threshold)
        cont = contamination(kept, tests, cfg)
        flagged = cont.filter(pl.col("flagged"))
        report["contamination"] = {
            "tests": sorted(set(tests["benchmark"].to_list())), "n_test_problems": tests.height,
            "ngram": cfg.n, "threshold": cfg.threshold, "n_flagged": flagged.height,
            "n_exact": int(cont["exact"].sum()), "max_overlap": float(cont["overlap"].max() or 0),
            "flagged": flagged.to_dicts(),
            "top_overlaps": cont.sort("overlap", descending=True).head(10).to_dicts(),
            "dropped": drop_contaminated}
        if drop_contaminated and flagged.height:
            kept = kept.filter(~pl.col("problem_id").is_in(flagged["problem_id"].to_list()))
    else:
        report["contamination"] = None
    report["n_output"] = kept.height
    return kept, report


def _prompts(pool: pl.DataFrame, template: str) -> dict[str, list[dict[str, str]]]:
    from reasonlens.problems import render_prompt

    return {str(r["problem_id"]): render_prompt(r, template) for r in pool.iter_rows(named=True)}


def select_traces(traces: pl.DataFrame, pool: pl.DataFrame, *, keep_correct: bool,
                  keep_truncated: bool, max_per_problem: int | None, grade: bool
                  ) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Join traces to the pool, grade, filter, de-duplicate. Returns (traces, counts)."""
    from training.dataprep import dedupe_responses

    counts: dict[str, Any] = {"n_traces": traces.height}
    meta = pool.select(pl.col("problem_id").cast(pl.String),
                       pl.col("gold").alias("_pool_gold"), pl.col("answer_type"))
    df = traces.with_columns(pl.col("problem_id").cast(pl.String)).join(meta, on="problem_id",
                                                                         how="left")
    unknown = df.filter(pl.col("_pool_gold").is_null() & pl.col("answer_type").is_null())
    counts["n_not_in_pool"] = unknown.height
    df = df.filter(~(pl.col("_pool_gold").is_null() & pl.col("answer_type").is_null()))
    df = df.with_columns(pl.coalesce("gold", "_pool_gold").alias("gold")).drop("_pool_gold")
    if grade or keep_correct:
        from reasonlens.grade import grade_frame

        df = grade_frame(df)
        counts["teacher_accuracy"] = (float(df["correct"].fill_null(False).mean())
                                      if df.height else None)
        counts["n_correct"] = int(df["correct"].fill_null(False).sum())
        counts["grade_reasons"] = dict(df.group_by("grade_reason").len().rows())
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Boolean).alias("correct"))
    cut = (pl.col("finish_reason") == "length").fill_null(False) | \
        (pl.col("think_closed") == False).fill_null(False)  # noqa: E712
    counts["n_truncated"] = int(df.select(cut.sum()).item())
    if not keep_truncated:
        df = df.filter(~cut)
    empty = pl.col("reasoning").fill_null("").str.strip_chars().eq("") & \
        pl.col("answer").fill_null("").str.strip_chars().eq("")
    counts["n_empty"] = int(df.select(empty.sum()).item())
    df = df.filter(~empty)
    if keep_correct:
        df = df.filter(pl.col("correct").fill_null(False))
    df, dup = dedupe_responses(df)
    counts["n_duplicate_responses"] = dup.height
    if max_per_problem is not None:
        order = [pl.col("correct").fill_null(False).not_(), pl.col("sample")]
        df = (df.with_row_index("_i").sort([*order, "_i"]).group_by("problem_id",
              maintain_order=True).head(max_per_problem).sort("_i").drop("_i"))
    counts["n_selected"] = df.height
    counts["n_problems"] = df["problem_id"].n_unique()
    return df, counts


def write_dataset(rows: list[dict], out: Path) -> None:
    """``out/dataset`` (datasets save_to_disk, split train) and ``out/train.jsonl``."""
    import datasets

    from reasonlens.io import atomic_write_bytes

    ds = datasets.Dataset.from_list(rows)
    target = out / "dataset"
    tmp = out / ".dataset.tmp"
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp))
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    atomic_write_bytes(out / "train.jsonl", b"".join(orjson.dumps(r) + b"\n" for r in rows))


def save_chart(chart, stem: Path) -> list[str]:
    """Chart spec as JSON, and PNG through vl-convert (Altair's saver)."""
    from reasonlens.io import atomic_write_bytes

    written = []
    atomic_write_bytes(stem.with_suffix(".vl.json"), orjson.dumps(chart.to_dict(),
                                                                  option=orjson.OPT_INDENT_2))
    written.append(str(stem.with_suffix(".vl.json")))
    chart.save(str(stem.with_suffix(".png")), format="png", scale_factor=2)
    written.append(str(stem.with_suffix(".png")))
    return written


def _prov(command: str, config: dict[str, Any], inputs: list[str]) -> dict[str, Any]:
    from reasonlens.provenance import file_hash, provenance

    return provenance(command=command, config=config,
                      inputs=[{"path": p, "hash": file_hash(p) if Path(p).exists() else None}
                              for p in inputs])


# --- CLI ---------------------------------------------------------------------------------------

@click.group(help="Build the distillation data (AIME 1983-2023 pool -> teacher traces -> chat "
                  "dataset) and the zero-RL prompt set.")
def cli() -> None:
    pass


def _handle(func):
    import functools

    @functools.wraps(func)
    def inner(*a, **k):
        try:
            return func(*a, **k)
        except ReasonlensError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(getattr(exc, "exit_code", 1))
    return inner


@cli.command("pool", help="Load the problem pool, de-duplicate it and check it against the test "
                          "problems. Writes OUT/pool.parquet and OUT/contamination.json.")
@click.option("--benchmark", default="aime_1983_2023", show_default=True,
              help="Registered benchmark to use as the pool.")
@click.option("--source", help="Local file or data root (e.g. ../shared/data); default: the hub.")
@click.option("--test", "tests", multiple=True, default=DEFAULT_TESTS, show_default=True,
              help="Test benchmarks to check for contamination (repeatable).")
@click.option("--test-source", help="Data root for the test benchmarks (default: --source when "
                                    "it is a directory, else the hub).")
@click.option("--no-contamination", is_flag=True, help="Skip the contamination check.")
@click.option("--drop-contaminated", is_flag=True, help="Drop flagged problems from the pool.")
@click.option("--ngram", default=8, show_default=True, help="Word n-gram size for overlap.")
@click.option("--overlap-threshold", default=0.5, show_default=True,
              help="Flag a problem when this share of its n-grams occurs in one test problem.")
@click.option("--limit", type=int, help="Keep only the first N problems (smoke runs).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@_handle
def pool_cmd(benchmark, source, tests, test_source, no_contamination, drop_contaminated, ngram,
             overlap_threshold, limit, out):
    from reasonlens.problems import load_benchmark
    from reasonlens.io import write_json, write_parquet

    outp = Path(out)
    pool = load_benchmark(benchmark, source, limit=limit)
    tsrc = test_source or (source if source and Path(source).is_dir() else None)
    test_df = None if no_contamination else load_tests(tuple(tests), tsrc)
    kept, report = build_pool(pool, test_df, drop_contaminated=drop_contaminated, ngram=ngram,
                              threshold=overlap_threshold)
    prov = _prov("training.data pool", {"benchmark": benchmark, "source": source,
                                        "tests": list(tests), "ngram": ngram,
                                        "threshold": overlap_threshold, "limit": limit},
                 [source] if source else [])
    write_parquet(kept, outp / "pool.parquet", prov)
    write_json(outp / "contamination.json", {**report, "provenance": prov})
    c = report["contamination"]
    click.echo(f"pool: {kept.height} problems ({report['n_duplicates']} duplicates removed)"
               + ("" if c is None else f"; contamination vs {', '.join(c['tests'])}: "
                  f"{c['n_flagged']} flagged ({c['n_exact']} exact), max overlap "
                  f"{c['max_overlap']:.2f}") + f"; wrote {outp}")


@cli.command("sample", help="Sample teacher traces for the pool through an OpenAI-compatible "
                            "endpoint (reasonlens.generate.run_generation: resumable, usage "
                            "accounted). Writes OUT/traces.jsonl and its provenance sidecar.")
@click.option("--pool", "pool_path", required=True, type=click.Path(exists=True, dir_okay=False),
              help="pool.parquet from `pool`.")
@click.option("--base-url", "base_urls", multiple=True, required=True,
              help="Endpoint base URL, e.g. https://api.deepseek.com/v1 (repeatable).")
@click.option("--model", required=True, help="Served model name (e.g. deepseek-reasoner).")
@click.option("--model-name", help="Name recorded in the traces (default: --model).")
@click.option("--api-key-env", default="OPENAI_API_KEY", show_default=True,
              help="Environment variable holding the API key.")
@click.option("--concurrency", default=8, show_default=True, help="Requests in flight.")
@click.option("--temperature", default=0.6, show_default=True, help="Sampling temperature.")
@click.option("--top-p", default=0.95, show_default=True, help="Nucleus sampling.")
@click.option("--max-tokens", default=32768, show_default=True, help="New-token limit.")
@click.option("-n", "n", default=1, show_default=True, help="Traces per problem.")
@click.option("--seed", type=int, help="Base seed (sample s uses seed+s).")
@click.option("--template", default="boxed_cot", show_default=True, help="Prompt template.")
@click.option("--limit", type=int, help="Only the first N problems.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@_handle
def sample_cmd(pool_path, base_urls, model, model_name, api_key_env, concurrency, temperature,
               top_p, max_tokens, n, seed, template, limit, out):
    from reasonlens.endpoint import EndpointConfig
    from reasonlens.generate import SamplingConfig, run_generation

    pool = pl.read_parquet(pool_path)
    if limit:
        pool = pool.head(limit)
    endpoint = EndpointConfig(base_urls=tuple(base_urls), model=model, api_key_env=api_key_env,
                              concurrency=concurrency)
    sampling = SamplingConfig(temperature=temperature, top_p=top_p, max_tokens=max_tokens, n=n,
                              seed=seed, template=template)
    summary = run_generation(pool, endpoint, sampling, Path(out) / "traces.jsonl",
                             model_name=model_name, condition={"name": "distill-teacher"})
    click.echo(orjson.dumps({k: v for k, v in summary.items() if k != "errors"},
                            option=orjson.OPT_INDENT_2).decode())
    if summary.get("failed"):
        click.echo(f"{summary['failed']} samples failed; rerun the same command to resume",
                   err=True)
        sys.exit(1)


@cli.command("build", help="Turn teacher traces into the chat-format SFT dataset: OUT/dataset "
                           "(datasets save_to_disk), OUT/train.jsonl, OUT/stats.json and the "
                           "length histogram OUT/lengths.png (+ .vl.json).")
@click.option("--traces", "trace_paths", multiple=True, required=True,
              type=click.Path(exists=True), help="Trace file(s) (JSONL from `sample`, or any "
                                                  "layout reasonlens.traces reads).")
@click.option("--pool", "pool_path", required=True, type=click.Path(exists=True),
              help="pool.parquet (problems, gold answers), or a JSONL/parquet problem file.")
@click.option("--template", default="boxed_cot", show_default=True,
              help="Prompt template for the user turn (use the one the teacher saw).")
@click.option("--keep-correct", is_flag=True, help="Keep only traces graded correct (default: "
                                                   "unscreened, as in the paper).")
@click.option("--keep-truncated", is_flag=True, help="Keep traces cut at the token limit (no "
                                                     "closing </think>); dropped by default.")
@click.option("--max-per-problem", default=1, show_default=True, type=int,
              help="Traces kept per problem (correct ones first, then by sample); 0: all.")
@click.option("--no-grade", is_flag=True, help="Do not grade (no teacher accuracy in stats).")
@click.option("--test", "tests", multiple=True, default=DEFAULT_TESTS, show_default=True,
              help="Test benchmarks for the contamination check (repeatable).")
@click.option("--test-source", help="Data root for the test benchmarks (default: the hub).")
@click.option("--no-contamination", is_flag=True, help="Skip the contamination check.")
@click.option("--drop-contaminated", is_flag=True, help="Drop traces of flagged problems.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@_handle
def build_cmd(trace_paths, pool_path, template, keep_correct, keep_truncated, max_per_problem,
              no_grade, tests, test_source, no_contamination, drop_contaminated, out):
    from reasonlens.io import write_json
    from reasonlens.traces import load_traces
    from training.dataprep import chat_rows, length_chart, length_frame, length_stats

    outp = Path(out)
    pool = _read_pool(pool_path)
    traces = load_traces(list(trace_paths))
    if traces.height == 0:
        raise ConfigError("no traces found in " + ", ".join(trace_paths))
    test_df = None if no_contamination else load_tests(tuple(tests), test_source)
    pool, pool_report = build_pool(pool, test_df, drop_contaminated=drop_contaminated)
    df, counts = select_traces(traces, pool, keep_correct=keep_correct,
                               keep_truncated=keep_truncated,
                               max_per_problem=max_per_problem or None, grade=not no_grade)
    if df.height == 0:
        raise ConfigError(f"no traces left after filtering: {counts}")
    rows = chat_rows(df, _prompts(pool.filter(pl.col("problem_id").is_in(
        df["problem_id"].to_list())), template))
    write_dataset(rows, outp)
    lengths = length_frame(df)
    stats = length_stats(lengths)
    chart = length_chart(lengths, title=f"Distillation traces ({df.height}, "
                         f"{'correct only' if keep_correct else 'unscreened'})", unit=stats["unit"])
    charts = save_chart(chart, outp / "lengths")
    prov = _prov("training.data build", {
        "template": template, "keep_correct": keep_correct, "keep_truncated": keep_truncated,
        "max_per_problem": max_per_problem, "tests": list(tests),
        "contamination": not no_contamination}, list(trace_paths) + [pool_path])
    write_json(outp / "stats.json", {"selection": counts, "lengths": stats,
                                     "pool": pool_report, "charts": charts,
                                     "screening": "correct-only" if keep_correct
                                     else "unscreened", "provenance": prov})
    c = pool_report.get("contamination")
    click.echo(f"{df.height} traces for {counts['n_problems']} problems "
               f"({'correct only' if keep_correct else 'unscreened'}; teacher accuracy "
               f"{counts.get('teacher_accuracy')}); median length {stats.get('median')} "
               f"{stats['unit']}; contamination flagged: "
               f"{'skipped' if c is None else c['n_flagged']}; wrote {outp}")


def _read_pool(path: str) -> pl.DataFrame:
    p = Path(path)
    if p.suffix == ".parquet":
        df = pl.read_parquet(p)
    elif p.suffix in (".jsonl", ".json"):
        df = pl.read_ndjson(p) if p.suffix == ".jsonl" else pl.read_json(p)
    else:
        raise ConfigError(f"{p}: the pool must be .parquet or .jsonl")
    for col in ("problem_id", "problem", "gold"):
        if col not in df.columns:
            raise ConfigError(f"{p}: the pool has no {col!r} column")
    if "answer_type" not in df.columns:
        from reasonlens.grade import infer_answer_type

        df = df.with_columns(pl.col("gold").map_elements(infer_answer_type,
                                                         return_dtype=pl.String)
                             .alias("answer_type"))
    if "benchmark" not in df.columns:
        df = df.with_columns(pl.lit("custom").alias("benchmark"))
    return df.with_columns(pl.col("problem_id").cast(pl.String), pl.col("gold").cast(pl.String))


@cli.command("rl-prompts", help="Prompts with gold answers for zero-RL (GRPO): OUT/dataset and "
                                "OUT/prompts.jsonl with prompt (chat messages), gold, "
                                "answer_type, problem_id.")
@click.option("--benchmark", help="Registered benchmark (e.g. aime_1983_2023, math500).")
@click.option("--source", help="With --benchmark: local file or data root. Without: a JSONL/"
                               "parquet problem file (problem_id, problem, gold).")
@click.option("--template", default="boxed_cot", show_default=True, help="Prompt template.")
@click.option("--test", "tests", multiple=True, default=DEFAULT_TESTS, show_default=True,
              help="Test benchmarks for the contamination check (repeatable).")
@click.option("--test-source", help="Data root for the test benchmarks.")
@click.option("--no-contamination", is_flag=True, help="Skip the contamination check.")
@click.option("--keep-contaminated", is_flag=True, help="Keep flagged problems (dropped by "
                                                        "default for RL prompts).")
@click.option("--limit", type=int, help="Only the first N problems.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output directory.")
@_handle
def rl_prompts_cmd(benchmark, source, template, tests, test_source, no_contamination,
                   keep_contaminated, limit, out):
    from reasonlens.problems import load_benchmark
    from reasonlens.io import write_json

    if benchmark:
        pool = load_benchmark(benchmark, source, limit=limit)
    elif source:
        pool = _read_pool(source).head(limit) if limit else _read_pool(source)
    else:
        raise ConfigError("pass --benchmark or --source")
    tsrc = test_source or (source if benchmark and source and Path(source).is_dir() else None)
    test_df = None if no_contamination else load_tests(tuple(tests), tsrc)
    pool, report = build_pool(pool, test_df, drop_contaminated=not keep_contaminated)
    prompts = _prompts(pool, template)
    rows = [{"prompt": prompts[str(r["problem_id"])], "gold": r["gold"],
             "answer_type": r["answer_type"], "problem_id": str(r["problem_id"]),
             "benchmark": r.get("benchmark")} for r in pool.iter_rows(named=True)]
    if not rows:
        raise ConfigError("no prompts left")
    outp = Path(out)
    write_dataset(rows, outp)
    (outp / "train.jsonl").rename(outp / "prompts.jsonl")
    prov = _prov("training.data rl-prompts", {"benchmark": benchmark, "source": source,
                                              "template": template, "limit": limit}, [])
    write_json(outp / "stats.json", {"n_prompts": len(rows), "pool": report, "provenance": prov})
    click.echo(f"{len(rows)} prompts; wrote {outp}")


main = cli

if __name__ == "__main__":
    cli()
