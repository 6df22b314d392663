"""``reasonlens judge-eval``: agreement of a behaviour judge with the human gold labels."""

from __future__ import annotations

from pathlib import Path

import click

from reasonlens.judge.gold import DEFAULT_GOLD

_METRIC_COLUMNS = (("kappa", "presence kappa"), ("qwk", "count QWK"),
                   ("spearman", "count Spearman"), ("mae", "count MAE"),
                   ("precision", "instance precision"), ("recall", "instance recall"),
                   ("f1", "instance F1"))


def _load_judged(judged: str, records, gold_path: Path):
    """The judgment frame for JUDGED plus a description of where it came from."""
    import polars as pl

    from reasonlens.errors import ConfigError
    from reasonlens.io import parquet_provenance
    from reasonlens.provenance import file_hash

    if judged == "offline":
        from reasonlens.judge import offline
        from reasonlens.judge.gold import gold_traces

        cfg = offline.OfflineConfig(gold_path=str(gold_path))
        frame = offline.detect(gold_traces(records), cfg)
        return frame, {"judged": "offline", **offline.provenance_record(cfg)}
    p = Path(judged)
    if p.is_dir():
        p = p / "judgments.parquet"
    if not p.is_file():
        raise ConfigError(f"JUDGED must be a judge output directory (with judgments.parquet), a "
                          f"judgments parquet file, or the word 'offline'; not found: {p}")
    frame = pl.read_parquet(p)
    return frame, {"judged": str(p), "hash": file_hash(p),
                   "judge_provenance": parquet_provenance(p)}


def _print_table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """A rich table on stdout, as wide as its content (never wrapped into unreadable cells)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for k, c in enumerate(columns):
        table.add_column(c, justify="left" if k == 0 else "right", no_wrap=True)
    for r in rows:
        table.add_row(*r)
    widths = [max(len(str(x)) for x in col) for col in zip(columns, *rows)]
    Console(width=max(100, sum(widths) + 3 * len(widths) + 4)).print(table)


@click.command(name="judge-eval")
@click.argument("judged", metavar="JUDGED")
@click.option("--gold", "gold_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=str(DEFAULT_GOLD), show_default=True,
              help="Gold labels (JSONL, schema annotations/schema.json).")
@click.option("--split", type=click.Choice(["test", "train", "all"]), default="test",
              show_default=True,
              help="Which gold responses to score. The offline detector trains on 'train', so "
                   "only 'test' is a fair measure of it.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write DIR/agreement.json and DIR/agreement_responses.parquet here.")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples (over responses) for the confidence intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--ci", "ci_level", type=click.FloatRange(0.5, 0.999), default=0.95,
              show_default=True, help="Confidence level of the intervals.")
def command(judged: str, gold_path: Path, split: str, out_dir: Path | None, n_boot: int,
            seed: int, ci_level: float) -> None:
    """Agreement of a behaviour judge with the human gold labels.

    JUDGED is a `reasonlens judge` output directory (or its judgments.parquet), or the word
    `offline` to run the offline detector on the gold responses. Reports, per behaviour, overall
    and per style: Cohen's kappa on presence, quadratic weighted kappa and Spearman on counts,
    MAE, and instance-level precision/recall/F1 (a predicted instance matches a gold one when
    its quote or sentence overlaps the gold span), each with a bootstrap confidence interval.
    Responses the judge did not answer (status other than ok) are reported as missing.
    """
    import polars as pl

    from reasonlens.io import write_json, write_parquet
    from reasonlens.judge.agreement import (MATCHING_RULE, AgreementConfig, evaluate,
                                            format_value)
    from reasonlens.judge.gold import load_gold
    from reasonlens.provenance import file_hash, provenance
    from reasonlens.registry import load

    records = load_gold(gold_path, split=split)
    if not records:
        raise click.UsageError(f"no gold responses in split {split!r} of {gold_path}")
    frame, judged_info = _load_judged(judged, records, gold_path)
    cfg = AgreementConfig(n_boot=n_boot, seed=seed, ci_level=ci_level)
    result = evaluate(records, frame, cfg)
    table: pl.DataFrame = result.pop("table")
    judges = sorted({str(x) for x in frame.get_column("judge").unique().to_list()}
                    ) if "judge" in frame.columns else []
    in_sample = judged == "offline" and split != "test"
    gold_ids = {r["id"] for r in records}
    n_matched = int(frame.filter(pl.col("id").is_in(list(gold_ids))).height)

    for b, block in result["behaviours"].items():
        blocks = [("all", block["overall"]), *block["by_style"].items()]
        cols = ["metric", *[f"{st} (n={e['n']}" + (f", {e['n_missing']} missing)"
                                                    if e["n_missing"] else ")")
                            for st, e in blocks]]
        rows = [[label, *[format_value(e[m]) for _, e in blocks]] for m, label in _METRIC_COLUMNS]
        rows.append(["mean count gold/judge",
                     *[f"{e['gold_mean_count']:.2f} / {e['pred_mean_count']:.2f}"
                       if e["n"] else "n/a" for _, e in blocks]])
        _print_table(f"{b}: {', '.join(judges) or judged} vs {gold_path.name}, {split} split "
                     f"({int(ci_level * 100)}% bootstrap CI, {n_boot} resamples)", cols, rows)
    if in_sample:
        click.echo("NOTE: the offline detector was trained on the train split; figures that "
                   "include it are in-sample (optimistic). Use --split test.", err=True)
    if n_matched < len(records):
        click.echo(f"NOTE: {len(records) - n_matched} of {len(records)} gold responses have no "
                   "judgment (counted as missing).", err=True)

    if out_dir is not None:
        rubrics = [load("rubric", b).record() for b in result["behaviours"]]
        gold_rec = {"kind": "gold", "name": gold_path.name, "path": str(gold_path),
                    "hash": file_hash(gold_path)}
        prov = provenance(command="judge-eval",
                          config={"split": split, **cfg.record(), "judged": judged},
                          data_files=[*rubrics, gold_rec], inputs=[judged_info])
        out = {"judge": judges, "split": split, "n_responses": len(records),
               "in_sample": in_sample, "matching": MATCHING_RULE,
               "bootstrap": {**cfg.record(), "unit": "response", "method": "percentile"},
               "behaviours": result["behaviours"], "provenance": prov}
        write_json(Path(out_dir) / "agreement.json", out)
        write_parquet(table, Path(out_dir) / "agreement_responses.parquet", prov)
        click.echo(f"wrote {Path(out_dir) / 'agreement.json'}", err=True)
