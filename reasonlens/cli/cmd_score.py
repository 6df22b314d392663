"""``reasonlens score``: count lexicon terms per response and aggregate per model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reasonlens.cli._common import echo_table, load_options, progress, trace_input_options
from reasonlens.traces.model import SCORE_BATCH_ROWS


@click.command("score")
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("--out", "-o", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output directory for responses.parquet, terms.parquet, summary.json.")
@click.option("--lexicon", "lexicons", multiple=True, metavar="NAME|PATH",
              help="Lexicon to count (a registered name or a TOML file; repeatable). Default: "
                   "the paper's three categories anthropomorphic, connectors, math. "
                   "See `reasonlens lexicons`.")
@click.option("--mode", type=click.Choice(["fast", "exact"]), default=None,
              help="fast: vectorised regex (default); exact: spaCy tokens (slower). Both "
                   "give the same counts (tested), also next to letters of other scripts.")
@click.option("--lemma", is_flag=True,
              help="Also count inflected forms (\"waiting\" for \"wait\") via spaCy's offline "
                   "lookup lemmatizer; implies --mode exact.")
@click.option("--parts", type=click.Choice(["all", "reasoning", "answer"]), default="all",
              show_default=True,
              help="What the totals and per-1k rates cover: both parts, only the reasoning "
                   "(before </think> or reasoning_content) or only the answer. Per-part columns "
                   "are always written.")
@trace_input_options
@click.option("--batch-rows", type=click.IntRange(1), default=SCORE_BATCH_ROWS,
              show_default=True,
              help="Responses per streamed batch, at most: a batch also ends at about 16 MB "
                   "of text (memory holds a few batches).")
@click.option("--behaviours", is_flag=True,
              help="Also count the cognitive behaviours (the paper's multi_perspective and "
                   "metacognitive, or --taxonomy's labels) with the offline detector, or with "
                   "the LLM judge when --base-url is given; on the text --parts names (all or "
                   "reasoning).")
@click.option("--detector", "detector_path", type=click.Path(dir_okay=False),
              help="With --behaviours: a detector file from `reasonlens detector train` "
                   "instead of the shipped one.")
@click.option("--taxonomy", metavar="NAME|PATH",
              help="With --behaviours: the behaviour taxonomy (paper, schoenfeld, gandhi).")
@click.option("--unit", type=click.Choice(["episodes", "sentences"]),
              help="With --behaviours: count unit (default episodes).")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="OpenAI-compatible endpoint for the LLM judge (with --behaviours; "
                   "repeatable). The key is read from OPENAI_API_KEY.")
@click.option("--judge-model", help="Model name served at --base-url for the LLM judge.")
@click.option("--judge-max-tokens", type=click.IntRange(1), default=None,
              help="Reply token limit per judge call (default: the judge's, 1024). For "
                   "other judge settings run `reasonlens judge` and report both outputs.")
@click.option("--allow-failures", is_flag=True,
              help="With --behaviours: exit 0 even when some behaviour judgments failed "
                   "(their counts stay missing).")
@click.option("--quiet", "-q", is_flag=True, help="Do not print the per-model table.")
def command(inputs: tuple[str, ...], out_dir: str, lexicons: tuple[str, ...], mode: str | None,
            lemma: bool, parts: str, batch_rows: int, behaviours: bool,
            base_urls: tuple[str, ...], judge_model: str | None,
            judge_max_tokens: int | None, quiet: bool, detector_path: str | None,
            taxonomy: str | None, unit: str | None, allow_failures: bool,
            **kwargs: Any) -> None:
    """Count lexicon terms in traces, per response and per model.

    \b
    IN... are trace files (JSONL, .jsonl.gz, JSON, parquet), saved `datasets`
    directories or hub ids (hf://OWNER/NAME). Writes to --out:
      responses.parquet  one row per response: words, and per category C the
                         counts C, C_reasoning, C_answer and C_per_1k
      terms.parquet      per response, term and part, nonzero counts
      summary.json       per model and benchmark: per_1k_words, mean_per_response,
                         share_with_any, median_per_response; per term too
      rejects.jsonl      bad records skipped with --on-error skip
    Example:
      reasonlens score examples/traces.jsonl --out out/score
    """
    import dataclasses

    from reasonlens.provenance import InputHasher

    InputHasher.ahead(inputs)  # hashed on the other core while the imports below load
    from reasonlens.errors import ConfigError
    from reasonlens.lexicon.lexicons import DEFAULT_LEXICONS
    from reasonlens.lexcount.aggregate import model_table
    from reasonlens.lexcount.engine import ScoreConfig
    from reasonlens.lexcount.run import input_bytes, run_score

    opts = dataclasses.replace(load_options(kwargs), batch_rows=batch_rows)
    if mode is None:
        mode = "exact" if lemma else "fast"
    elif lemma and mode == "fast":
        raise ConfigError("--lemma needs --mode exact (lemmas come from spaCy tokens)")
    if (base_urls or judge_model or judge_max_tokens or detector_path or taxonomy or unit) \
            and not behaviours:
        raise ConfigError("--base-url/--judge-model/--judge-max-tokens/--detector/--taxonomy/"
                          "--unit are for --behaviours")
    config = ScoreConfig(lexicons=tuple(lexicons) or DEFAULT_LEXICONS, mode=mode, lemma=lemma,
                         parts=parts)
    config.matcher()  # fail early on a bad lexicon
    hook = info = None
    if behaviours:  # (the judge's modules, httpx among them, only then: 0.2 s of start-up)
        from reasonlens.judge.stage import behaviour_hook

        hook, info = behaviour_hook(base_urls, judge_model, judge_max_tokens,
                                    detector=detector_path, taxonomy=taxonomy, unit=unit,
                                    parts=parts)
    total = input_bytes(list(inputs))
    with progress("scoring", total=total) as bar:
        task = bar.add_task("scoring", total=total)

        def on_batch(report, n):
            bar.update(task, completed=report.bytes_read)

        result = run_score(list(inputs), out_dir, config, opts, behaviours=hook,
                           behaviour_info=info, on_batch=on_batch)
        if total:
            bar.update(task, completed=total)
    summary = result.summary
    if not quiet:
        cols, rows = model_table(summary, [lx for lx in summary["lexicons"]])
        echo_table(f"reasonlens score ({mode}, parts={parts}; per 1k words, share of responses "
                   "with any)", cols, rows)
    out = Path(out_dir)
    rep = result.report
    click.echo(f"Scored {result.n_responses} responses from {rep.n_records} records in "
               f"{result.elapsed_s:.1f} s; wrote {out / 'responses.parquet'}, "
               f"{out / 'terms.parquet'}, {out / 'summary.json'}", err=True)
    if rep.n_rejected:
        click.echo(f"Skipped {rep.n_rejected} bad record(s), written to {out / 'rejects.jsonl'}"
                   f"; first: {rep.first_errors[0]}", err=True)
    if rep.dropped_line():
        click.echo(rep.dropped_line(), err=True)
    if behaviours and not allow_failures:
        _fail_on_behaviour_failures(out / "responses.parquet")


def _fail_on_behaviour_failures(responses: Path) -> None:
    """The judge's rule in score --behaviours too: a failed behaviour judgment (its count
    missing) is a non-zero exit, after the outputs are written (it used to exit 0)."""
    import polars as pl

    from reasonlens.judge.stage import FAILED, JudgeFailures

    lf = pl.scan_parquet(responses)
    cols = [c for c in lf.collect_schema().names() if c.endswith("_status")]
    if not cols:
        return
    st = lf.select(pl.concat_list(cols).alias("s")).explode("s").collect().get_column("s")
    failed = st.filter(st.is_in(list(FAILED)))
    if len(failed):
        why = ", ".join(f"{k}: {v}" for k, v in sorted(failed.value_counts().iter_rows()))
        raise JudgeFailures(f"{len(failed)} of {len(st)} behaviour judgments failed ({why}); "
                            f"their counts are missing (null) in {responses} (outputs written; "
                            "pass --allow-failures to accept them)")
