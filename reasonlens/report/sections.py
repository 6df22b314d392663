"""Report sections: the statistics tables turned into figures (Vega-Lite specs) and tables."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reasonlens.report import charts as ch
from reasonlens.report.tables import (ci_cell, esc, html_table, num, pct, pval, rows_of,
                                      wide_metrics, with_ci)
from reasonlens.stats.inputs import Inputs


@dataclass
class Figure:
    """One chart: a slug (element id / export file name), its spec and a caption."""

    key: str
    spec: dict[str, Any]
    caption: str = ""


@dataclass
class Section:
    anchor: str
    title: str
    intro: str = ""                      # already-escaped HTML
    figures: list[Figure] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)   # already-escaped HTML
    script: str = ""                                  # JavaScript run after the charts


def _spec(chart) -> dict[str, Any]:
    # validated against the Vega-Lite schema in tests/test_report_charts.py; skipped here
    # (jsonschema takes ~0.1 s per chart)
    d = chart.to_dict(validate=False)
    d.pop("$schema", None)
    return d


def _p(text: str) -> str:
    return f"<p>{esc(text)}</p>"


def _add(sec: Section, key: str, make, caption: str = "") -> None:
    """Add a figure unless its frame is empty (a chart of nothing is noise)."""
    chart = make()
    if chart is not None:
        sec.figures.append(Figure(key, _spec(chart), caption))


def _nonempty(df: pl.DataFrame | None) -> bool:
    return df is not None and df.height > 0


#: Title and introduction of each section, by anchor.
SECTIONS: dict[str, tuple[str, str]] = {
    "token-usage": ("Token usage",
        "Lexicon categories and their terms per model, per 1,000 words (the paper's Figures 1–3, "
        "with confidence intervals). Rate ratios come from a count GLM with log(words) as "
        "exposure, so longer responses do not inflate them."),
    "distinctive-words": ("Distinctive words",
        "Terms each model over-uses relative to the reference, by weighted log-odds with an "
        "informative Dirichlet prior (positive z: over-used by the first model)."),
    "length-control": ("Length and correctness",
        "Longer responses contain more of every word. Within each length quantile bin the per-1k "
        "rates are compared at equal length; the logistic model asks whether a behaviour predicts "
        "a correct answer once length is held fixed."),
    "behaviours": ("Behaviours",
        "Judged behaviours per response across benchmarks (the paper's Figure 4). Judgements that "
        "failed (parse error, refusal, error) are missing, not zero."),
    "lengths": ("Response lengths",
        "Distribution of response length per model (the paper's Figure 5)."),
    "accuracy": ("Accuracy",
        "Accuracy is avg@n (mean over problems of the share of correct samples; ungradable samples"
        " count as wrong); pass@k uses the unbiased estimator."),
    "ablation": ("Token-restriction ablation",
        "Accuracy when the tokens of a category are banned at decoding time, against the "
        "unrestricted run. Leakage: banned words still produced."),
    "judge-agreement": ("Judge agreement",
        "Agreement of the behaviour judge with human labels (judge-eval)."),
    "curves": ("Training curves",
        "Per model, at each training step (checkpoint) the traces carry: lexicon category rates, "
        "judged behaviours and accuracy, with problem-resampled bootstrap CIs (the same estimators"
        " as the pooled tables above, which pool all steps). Steps come from a step column or a "
        "field mapped with --field step=PATH."),
    "traces": ("Traces",
        "Read the responses behind the numbers: filter by model, benchmark, problem, answer and "
        "step; lexicon terms are shaded per category and behaviour instances underlined per "
        "behaviour (toggle them in the legend); 'side by side' shows two models on the same "
        "problems. Clicking a bar or point of a chart above opens the responses behind it here."),
}


def _section(anchor: str) -> Section:
    """A new section with its title and introduction from :data:`SECTIONS`."""
    title, intro = SECTIONS[anchor]
    return Section(anchor, title, intro=_p(intro))


def overview(tables: dict[str, pl.DataFrame], inputs: Inputs, models: list[str]) -> Section:
    sec = Section("overview", "Overview")
    kinds = ", ".join(sorted(inputs.kinds)) or "none"
    sec.intro = _p(f"Inputs: {kinds}. Models: {', '.join(models) or '–'}.") + _p(
        "Every interval is a percentile bootstrap CI that resamples problems (responses to one "
        "problem are correlated), unless stated otherwise; every rate comes with its n.")
    steps = sorted({int(x) for f in (inputs.responses, inputs.graded)
                    if f is not None and "step" in f.columns
                    for x in f.get_column("step").drop_nulls().unique().to_list()})
    if len(steps) > 1:
        sec.intro += _p(f"The traces carry {len(steps)} training steps ({steps[0]:,} to "
                        f"{steps[-1]:,}): the tables and charts outside Training curves pool "
                        "them all.")
    lengths = tables.get("lengths")
    if _nonempty(lengths):
        rows = rows_of(lengths.filter(pl.col("benchmark") == "(all)")) or rows_of(lengths)
        sec.tables.append(html_table(rows, [
            ("model", lambda r: r["model"]), ("benchmark", lambda r: r["benchmark"]),
            ("responses (n)", lambda r: num(r["n_responses"])),
            ("problems (n)", lambda r: num(r["n_problems"])),
            (f"mean length [CI] ({rows[0]['unit'] if rows else ''})",
             lambda r: with_ci(r["mean"], r["ci_low"], r["ci_high"], fmt=lambda v: num(v, 0))),
            ("median", lambda r: num(r["median"], 0)),
            ("clip ratio", lambda r: pct(r["clip_ratio"]))], caption="Responses per model"))
    acc = tables.get("accuracy_metrics") if _nonempty(tables.get("accuracy_metrics")) else \
        tables.get("accuracy")
    if _nonempty(acc):
        sec.tables.append(_accuracy_table(acc, "Accuracy (avg@n) per model and benchmark"))
    comp = tables.get("comparisons")
    if _nonempty(comp):
        sec.tables.append(_comparison_table(comp.filter(pl.col("benchmark") == "(all)"),
                                            "Main comparison: category rate ratios vs the "
                                            "reference model"))
    inputs_rows = [{"kind": i.kind, "path": str(i.path)} for i in inputs.items]
    sec.tables.append(html_table(inputs_rows, [("kind", lambda r: r["kind"]),
                                               ("path", lambda r: r["path"])],
                                 collapsed=True, summary="Inputs"))
    return sec


def _ratio_cell(r: dict) -> str:
    from reasonlens.stats.exact import no_glm_interval

    if no_glm_interval(r) and r.get("exact_ci_low") is not None:
        return with_ci(r["exact_rate_ratio"], r["exact_ci_low"], r["exact_ci_high"]) + " exact"
    return with_ci(r["rate_ratio"], r["ci_low"], r["ci_high"])


def _p_cell(r: dict) -> str:
    if r.get("p_value") is None and r.get("exact_p") is not None:
        return pval(r["exact_p"]) + " exact"
    return pval(r["p_value"])


def _comparison_table(df: pl.DataFrame, caption: str) -> str:
    rows = rows_of(df.sort("category", "benchmark", "model"))
    refs = sorted({str(r["reference"]) for r in rows})
    caption = f"{caption} (reference: {', '.join(refs)})" if refs else caption
    table = html_table(rows, [
        ("measure", lambda r: r["category"]), ("benchmark", lambda r: r["benchmark"]),
        ("model", lambda r: r["model"]), ("rate ratio [CI]", _ratio_cell), ("p", _p_cell),
        ("p (Holm)", lambda r: pval(r["p_holm"])),
        ("p (BH)", lambda r: pval(r["p_bh"])), ("n responses", lambda r: num(r["n_responses"])),
        ("n problems", lambda r: num(r["n_problems"])), ("model family", lambda r: r["family"]),
        ("status", lambda r: r.get("zero_note") or r["status"])], caption=caption)
    if any(r.get("zero_note") for r in rows):
        from reasonlens.stats.exact import NOTE

        table += _p(f"Rows marked 'exact' have no hit on one side, so the GLM has no finite rate "
                    f"ratio or no interval: their interval and p come from an {NOTE} (∞: unbounded). They are "
                    "not in the Holm/BH adjustment.")
    return table


def _accuracy_table(acc: pl.DataFrame, caption: str) -> str:
    return html_table(rows_of(acc.sort("benchmark", "model")), [
        ("model", lambda r: r["model"]), ("benchmark", lambda r: r["benchmark"]),
        ("accuracy [CI]", lambda r: with_ci(r["accuracy"], r["ci_low"], r["ci_high"], fmt=pct)),
        ("n problems", lambda r: num(r.get("n_problems"))),
        ("n samples", lambda r: num(r.get("n_samples"))),
        ("clip ratio", lambda r: pct(r.get("clip_ratio"))),
        ("source", lambda r: r.get("source"))], caption=caption)


def token_usage(tables: dict[str, pl.DataFrame], models: list[str], top: int) -> Section | None:
    rates = tables.get("category_rates")
    if not _nonempty(rates):
        return None
    sec = _section("token-usage")
    _add(sec, "category-rates", lambda: ch.category_rates_chart(rates, models=models))
    comp = tables.get("comparisons")
    if _nonempty(comp):
        _add(sec, "rate-ratios", lambda: ch.comparison_chart(comp, models=models))
        sec.tables.append(_comparison_table(comp, "Rate ratios (GLM, problem-clustered SEs; "
                                                  "Holm and BH over all rows)"))
    wide = wide_metrics(rates, ["category", "benchmark", "model"])
    sec.tables.append(html_table(sorted(wide, key=lambda r: (r["category"], r["benchmark"],
                                                             r["model"])), [
        ("category", lambda r: r["category"]), ("benchmark", lambda r: r["benchmark"]),
        ("model", lambda r: r["model"]), ("per 1k words [CI]", ci_cell("per_1k_words")),
        ("mean per response [CI]", ci_cell("mean_per_response")),
        ("share with any [CI]", ci_cell("share_with_any", fmt=pct)),
        ("n responses", lambda r: num(r.get("n_responses"))),
        ("n problems", lambda r: num(r.get("n_problems")))],
        collapsed=True, summary="Category rates per model and benchmark"))
    terms = tables.get("term_rates")
    if _nonempty(terms):
        for cat in sorted(terms["category"].unique().to_list()):
            _add(sec, f"terms-{_slug(cat)}",
                 lambda cat=cat: ch.token_usage_chart(terms, cat, top=top, models=models))
    tests = tables.get("term_tests")
    if _nonempty(tests):
        n_tests = tests.filter(pl.col("p_value").is_not_null()).height
        sec.tables.append(html_table(rows_of(tests.sort("p_value", nulls_last=True)), [
            ("category", lambda r: r["category"]), ("term", lambda r: r["term"]),
            ("model", lambda r: r["model"]), ("reference", lambda r: r["reference"]),
            ("per 1k (model)", lambda r: num(r["per_1k_model"])),
            ("per 1k (ref.)", lambda r: num(r["per_1k_reference"])),
            ("rate ratio [CI]", lambda r: with_ci(r["rate_ratio"], r["ci_low"], r["ci_high"])),
            ("p", lambda r: pval(r["p_value"])), ("p (Holm)", lambda r: pval(r["p_holm"])),
            ("p (BH)", lambda r: pval(r["p_bh"])), ("n problems", lambda r: num(r["n_problems"]))],
            caption=f"Per-term rate ratios: {n_tests} tests, Holm and Benjamini–Hochberg "
                    "adjusted (Poisson, problem-clustered sandwich SEs)", max_rows=30,
            collapsed=True, summary=f"Per-term tests ({n_tests}; smallest p first)"))
    return sec


def distinctive(tables: dict[str, pl.DataFrame], top: int) -> Section | None:
    lo = tables.get("log_odds")
    if not _nonempty(lo):
        return None
    sec = _section("distinctive-words")
    for (a, b), sub in lo.group_by("model_a", "model_b", maintain_order=True):
        _add(sec, f"logodds-{_slug(a)}-vs-{_slug(b)}",
             lambda sub=sub: ch.distinctive_words_chart(sub, top=top))
    return sec


def length_control(tables: dict[str, pl.DataFrame], models: list[str]) -> Section | None:
    st, corr = tables.get("stratified_rates"), tables.get("correctness")
    if not _nonempty(st) and not _nonempty(corr):
        return None
    sec = _section("length-control")
    if _nonempty(st):
        for kind in ("length_bin", "correct"):
            if st.filter(pl.col("stratum_kind") == kind).height:
                _add(sec, f"stratified-{kind}",
                     lambda kind=kind: ch.stratified_chart(st, kind=kind, models=models))
        wide = wide_metrics(st, ["stratum_kind", "stratum", "category", "model"])
        sec.tables.append(html_table(wide, [
            ("stratified by", lambda r: r["stratum_kind"]), ("stratum", lambda r: r["stratum"]),
            ("category", lambda r: r["category"]), ("model", lambda r: r["model"]),
            ("per 1k words [CI]", ci_cell("per_1k_words")),
            ("share with any [CI]", ci_cell("share_with_any", fmt=pct)),
            ("n responses", lambda r: num(r.get("n_responses"))),
            ("n problems", lambda r: num(r.get("n_problems")))],
            collapsed=True, summary="Stratified rates"))
    if _nonempty(corr):
        sec.tables.append(html_table(rows_of(corr), [
            ("predictor", lambda r: r["term"]), ("transform", lambda r: r["transform"]),
            ("odds ratio [CI]", lambda r: with_ci(r["odds_ratio"], r["ci_low"], r["ci_high"])),
            ("p", lambda r: pval(r["p_value"])), ("p (Holm)", lambda r: pval(r["p_holm"])),
            ("p (BH)", lambda r: pval(r["p_bh"])), ("n responses", lambda r: num(r["n_responses"])),
            ("n problems", lambda r: num(r["n_problems"])), ("status", lambda r: r["status"])],
            caption="Correctness ~ counts + log(words) + model + benchmark (logistic, "
                    "problem-clustered SEs)"))
    return sec


def behaviours(tables: dict[str, pl.DataFrame], inputs: Inputs, models: list[str], *,
               max_excerpts: int, excerpt_chars: int) -> Section | None:
    br = tables.get("behaviour_rates")
    if not _nonempty(br):
        return None
    sec = _section("behaviours")
    unit = behaviour_unit(inputs)
    _add(sec, "behaviours", lambda: ch.behaviours_chart(br, models=models, unit=unit))
    wide = wide_metrics(br, ["behaviour", "benchmark", "model"])
    sec.tables.append(html_table(sorted(wide, key=lambda r: (r["behaviour"], r["benchmark"],
                                                             r["model"])), [
        ("behaviour", lambda r: r["behaviour"]), ("benchmark", lambda r: r["benchmark"]),
        ("model", lambda r: r["model"]),
        (f"{unit or 'mean'} per response [CI]", ci_cell("mean_per_response")),
        ("share with any [CI]", ci_cell("share_with_any", fmt=pct)),
        (f"{unit + ' ' if unit else ''}per 1k words [CI]", ci_cell("per_1k_words")),
        ("n judged", lambda r: num(r.get("n_responses"))),
        ("n missing", lambda r: num(r.get("n_missing"))),
        ("n problems", lambda r: num(r.get("n_problems")))], caption="Behaviour rates"))
    bc = tables.get("behaviour_comparisons")
    if _nonempty(bc):
        sec.tables.append(_comparison_table(bc, "Behaviour rate ratios (length as exposure)"))
    ex = excerpts(inputs, max_per=max_excerpts, chars=excerpt_chars)
    if ex:
        sec.tables.append(html_table(ex, [("model", lambda r: r["model"]),
                                          ("behaviour", lambda r: r["behaviour"]),
                                          ("excerpt", lambda r: r["quote"])],
                                     caption="Example excerpts (shortened)", collapsed=True,
                                     summary="Example excerpts", text_columns=("excerpt",)))
    return sec


def count_unit_of(judgments: pl.DataFrame | None) -> str | None:
    """The count unit the judgments record (episodes / sentences), or None when they record
    none or mix several (then the behaviour-measurement section lists them)."""
    if judgments is None or "count_unit" not in judgments.columns:
        return None
    units = judgments.get_column("count_unit").drop_nulls().unique().to_list()
    return units[0] if len(units) == 1 else None


def behaviour_unit(inputs: Inputs | None) -> str | None:
    """The count unit of the behaviour counts in the inputs (judge outputs, else score
    --behaviours responses)."""
    if inputs is None:
        return None
    return count_unit_of(inputs.judgments) or count_unit_of(inputs.responses)


def excerpts(inputs: Inputs, *, max_per: int = 3, chars: int = 200) -> list[dict]:
    """A few short judge quotes per (model, behaviour); text is escaped later, never raw."""
    j = inputs.judgments
    if j is None or max_per <= 0:
        return []
    out: list[dict] = []
    if inputs.instances is not None and {"id", "behaviour", "quote"} <= set(
            inputs.instances.columns):
        inst = inputs.instances.join(j.select("id", "model"), on="id", how="inner")
        for (m, b), sub in inst.sort("id").group_by("model", "behaviour", maintain_order=True):
            out += [{"model": m, "behaviour": b, "quote": _short(q, chars)}
                    for q in sub["quote"].drop_nulls().head(max_per).to_list()]
        return out
    from reasonlens.schema import behaviours_in

    for b in behaviours_in(j):
        col = f"{b}_instances"
        if col not in j.columns:
            continue
        cand = j.select("model", col).filter(pl.col(col).str.len_chars() > 2)  # not "[]"
        for (m,), sub in cand.group_by("model", maintain_order=True):
            got = 0
            for raw in sub[col].head(20 * max_per).to_list():
                try:
                    items = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                for it in items if isinstance(items, list) else []:
                    if isinstance(it, dict) and it.get("quote") and got < max_per:
                        out.append({"model": m, "behaviour": b,
                                    "quote": _short(str(it["quote"]), chars)})
                        got += 1
                if got >= max_per:
                    break
    return out


def _short(text: str, chars: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def lengths(tables: dict[str, pl.DataFrame], models: list[str]) -> Section | None:
    lh, ls = tables.get("length_hist"), tables.get("lengths")
    if not _nonempty(lh):
        return None
    sec = _section("lengths")
    unit = ls["unit"][0] if _nonempty(ls) else "words"
    _add(sec, "lengths", lambda: ch.length_chart(lh, models=models, unit=unit))
    if _nonempty(ls):
        sec.tables.append(html_table(rows_of(ls.sort("benchmark", "model")), [
            ("model", lambda r: r["model"]), ("benchmark", lambda r: r["benchmark"]),
            ("n responses", lambda r: num(r["n_responses"])),
            (f"mean {unit} [CI]", lambda r: with_ci(r["mean"], r["ci_low"], r["ci_high"],
                                                    fmt=lambda v: num(v, 0))),
            ("median", lambda r: num(r["median"], 0)), ("p10", lambda r: num(r["p10"], 0)),
            ("p90", lambda r: num(r["p90"], 0)), ("clip ratio", lambda r: pct(r["clip_ratio"]))],
            caption="Length per model and benchmark"))
    return sec


def accuracy(tables: dict[str, pl.DataFrame], models: list[str]) -> Section | None:
    acc = tables.get("accuracy_metrics") if _nonempty(tables.get("accuracy_metrics")) else \
        tables.get("accuracy")
    pk = tables.get("pass_at_k")
    if not _nonempty(acc) and not _nonempty(pk):
        return None
    sec = _section("accuracy")
    if _nonempty(acc):
        _add(sec, "accuracy", lambda: ch.accuracy_chart(acc, models=models))
        sec.tables.append(_accuracy_table(acc, "Accuracy per model and benchmark"))
    if _nonempty(pk) and pk["k"].max() > 1:
        _add(sec, "pass-at-k", lambda: ch.pass_at_k_chart(pk, models=models))
    if _nonempty(pk):
        sec.tables.append(html_table(rows_of(pk.sort("benchmark", "model", "k")), [
            ("model", lambda r: r["model"]), ("benchmark", lambda r: r["benchmark"]),
            ("k", lambda r: num(r["k"])),
            ("pass@k [CI]", lambda r: with_ci(r["pass_at_k"], r["ci_low"], r["ci_high"],
                                              fmt=pct)),
            ("n problems", lambda r: num(r["n_problems"])),
            ("n samples", lambda r: num(r["n_samples"]))], collapsed=True, summary="pass@k"))
    return sec


def ablation(tables: dict[str, pl.DataFrame]) -> Section | None:
    ab = tables.get("ablation")
    if not _nonempty(ab):
        return None
    sec = _section("ablation")
    _add(sec, "ablation", lambda: ch.ablation_chart(ab))
    sec.tables.append(html_table(rows_of(ab.sort("condition")), [
        ("condition", lambda r: r["condition"]), ("banned ids", lambda r: num(r["n_banned_ids"])),
        ("accuracy [CI]", lambda r: with_ci(r["accuracy"], r["ci_low"], r["ci_high"], fmt=pct)),
        ("change vs none [CI]", lambda r: with_ci(r["delta_vs_none"], r["delta_ci_low"],
                                                  r["delta_ci_high"], fmt=pct)),
        ("leakage", lambda r: pct(r["leakage_rate"])), ("clip ratio", lambda r: pct(
            r["clip_ratio"])), ("mean length", lambda r: num(r["mean_length"], 0)),
        ("repetition", lambda r: pct(r["repetition_rate"])),
        ("n samples", lambda r: num(r["n_samples"])), ("n problems", lambda r: num(
            r["n_problems"]))], caption="Ablation conditions"))
    return sec


def agreement(tables: dict[str, pl.DataFrame], inputs: Inputs | None = None) -> Section | None:
    ag = tables.get("agreement")
    if not _nonempty(ag):
        return None
    sec = _section("judge-agreement")
    in_sample = sorted({j for a in (inputs.agreement if inputs is not None else [])
                        if a.get("in_sample") for j in (a.get("judge") or [])})
    if in_sample:
        sec.intro += _p(f"IN-SAMPLE: {', '.join(in_sample)} was trained on these labels, so "
                        "its figures here are optimistic; its grouped cross-validation figures "
                        "(the fair measure) are in Behaviour measurement when judge-eval was "
                        "given the detector file.")
    with_ci_rows = ag.filter(pl.col("ci_low").is_not_null() & ~pl.col("metric").is_in(
        ["mae", "rmse"]))  # error measures are not on the agreement scale: table only
    if with_ci_rows.height:
        _add(sec, "agreement", lambda: ch.agreement_chart(with_ci_rows))
    sec.tables.append(html_table(rows_of(ag), [
        ("behaviour", lambda r: r["behaviour"]), ("scope", lambda r: r["scope"]),
        ("metric", lambda r: r["metric"]),
        ("estimate [CI]", lambda r: with_ci(r["estimate"], r["ci_low"], r["ci_high"])),
        ("n", lambda r: num(r["n"]))], caption="Agreement measures"))
    return sec


def _slug(s: str) -> str:
    import re

    return re.sub(r"[^a-z0-9]+", "-", str(s).lower()).strip("-")[:40] or "x"


def curves(tables: dict[str, pl.DataFrame], models: list[str],
           inputs: Inputs | None = None) -> Section | None:
    """Training curves: category rates, behaviours and accuracy per model over steps."""
    cc, cb, ca = (tables.get(k) for k in ("curves_categories", "curves_behaviours",
                                          "curves_accuracy"))
    if not any(_nonempty(x) for x in (cc, cb, ca)):
        return None
    sec = _section("curves")
    if _nonempty(cc):
        _add(sec, "curves-categories", lambda: ch.curves_chart(
            cc, label="category", metric="per_1k_words", models=models,
            title="Lexicon categories over training steps"))
    if _nonempty(cb):
        _add(sec, "curves-behaviours", lambda: ch.curves_chart(
            cb, label="behaviour", metric="mean_per_response", models=models,
            title="Behaviours over training steps", y_title=f"{unit} per response"
            if (unit := behaviour_unit(inputs)) else None))
    if _nonempty(ca):
        _add(sec, "curves-accuracy", lambda: ch.curves_chart(
            ca, label="measure", metric="accuracy", models=models, y_format="%",
            title="Accuracy over training steps", y_title="accuracy (avg@n)"))
    for name, df, lab in (("Category rates", cc, "category"), ("Behaviours", cb, "behaviour"),
                          ("Accuracy", ca, "measure")):
        if not _nonempty(df):
            continue
        sec.tables.append(html_table(rows_of(df.sort("model", "benchmark", lab, "metric",
                                                     "step")), [
            ("model", lambda r: r["model"]), ("benchmark", lambda r: r["benchmark"]),
            ("step", lambda r: num(r["step"])), (lab, lambda r: r[lab]),
            ("metric", lambda r: r["metric"]),
            ("estimate [CI]", lambda r: with_ci(r["estimate"], r["ci_low"], r["ci_high"])),
            ("n responses", lambda r: num(r["n_responses"])),
            ("n problems", lambda r: num(r["n_problems"]))],
            collapsed=True, summary=f"{name} per step"))
    return sec


def traces(payload: dict | None) -> Section | None:
    """The trace viewer (see :mod:`reasonlens.report.viewer`)."""
    if not payload:
        return None
    from reasonlens.report.viewer_page import viewer_html, viewer_js

    sec = _section("traces")
    sec.tables.append(viewer_html(payload))
    sec.script = viewer_js()
    return sec
