"""``reasonlens judge-eval``: agreement of a behaviour judge with human labels (sentence-labelled
corpora, or the span-labelled gold set)."""

from __future__ import annotations

from pathlib import Path

import click

from reasonlens.registry import DEFAULT_GOLD   # (judge.gold imports polars: not for --help)

_METRIC_COLUMNS = (("kappa", "presence kappa"), ("qwk", "count QWK"),
                   ("spearman", "count Spearman"), ("mae", "count MAE"),
                   ("precision", "instance precision"), ("recall", "instance recall"),
                   ("f1", "instance F1"))
_SENTENCE_ROWS = (("precision", "sentence precision"), ("recall", "sentence recall"),
                  ("f1", "sentence F1"), ("kappa", "sentence kappa"),
                  ("spearman", "count Spearman (per trace)"), ("qwk", "count QWK (per trace)"))


def _is_detector_file(judged: str) -> bool:
    return judged.endswith(".npz") and Path(judged).is_file()


def _load_judged(judged: str, records, gold_path: Path, on_duplicate: str):
    """The judgment frame for JUDGED plus a description of where it came from."""
    from reasonlens.errors import ConfigError
    from reasonlens.io import parquet_provenance
    from reasonlens.judge.stage import read_judgments
    from reasonlens.provenance import file_hash

    if judged == "offline" or _is_detector_file(judged):
        from reasonlens.judge import offline
        from reasonlens.judge.gold import gold_traces

        cfg = offline.OfflineConfig(gold_path=str(gold_path),
                                    detector=None if judged == "offline" else judged)
        frame = offline.detect(gold_traces(records), cfg)
        return frame, {"judged": judged, **offline.provenance_record(cfg)}
    p = Path(judged)
    if p.is_dir():
        p = p / "judgments.parquet"
    if not p.is_file():
        raise ConfigError(f"JUDGED must be a judge output directory (with judgments.parquet), a "
                          f"judgments parquet file, a detector file (.npz) or the word "
                          f"'offline'; not found: {p}")
    frame = read_judgments(p, on_duplicate=on_duplicate)
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
@click.option("--labels", "label_paths", multiple=True, type=click.Path(exists=True),
              help="Sentence-labelled human corpus (sentence JSONL, or the Schoenfeld release: "
                   "a directory of <trace>.json; repeatable). Scores sentence labels and "
                   "counts per trace instead of the gold set.")
@click.option("--label-taxonomy", metavar="NAME|PATH",
              help="Taxonomy of the --labels (its [mapping] reaches the paper's behaviours). "
                   "Default: schoenfeld for the Schoenfeld layout, else --taxonomy.")
@click.option("--taxonomy", metavar="NAME|PATH",
              help="Taxonomy whose behaviours are scored. Default: the judge's (paper for the "
                   "shipped detector).")
@click.option("--unit", type=click.Choice(["episodes", "sentences"]), default="episodes",
              show_default=True, help="Count unit of the per-trace count agreement.")
@click.option("--write-traces", "write_traces", type=click.Path(dir_okay=False),
              help="Write the --labels corpus as traces JSONL (one response per trace, "
                   "sentences joined by newlines) for `reasonlens judge`, and stop.")
@click.option("--gold", "gold_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=str(DEFAULT_GOLD), show_default=True,
              help="Gold labels (JSONL, schema annotations/schema.json), without --labels.")
@click.option("--split", type=click.Choice(["test", "train", "all"]), default="test",
              show_default=True,
              help="Which gold responses to score. The offline detector trains on 'train', so "
                   "only 'test' is a fair measure of it.")
@click.option("--on-duplicate", type=click.Choice(["error", "keep-first"]), default="error",
              show_default=True, help="A judgment id that appears twice: stop, or keep the "
                                      "first row.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write DIR/agreement.json (and the per-response or per-trace table) here.")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples (over responses / traces) for the confidence intervals.")
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
@click.option("--ci", "ci_level", type=click.FloatRange(0.5, 0.999), default=0.95,
              show_default=True, help="Confidence level of the intervals.")
def command(judged: str, label_paths, label_taxonomy, taxonomy, unit, write_traces,
            gold_path: Path, split: str, on_duplicate: str, out_dir: Path | None, n_boot: int,
            seed: int, ci_level: float) -> None:
    """Agreement of a behaviour judge with human labels.

    JUDGED is a `reasonlens judge` output directory (or its judgments.parquet), a detector file
    from `reasonlens detector train` (.npz), or the word `offline` (the shipped detector).

    \b
    With --labels (sentence-labelled corpora, e.g. ../shared/data/schoenfeld-dev): per
    behaviour, sentence precision / recall / F1 and Cohen's kappa, and per-trace count
    agreement (Spearman, quadratic weighted kappa) in --unit, each with a bootstrap CI over
    traces. A judge output must come from judging the corpus's traces (--write-traces).
    Without --labels: the gold set (presence kappa, count QWK / Spearman / MAE, instance
    precision / recall / F1, bootstrap CIs over responses). Unanswered responses are missing.
    """
    _refuse_unused(bool(label_paths or write_traces))
    if label_paths or write_traces:
        _sentence_eval(judged, label_paths, label_taxonomy, taxonomy, unit, write_traces,
                       on_duplicate, out_dir, n_boot, seed, ci_level)
        return
    _gold_eval(judged, gold_path, split, on_duplicate, out_dir, n_boot, seed, ci_level)


