"""The report's behaviour-measurement section: which judge, taxonomy, mode and count unit produced
the behaviour counts, that judge's measured agreement with human labels (from a ``judge-eval``
output given to the report), where behaviours occur along the trace, and (for taxonomies with one
label per sentence, e.g. ``schoenfeld``) the episode transition matrix per model.

Pure tables first (:func:`position_table`, :func:`transition_table`: small tidy frames), then
Altair charts, then :func:`section` for :mod:`reasonlens.report`.

- **Position**: each response's sentences are put in 10 bins of normalised position
  ((index - 1) / n_sentences); per model, behaviour and bin the rate is labelled sentences /
  sentences (pooled over responses), with a percentile bootstrap CI over responses (seeded).
- **Transitions**: per model, for consecutive sentences of a response, P(next label | label),
  ``none`` for a sentence without a label; n = transitions counted (a sentence with k labels
  shares its transition equally among them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from reasonlens.stats.bootstrap import bootstrap_ratios
from reasonlens.stats.inputs import Inputs

N_BINS = 10
NONE = "none"


def run_facts(judgments: pl.DataFrame) -> list[dict[str, Any]]:
    """One row per distinct (judge, taxonomy, mode, count_unit) in the judgments."""
    cols = [c for c in ("judge", "taxonomy", "mode", "count_unit") if c in judgments.columns]
    if not cols:
        return []
    return judgments.select(cols).unique(maintain_order=True).to_dicts()


def _labelled(judgments: pl.DataFrame, instances: pl.DataFrame) -> pl.DataFrame:
    """(id, model, n_sentences, behaviour, sentence) for counted instances with a sentence."""
    j = judgments.select("id", "model", "n_sentences").drop_nulls()
    inst = instances.filter(pl.col("sentence").is_not_null())
    if "counted" in inst.columns:
        inst = inst.filter(pl.col("counted"))
    return inst.select("id", "behaviour", "sentence").unique().join(j, on="id", how="inner")


def position_table(judgments: pl.DataFrame, instances: pl.DataFrame, behaviours: list[str], *,
                   n_boot: int = 500, seed: int = 0, level: float = 0.95) -> pl.DataFrame:
    """model, behaviour, bin (1..10), estimate, ci_low, ci_high, n (responses)."""
    schema = {"model": pl.String, "behaviour": pl.String, "bin": pl.Int64,
              "estimate": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64,
              "n": pl.Int64}
    if "n_sentences" not in judgments.columns or instances is None or not behaviours:
        return pl.DataFrame(schema=schema)
    j = judgments.select("id", "model", "n_sentences").filter(pl.col("n_sentences") > 0)
    lab = _labelled(judgments, instances).filter(pl.col("behaviour").is_in(behaviours))
    lab = lab.with_columns(bin=((pl.col("sentence") - 1) * N_BINS // pl.col("n_sentences"))
                           .clip(0, N_BINS - 1))
    rows = []
    rng = np.random.default_rng(seed)
    for (model,), jm in j.group_by("model", maintain_order=True):
        ids = jm.get_column("id").to_list()
        pos = {r: k for k, r in enumerate(ids)}
        ns = jm.get_column("n_sentences").to_numpy()
        edges = (np.arange(N_BINS + 1)[None, :] * ns[:, None] + N_BINS - 1) // N_BINS
        denom = np.diff(edges, axis=1).astype(float)  # sentences per response and bin
        nums = []
        for b in behaviours:
            lb = lab.filter((pl.col("model") == model) & (pl.col("behaviour") == b))
            num = np.zeros_like(denom)
            if lb.height:
                r = np.array([pos[x] for x in lb.get_column("id").to_list()])
                np.add.at(num, (r, lb.get_column("bin").to_numpy()), 1.0)
            nums.append(num)
        # one cluster bootstrap over responses for every behaviour and bin (a bin no resample
        # reaches, in short traces, has no CI)
        est, lo, hi = bootstrap_ratios(np.hstack(nums), np.hstack([denom] * len(nums)),
                                       n_boot=n_boot, seed=rng, level=level)
        for bi, b in enumerate(behaviours):
            for k in range(N_BINS):
                c = bi * N_BINS + k
                rows.append({"model": str(model), "behaviour": b, "bin": k + 1,
                             "estimate": _f(est[c]), "ci_low": _f(lo[c]), "ci_high": _f(hi[c]),
                             "n": len(ids)})
    return pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)


def _f(x: float) -> float | None:
    return None if x is None or np.isnan(x) else float(x)


def transition_table(judgments: pl.DataFrame, instances: pl.DataFrame, labels: list[str]
                     ) -> pl.DataFrame:
    """model, from, to, n (transitions, fractional where a sentence has several labels), share
    (P(to | from) within the model)."""
    schema = {"model": pl.String, "from": pl.String, "to": pl.String, "n": pl.Float64,
              "share": pl.Float64}
    if "n_sentences" not in judgments.columns or instances is None:
        return pl.DataFrame(schema=schema)
    lab = _labelled(judgments, instances).filter(pl.col("behaviour").is_in(labels))
    # a judge may give a sentence several labels even in an exclusive taxonomy (the detector
    # decides each label on its own): each transition then counts 1 / (k_this * k_next) for
    # every pair of their labels, so no label is favoured (taking the first in alphabetical
    # order made "analyze" swallow a third of the schoenfeld detector's sentences)
    sets = lab.group_by("id", "sentence").agg(pl.col("behaviour").unique().sort())
    j = judgments.select("id", "model", "n_sentences").drop_nulls().filter(
        pl.col("n_sentences") > 1)
    seq = (j.with_columns(sentence=pl.int_ranges(1, pl.col("n_sentences") + 1))
           .explode("sentence").join(sets, on=["id", "sentence"], how="left")
           .with_columns(pl.when(pl.col("behaviour").is_null()).then(pl.lit([NONE]))
                         .otherwise(pl.col("behaviour")).alias("behaviour"))
           .sort("id", "sentence")
           .with_columns(to=pl.col("behaviour").shift(-1).over("id"))
           .drop_nulls("to").rename({"behaviour": "from"})
           .with_columns(w=1.0 / (pl.col("from").list.len() * pl.col("to").list.len()))
           .explode("from").explode("to"))
    t = seq.group_by("model", "from", "to").agg(pl.col("w").sum().alias("n"))
    t = t.with_columns(share=pl.col("n") / pl.col("n").sum().over("model", "from"))
    return t.select(list(schema)).cast(schema).sort("model", "from", "to")


def position_chart(pos: pl.DataFrame):
    import altair as alt

    df = pos.filter(pl.col("estimate").is_not_null())
    base = alt.Chart(df).encode(
        x=alt.X("bin:O", title="position along the trace (tenths)"),
        color=alt.Color("model:N"),
        tooltip=["model:N", "behaviour:N", "bin:O", alt.Tooltip("estimate:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
                 "n:Q"])
    line = base.mark_line(point=True).encode(y=alt.Y("estimate:Q",
                                                      title="share of sentences labelled"))
    band = base.mark_area(opacity=0.2).encode(y="ci_low:Q", y2="ci_high:Q")
    n = ", ".join(f"{m}: n = {k}" for m, k in df.group_by("model").agg(pl.col("n").max())
                  .sort("model").iter_rows())
    return alt.layer(band, line).properties(width=260, height=160).facet(
        facet=alt.Facet("behaviour:N", title=None), columns=3).properties(
        title=alt.TitleParams("Where behaviours occur along the trace", subtitle=[
            "rate per tenth of the trace, 95% bootstrap CI over responses; " + n]))


def transition_chart(tr: pl.DataFrame):
    import altair as alt

    return alt.Chart(tr).mark_rect().encode(
        x=alt.X("to:N", title="next sentence"), y=alt.Y("from:N", title="sentence"),
        color=alt.Color("share:Q", title="P(next | this)", scale=alt.Scale(scheme="blues")),
        tooltip=["model:N", "from:N", "to:N", alt.Tooltip("share:Q", format=".2f"),
                 alt.Tooltip("n:Q", format=".1f")]
    ).properties(width=220, height=220).facet(column=alt.Column("model:N", title=None)
                                              ).properties(title=alt.TitleParams(
        "Episode transitions", subtitle=["share of each sentence label's successors, per "
                                         "model; n = transitions in the tooltip (a sentence "
                                         "with k labels counts 1/k for each)"]))


def agreement_rows(agreements: list[dict]) -> list[dict[str, Any]]:
    """The measured agreement of sentence-level judge-eval outputs, one row per behaviour and
    kind of measure: a detector scored on its own training labels is marked in-sample, and its
    grouped-CV figures (judge-eval of the detector file) follow as the fair measure."""
    rows = []
    for a in agreements:
        if a.get("kind") != "sentences":
            continue
        fit = ("IN-SAMPLE (trained on these labels; optimistic)" if a.get("in_sample")
               else "not trained on these labels")
        cv = a.get("cross_validated") or {}
        for what, src in ((fit, a), ("grouped CV by trace (held-out traces)", cv)):
            for b, m in (src.get("behaviours") or {}).items():
                rows.append({"judge": ", ".join(a.get("judge") or []), "behaviour": b,
                             "labels": a.get("label_taxonomy"), "unit": src.get("unit"),
                             "fit": what, "n": m.get("n_traces"),
                             **{k: m.get(k) or {} for k in ("f1", "kappa", "spearman", "qwk")}})
    return rows


def section(tables: dict, inputs: Inputs, models: list[str]):
    """The behaviour-measurement section, or None without judge outputs."""
    from reasonlens.report.sections import Section, _add, _p
    from reasonlens.report.tables import html_table, num, with_ci
    from reasonlens.judge.taxonomy import UNIT_NOTE, load_taxonomy
    from reasonlens.schema import behaviours_in

    j = inputs.judgments
    if j is None or not j.height:
        return None
    sec = Section("behaviour-measurement", "Behaviour measurement")
    facts = run_facts(j)
    intro = [f"judge {f.get('judge')}, taxonomy {f.get('taxonomy')}, mode {f.get('mode')}, "
             f"counts in {f.get('count_unit') or 'unrecorded units'}" for f in facts]
    sec.intro = (_p("Behaviour counts above come from: " + "; ".join(intro) + ".")
                 + _p(UNIT_NOTE))
    ag = agreement_rows(inputs.agreement)
    if ag:
        sec.tables.append(html_table(ag, [
            ("judge", lambda r: r["judge"]), ("behaviour", lambda r: r["behaviour"]),
            ("human labels", lambda r: r["labels"]), ("unit", lambda r: r["unit"]),
            ("measured on", lambda r: r["fit"]),
            ("sentence F1 [CI]", lambda r: _ci(with_ci, r["f1"])),
            ("sentence kappa [CI]", lambda r: _ci(with_ci, r["kappa"])),
            ("count Spearman [CI]", lambda r: _ci(with_ci, r["spearman"])),
            ("count QWK [CI]", lambda r: _ci(with_ci, r["qwk"])),
            ("n traces", lambda r: num(r["n"]))],
            caption="Measured agreement of the judge with human sentence labels (judge-eval)"))
        counted = {str(f.get("judge")) for f in facts if f.get("judge")}
        measured = {j for a in inputs.agreement for j in (a.get("judge") or [])}
        if counted and not counted & measured:
            sec.tables.append(_p(
                f"Note: this agreement was measured for {', '.join(sorted(measured))}, not for "
                f"the judge behind the counts above ({', '.join(sorted(counted))})."))
    elif inputs.agreement:
        sec.intro += _p("The judge-eval output given scores the judge on the gold set (see "
                        "Judge agreement), not on human sentence labels: its sentence-level "
                        "agreement is not shown here (run `reasonlens judge-eval ... --labels "
                        "CORPUS --out DIR` and pass DIR to the report).")
    else:
        sec.intro += _p("No judge-eval output was given: this judge's agreement with human "
                        "labels is not shown (run `reasonlens judge-eval ... --labels CORPUS "
                        "--out DIR` and pass DIR to the report).")
    behaviours = behaviours_in(j)
    pos = position_table(j, inputs.instances, behaviours) if inputs.instances is not None \
        else None
    if pos is not None and pos.filter(pl.col("estimate").is_not_null()).height:
        _add(sec, "behaviour-position", lambda: position_chart(pos))
    tax_names = {f.get("taxonomy") for f in facts if f.get("taxonomy")}
    for name in sorted(tax_names):
        try:
            tax = load_taxonomy(name)
        except Exception:  # noqa: BLE001 - a taxonomy file not available here: no matrix
            continue
        if tax.exclusive and inputs.instances is not None:
            tr = transition_table(j.filter(pl.col("taxonomy") == name), inputs.instances,
                                  list(tax.keys))
            if tr.height:
                _add(sec, f"transitions-{name}", lambda tr=tr: transition_chart(tr))
    return sec


def _ci(with_ci, e: dict) -> str:
    ci = e.get("ci") or [None, None]
    return with_ci(e.get("value"), ci[0], ci[1])
