"""``reasonlens detector``: train the offline behaviour detector on human sentence labels."""

from __future__ import annotations

from pathlib import Path

import click


@click.group(name="detector")
def command() -> None:
    """Train and inspect offline behaviour detectors (use one with --detector FILE on
    `judge`, `score --behaviours` and `judge-eval`)."""


@command.command(name="train")
@click.argument("labels", nargs=-1, required=True, type=click.Path(exists=True),
                metavar="LABELS...")
@click.option("--out", "out_file", required=True, type=click.Path(dir_okay=False),
              help="Detector file to write (.npz); the CV report goes beside it "
                   "(FILE.cv.json).")
@click.option("--taxonomy", metavar="NAME|PATH",
              help="Taxonomy the detector labels (paper, schoenfeld, gandhi or a TOML file). "
                   "Default: the labels' own taxonomy.")
@click.option("--label-taxonomy", metavar="NAME|PATH",
              help="Taxonomy of the labels. Default: schoenfeld for the Schoenfeld layout, "
                   "else --taxonomy.")
@click.option("--unit", type=click.Choice(["episodes", "sentences"]), default="episodes",
              show_default=True, help="Count unit of the CV report's per-trace agreement.")
@click.option("--folds", type=click.IntRange(2), default=5, show_default=True,
              help="Grouped cross-validation folds (by trace).")
@click.option("--C", "C", type=click.FloatRange(min=0, min_open=True), default=0.1,
              show_default=True, help="Inverse L2 regularisation of the logistic regressions.")
@click.option("--context-weight", type=click.FloatRange(min=0), default=0.5,
              show_default=True, help="Weight of the neighbouring sentences' word features.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Fold assignment and bootstrap seed.")
@click.option("--n-boot", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Bootstrap resamples (over traces) for the CV report's intervals.")
def train(labels, out_file, taxonomy, label_taxonomy, unit, folds, C, context_weight, seed,
          n_boot) -> None:
    """Train a detector on sentence-labelled corpora (LABELS: sentence JSONL files or
    Schoenfeld-layout directories), cross-validated by trace.

    \b
    Grouped CV by trace: each fold's model and vocabulary are fitted on the other traces, and
    its thresholds chosen by an inner grouped CV on those traces only. The CV report (sentence
    P/R/F1 and kappa, per-trace count Spearman and QWK, bootstrap CIs over traces) is printed
    and saved beside the model. The final model is fitted on all traces.
    Example:
      reasonlens detector train ../shared/data/schoenfeld-dev --taxonomy paper \\
          --out out/detector.npz
    """
    from reasonlens.cli._common import progress
    from reasonlens.cli.cmd_judge_eval import _SENTENCE_ROWS, _print_table
    from reasonlens.judge import detector as D
    from reasonlens.judge import sentence_eval as se
    from reasonlens.judge.corpus import SCHOENFELD_LAYOUT, detect_layout, load_corpus
    from reasonlens.judge.taxonomy import load_taxonomy
    from reasonlens.provenance import file_hash, provenance

    first = Path(labels[0])
    probe = next(iter(sorted(first.iterdir())), first) if first.is_dir() else first
    default_lt = "schoenfeld" if detect_layout(probe) == SCHOENFELD_LAYOUT else \
        (taxonomy or "paper")
    label_tax = load_taxonomy(label_taxonomy or default_lt)
    tax = load_taxonomy(taxonomy) if taxonomy else label_tax
    corpus = load_corpus(list(labels), label_tax)
    cfg = D.DetectorConfig(C=C, context_weight=context_weight, folds=folds, seed=seed)
    with progress("training", None, unit="folds") as bar:
        task = bar.add_task("cross-validating", total=folds)
        det, cv = D.train(corpus, label_tax, tax, cfg, progress=lambda n: bar.advance(task, n))
    det.name = Path(out_file).stem
    det.trained_on["labels"] = [{"path": str(p), "hash": file_hash(Path(p))} for p in labels]
    flags = {o: cv["flags"][:, j] for j, o in enumerate(cv["outputs"])}
    res = se.evaluate_corpus(corpus, label_tax, det.outputs, flags,
                             config=se.EvalConfig(n_boot=n_boot, seed=seed, unit=unit))
    for b, r in res.items():
        rows = [[label, se.format_value(r[m])] for m, label in _SENTENCE_ROWS]
        rows.append(["threshold (final model)",
                     f"{float(det.threshold[det.outputs.index(b)]):.2f}"])
        _print_table(f"{b}: grouped {cfg.folds}-fold CV by trace ({r['n_traces']} traces, "
                     f"{r['n_sentences']} sentences; 95% CI over traces)",
                     ["metric", "value [95% CI]"], rows)
    report = {"method": cv["method"], "taxonomy": tax.name, "label_taxonomy": label_tax.name,
              "unit": unit, "outputs": list(det.outputs), "fold_thresholds":
              cv["fold_thresholds"], "behaviours": res, "detector": det.record(),
              "provenance": provenance(command="detector train", config=cfg.record(),
                                       data_files=[tax.record(), label_tax.record()],
                                       inputs=det.trained_on["labels"])}
    path = D.save(det, out_file, report)
    click.echo(f"wrote {path} and {D.cv_path(path)}", err=True)


@command.command(name="show")
@click.argument("detector_file", type=click.Path(exists=True, dir_okay=False))
def show(detector_file) -> None:
    """Print what a detector file holds: taxonomy, outputs, thresholds, training data."""
    import json

    from reasonlens.judge.detector import load_detector

    click.echo(json.dumps(load_detector(detector_file).record(), indent=2))