def _refuse_unused(sentences: bool) -> None:
    """Options of the other evaluation are refused, never ignored."""
    from click.core import ParameterSource

    from reasonlens.errors import ConfigError

    ctx = click.get_current_context()
    only = ({"gold_path": "--gold", "split": "--split"} if sentences else
            {"label_taxonomy": "--label-taxonomy", "taxonomy": "--taxonomy", "unit": "--unit"})
    given = [opt for name, opt in only.items()
             if ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT, None)]
    if given:
        raise ConfigError(f"{', '.join(given)} {'is' if len(given) == 1 else 'are'} for "
                          f"{'the gold set (without --labels)' if sentences else '--labels'}")


def _sentence_eval(judged, label_paths, label_taxonomy, taxonomy, unit, write_traces,
                   on_duplicate, out_dir, n_boot, seed, ci_level) -> None:
    import numpy as np

    from reasonlens.errors import ConfigError
    from reasonlens.io import write_json, write_parquet
    from reasonlens.judge import sentence_eval as se
    from reasonlens.judge.corpus import SCHOENFELD_LAYOUT, corpus_traces, load_corpus
    from reasonlens.judge.taxonomy import load_taxonomy
    from reasonlens.provenance import file_hash, provenance

    if not label_paths:
        raise ConfigError("--write-traces needs --labels (the corpus to write)")
    first = Path(label_paths[0])
    probe = next(iter(sorted(first.iterdir())), first) if first.is_dir() else first
    from reasonlens.judge.corpus import detect_layout

    default_lt = "schoenfeld" if detect_layout(probe) == SCHOENFELD_LAYOUT else \
        (taxonomy or "paper")
    label_tax = load_taxonomy(label_taxonomy or default_lt)
    corpus = load_corpus(list(label_paths), label_tax)
    traces, spans = corpus_traces(corpus)
    if write_traces:
        traces.select("id", "model", "benchmark", "problem_id", "sample", "response"
                      ).write_ndjson(write_traces)
        click.echo(f"wrote {traces.height} traces to {write_traces}", err=True)
        return
    answered, missing = None, []
    if judged == "offline" or _is_detector_file(judged):
        from reasonlens.judge import offline

        ocfg = offline.OfflineConfig(detector=None if judged == "offline" else judged)
        det = offline.load(ocfg)
        eval_tax = load_taxonomy(taxonomy or det.taxonomy["name"])
        behaviours = se.behaviours_for(eval_tax, label_tax, det.outputs)
        pred = se.detector_flags(det, corpus, behaviours)
        judge, mode = offline.judge_name(det), "detector"
        info = {"judged": judged, **offline.provenance_record(ocfg)}
    else:
        frame, info = _load_judged(judged, None, Path("."), on_duplicate)
        tax_col = frame.get_column("taxonomy")[0] if "taxonomy" in frame.columns and \
            frame.height else "paper"
        eval_tax = load_taxonomy(taxonomy or tax_col)
        from reasonlens.judge.summary import behaviours_in

        behaviours = se.behaviours_for(eval_tax, label_tax, tuple(behaviours_in(frame)))
        pred, answered, missing = se.flags_from_judgments(frame, traces, spans, behaviours)
        if traces.height and len(missing) >= traces.height:
            from reasonlens.errors import InputError

            raise InputError(f"the judge output holds none of the {traces.height} labelled "
                             "traces (no id matches): judge the traces written by "
                             "--write-traces, then evaluate that output", path=str(judged))
        judge = frame.get_column("judge")[0] if frame.height else "?"
        mode = frame.get_column("mode")[0] if "mode" in frame.columns and frame.height else \
            "count"
    cfg = se.EvalConfig(n_boot=n_boot, seed=seed, ci_level=ci_level, unit=unit)
    res = se.evaluate_corpus(corpus, label_tax, behaviours, pred, answered, cfg)
    n_traces = corpus.get_column("trace_id").n_unique()
    in_sample = _in_sample(info, label_paths)
    for b, r in res.items():
        cols = ["metric", f"value [{int(ci_level * 100)}% CI] (n={r['n_traces']} traces, "
                          f"{r['n_sentences']} sentences)"]
        rows = [[label, se.format_value(r[m])] for m, label in _SENTENCE_ROWS]
        rows.append([f"mean {unit} per trace human/judge",
                     f"{r['gold_mean_count']:.2f} / {r['pred_mean_count']:.2f}"
                     if r["n_traces"] else "n/a"])
        _print_table(f"{b}: {judge} ({mode}, taxonomy {eval_tax.name}) vs {label_tax.name} "
                     f"labels of {', '.join(map(str, label_paths))}", cols, rows)
    if missing:
        click.echo(f"NOTE: {len(missing)} of {n_traces} traces have no usable judgment "
                   f"(missing, not scored): {', '.join(missing[:10])}", err=True)
    cross = _cv_figures(judged) if in_sample else None
    if in_sample:
        click.echo("NOTE: this detector was trained on these labels: the figures above are "
                   "in-sample (optimistic); its grouped-CV figures follow (the fair measure).",
                   err=True)
    for b, r in (cross or {}).get("behaviours", {}).items():
        rows = [[label, se.format_value(r[m])] for m, label in _SENTENCE_ROWS]
        _print_table(f"{b}: grouped cross-validation by trace ({cross.get('method')}; from "
                     f"{judged}.cv.json)", ["metric", "value [95% CI]"], rows)
    if out_dir is not None:
        recs = [{"kind": "labels", "path": str(p), "hash": file_hash(Path(p))}
                for p in label_paths]
        prov = provenance(command="judge-eval", config={**cfg.record(), "judged": judged},
                          data_files=[label_tax.record(), eval_tax.record(), *recs],
                          inputs=[info])
        out = {"kind": "sentences", "judge": [judge], "mode": mode, "taxonomy": eval_tax.name,
               "label_taxonomy": label_tax.name, "unit": unit, "n_traces": int(n_traces),
               "n_missing": len(missing), "in_sample": in_sample,
               "bootstrap": {"n_boot": n_boot, "seed": seed, "ci_level": ci_level,
                             "unit": "trace", "method": "percentile"},
               "behaviours": res, "cross_validated": cross, "provenance": prov}
        write_json(Path(out_dir) / "agreement.json", out)
        flags = corpus.select("trace_id", "sentence").with_columns(
            **{f"{b}_pred": np.asarray(pred[b]) for b in behaviours})
        write_parquet(flags, Path(out_dir) / "agreement_sentences.parquet", prov)
        click.echo(f"wrote {Path(out_dir) / 'agreement.json'}", err=True)


