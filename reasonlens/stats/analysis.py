"""All statistics for whichever stage outputs exist, as a dict of tidy polars frames.

Used by ``reasonlens stats`` (which writes the frames) and ``reasonlens report`` (which charts
them). Each table's columns are documented in docs/report.md.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from reasonlens.schema import behaviours_in
from reasonlens.stats.bootstrap import StatsConfig
from reasonlens.stats.inputs import Inputs


def _models(inputs: Inputs) -> list[str]:
    seen: set[str] = set()
    for df in (inputs.responses, inputs.graded, inputs.judgments):
        if df is not None and "model" in df.columns:
            seen |= set(df["model"].cast(pl.String).drop_nulls().unique().to_list())
    return sorted(seen)


def _has_rows(frame: pl.DataFrame | pl.LazyFrame | None) -> bool:
    if frame is None:
        return False
    if isinstance(frame, pl.LazyFrame):
        return frame.select(pl.len()).collect().item() > 0
    return frame.height > 0


def analyse(inputs: Inputs, config: StatsConfig = StatsConfig(), *, reference: str | None = None,
            on_step: Callable[[str], None] | None = None) -> dict[str, pl.DataFrame]:
    """Compute every table the inputs allow.

    Tables (present only when their inputs are): category_rates, term_rates, comparisons,
    term_tests, log_odds, stratified_rates, behaviour_rates, behaviour_comparisons, accuracy,
    accuracy_metrics, pass_at_k, correctness, lengths, length_hist, ablation, agreement, and
    curves_categories, curves_behaviours, curves_accuracy when traces carry training steps.

    BLAS runs single-threaded here: the matrices are small (n x a few columns) and a
    multi-threaded OpenBLAS spin-waits badly on a busy machine (measured 70x slower SVDs with
    2 threads under load than with 1).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return _analyse(inputs, config, reference=reference, on_step=on_step)
    with threadpool_limits(limits=1, user_api="blas"):
        return _analyse(inputs, config, reference=reference, on_step=on_step)


def _analyse(inputs: Inputs, config: StatsConfig, *, reference: str | None,
             on_step: Callable[[str], None] | None) -> dict[str, pl.DataFrame]:
    from reasonlens.stats import accuracy as acc
    from reasonlens.stats import models as md
    from reasonlens.stats import rates as rt
    from reasonlens.stats import tables as tb
    from reasonlens.stats.exact import exact_for_zero_rows
    from reasonlens.stats.inputs import check_unique

    check_unique(inputs)  # before any join on id (issue 11: duplicates fanned joins out)

    step = on_step or (lambda _name: None)
    out: dict[str, pl.DataFrame] = {}
    models = _models(inputs)
    ref = reference if reference is not None else (models[0] if models else None)
    r, t, g, j = inputs.responses, inputs.terms, inputs.graded, inputs.judgments
    if j is None and r is not None and behaviours_in(r):  # score --behaviours
        j = r.select("id", "model", "benchmark", "problem_id",
                     *[c for b in behaviours_in(r) for c in (f"{b}_count", f"{b}_status")])
    if r is not None and r.height:
        step("category rates")
        out["category_rates"] = rt.category_rates(r, config=config)
        step("model comparisons")
        out["comparisons"] = exact_for_zero_rows(
            md.compare_models(r, reference=ref, config=config), r, level=config.level)
        step("stratified rates")
        out["stratified_rates"] = rt.stratified_rates(r, graded=g, config=config)
        step("lengths")
        out["lengths"] = acc.length_summary(r, "words", config=config)
        out["length_hist"] = acc.length_histogram(r, "words")
        if _has_rows(t):
            step("term rates")
            from reasonlens.stats.bootstrap import cluster_key

            resp = r.with_columns(cluster_key(r, config.cluster), pl.col("model").cast(pl.String))
            tc = rt.cluster_term_counts(t, resp, ["model"], config.cluster)  # shared below
            out["term_rates"] = rt.term_rates(t, r, config=config, clustered=tc)
            step("term tests")
            out["term_tests"] = md.term_tests(
                t, r, reference=ref, config=config,
                clustered=tc if config.cluster == "problem" else None)
            step("log-odds")
            totals = tc.group_by("model", "category", "term").agg(pl.col("count").sum())
            lo = [md.term_log_odds(totals, r, m, ref, config=config) for m in
                  sorted(r["model"].cast(pl.String).unique().to_list()) if m != ref]
            lo = [x for x in lo if x.height]
            if lo:
                out["log_odds"] = pl.concat(lo, how="vertical_relaxed")
    elif g is not None and g.height and "completion_tokens" in g.columns \
            and g["completion_tokens"].null_count() < g.height:
        step("lengths")
        out["lengths"] = acc.length_summary(g, "completion_tokens", config=config)
        out["length_hist"] = acc.length_histogram(g, "completion_tokens")
    if j is not None and j.height:
        step("behaviour rates")
        words = r.select("id", "words") if r is not None and "words" in r.columns else None
        out["behaviour_rates"] = rt.behaviour_rates(j, words=words, config=config)
        beh = behaviours_in(j)
        if words is not None and beh and j["model"].n_unique() > 1:
            step("behaviour comparisons")
            cc = {b: f"{b}_count" for b in beh}
            keys = [c for c in ("id", "model", "benchmark", "problem_id") if c in j.columns]
            jj = j.select(*keys, *cc.values()).join(  # narrow: 10^6 rows are joined
                r.select("id", "words", *[c for c in ("benchmark", "problem_id")
                                          if c not in j.columns]), on="id", how="inner")
            out["behaviour_comparisons"] = exact_for_zero_rows(
                md.compare_models(jj, reference=ref, count_columns=cc, config=config), jj,
                level=config.level, count_columns=cc)
    if g is not None and g.height:
        step("accuracy")
        out["accuracy"] = acc.accuracy_table(g, config=config)
        out["pass_at_k"] = acc.pass_at_k_table(g, config=config)
        if r is not None and r.height:
            step("correctness model")
            out["correctness"] = md.correctness_model(r, g, j, config=config)
    from reasonlens.stats.curves import step_curves

    curves = step_curves(r, g, j, config)
    if curves:
        step("curves over training steps")
        out.update(curves)
    if inputs.metrics:
        out["accuracy_metrics"] = tb.metrics_frame(inputs.metrics)
    if inputs.ablation:
        out["ablation"] = tb.ablation_frame(inputs.ablation, inputs.ablation_n)
    if inputs.agreement:
        out["agreement"] = tb.agreement_frame(inputs.agreement)
    return out