def _cv_figures(judged: str) -> dict | None:
    from reasonlens.io import read_json
    from reasonlens.judge.detector import cv_path

    p = cv_path(judged)
    return read_json(p) if p.is_file() else None


def _in_sample(info: dict, label_paths) -> bool:
    from reasonlens.provenance import file_hash

    prov_cfg = ((info.get("judge_provenance") or {}).get("config") or {})
    trained = ((info.get("trained_on") or prov_cfg.get("trained_on") or {}).get("labels")
               or [])
    hashes = {file_hash(Path(p)) for p in label_paths}
    return any(t.get("hash") in hashes for t in trained)


def _gold_eval(judged, gold_path, split, on_duplicate, out_dir, n_boot, seed, ci_level) -> None:
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
    frame, judged_info = _load_judged(judged, records, gold_path, on_duplicate)
    cfg = AgreementConfig(n_boot=n_boot, seed=seed, ci_level=ci_level)
    result = evaluate(records, frame, cfg)
    table: pl.DataFrame = result.pop("table")
    judges = sorted({str(x) for x in frame.get_column("judge").unique().to_list()}
                    ) if "judge" in frame.columns else []
    in_sample = judged == "offline" and split != "test"
    gold_ids = {r["id"] for r in records}
    n_matched = int(frame.filter(pl.col("id").is_in(list(gold_ids))).height)
    if n_matched == 0:
        from reasonlens.errors import InputError

        raise InputError(f"the judge output holds none of the {len(records)} gold responses "
                         f"of {gold_path.name} ({split} split; no id matches): judge the gold "
                         "set's responses, then evaluate that output", path=str(judged))
    unit = frame.get_column("count_unit")[0] if "count_unit" in frame.columns and \
        frame.height else "instances (unit not recorded)"

    for b, block in result["behaviours"].items():
        blocks = [("all", block["overall"]), *block["by_style"].items()]
        cols = ["metric", *[f"{st} (n={e['n']}" + (f", {e['n_missing']} missing)"
                                                    if e["n_missing"] else ")")
                            for st, e in blocks]]
        rows = [[label, *[format_value(e[m]) for _, e in blocks]] for m, label in _METRIC_COLUMNS]
        rows.append(["mean count gold/judge",
                     *[f"{e['gold_mean_count']:.2f} / {e['pred_mean_count']:.2f}"
                       if e["n"] else "n/a" for _, e in blocks]])
        _print_table(f"{b}: {', '.join(judges) or judged} vs {gold_path.name}, {split} split, "
                     f"judge unit {unit} ({int(ci_level * 100)}% bootstrap CI, {n_boot} "
                     "resamples)", cols, rows)
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
        out = {"kind": "gold", "judge": judges, "split": split, "n_responses": len(records),
               "in_sample": in_sample, "matching": MATCHING_RULE, "unit": unit,
               "bootstrap": {**cfg.record(), "unit": "response", "method": "percentile"},
               "behaviours": result["behaviours"], "provenance": prov}
        write_json(Path(out_dir) / "agreement.json", out)
        write_parquet(table, Path(out_dir) / "agreement_responses.parquet", prov)
        click.echo(f"wrote {Path(out_dir) / 'agreement.json'}", err=True)
