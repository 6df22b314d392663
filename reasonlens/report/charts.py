"""Altair charts as pure functions: pre-aggregated tidy frame in, chart out (no I/O).

Every chart of a rate or accuracy draws its confidence interval and states n (in the subtitle
and the tooltip). Labels use 13-14 px fonts (reviewers of the paper found Figures 1-3 unreadable).
Inputs are the small tables of :func:`reasonlens.stats.analyse`, never raw traces (Altair's
5000-row limit; HTML size). Tests assert on ``chart.to_dict()``.
"""

from __future__ import annotations

import polars as pl

LABEL_SIZE = 13
TITLE_SIZE = 14
MAX_ROWS = 5000


def _alt():
    import altair as alt

    return alt


def _check(df: pl.DataFrame, name: str) -> pl.DataFrame:
    if df.height > MAX_ROWS:
        raise ValueError(f"{name}: {df.height} rows; charts take pre-aggregated frames "
                         f"(at most {MAX_ROWS} rows), not raw traces")
    return df


def _style(chart, *, title: str, subtitle: str | list[str] | None = None):
    """Readable fonts and a title block; applied once to the top-level chart."""
    alt = _alt()
    sub = [subtitle] if isinstance(subtitle, str) else (subtitle or [])
    # one properties() and one configure() call: each Altair call deep-copies the chart
    return chart.properties(title=alt.TitleParams(
        title, subtitle=sub, anchor="start", fontSize=16, subtitleFontSize=12)).configure(
        axis=alt.AxisConfig(labelFontSize=LABEL_SIZE, titleFontSize=TITLE_SIZE, labelLimit=0),
        legend=alt.LegendConfig(labelFontSize=LABEL_SIZE, titleFontSize=LABEL_SIZE,
                                labelLimit=0),
        header=alt.HeaderConfig(labelFontSize=LABEL_SIZE, titleFontSize=TITLE_SIZE),
        view=alt.ViewConfig(stroke=None))


def _color(models: list[str] | None, field: str = "model", title: str = "Model"):
    alt = _alt()
    scale = alt.Scale(domain=list(models), scheme="tableau10") if models else \
        alt.Scale(scheme="tableau10")
    return alt.Color(f"{field}:N", scale=scale, title=title,
                     legend=alt.Legend(orient="top", labelFontSize=LABEL_SIZE))


def _n_note(df: pl.DataFrame, by: str = "model", n: str = "n_responses",
            what: str = "responses") -> str:
    if df.height == 0 or n not in df.columns:
        return ""
    parts = df.group_by(by, maintain_order=True).agg(pl.col(n).max())
    return f"n ({what}): " + ", ".join(f"{a} {b}" for a, b in parts.iter_rows())


def _level(df: pl.DataFrame) -> str:
    lv = df["level"].drop_nulls() if "level" in df.columns else pl.Series([0.95])
    return f"{round(100 * (lv[0] if lv.len() else 0.95))}%"


def _pick_benchmark(df: pl.DataFrame, benchmark: str | None = "(all)") -> str | None:
    """The requested benchmark if present, else "(all)", else the only/first one."""
    if df.height == 0 or "benchmark" not in df.columns:
        return benchmark
    present = df["benchmark"].unique().to_list()
    for b in (benchmark, "(all)"):
        if b in present:
            return b
    return sorted(present)[0]


def _models_of(df: pl.DataFrame, models: list[str] | None) -> list[str]:
    return list(models) if models else sorted(df["model"].unique().to_list())


METRIC_TITLES = {"per_1k_words": "per 1,000 words", "mean_per_response": "mean per response",
                 "share_with_any": "share of responses with any"}


def _hbar_ci(df: pl.DataFrame, *, y: str, y_title: str, x: str, x_title: str, models: list[str],
             y_sort: list[str] | None = None, tooltip_extra: tuple[str, ...] = (),
             x_scale=None):
    """Horizontal grouped bars (y band, one bar per model) with CI rules."""
    alt = _alt()
    n_models = max(1, len(models))
    ysort: object = "ascending"
    if y_sort is not None:  # a rank column, not a sort array: no data strings in expressions
        rank = {v: i for i, v in enumerate(y_sort)}
        df = df.with_columns(pl.col(y).replace_strict(rank, default=len(rank),
                                                      return_dtype=pl.Int64).alias("rank"))
        ysort = alt.EncodingSortField(field="rank", op="min", order="ascending")
    yenc = alt.Y(f"{y}:N", sort=ysort, title=y_title,
                 axis=alt.Axis(labelFontSize=TITLE_SIZE, labelLimit=0))
    xkw = {"scale": x_scale} if x_scale is not None else {}
    tips = [alt.Tooltip(f"{y}:N"), alt.Tooltip("model:N"), alt.Tooltip(f"{x}:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f")] + [
        alt.Tooltip(t) for t in tooltip_extra]
    base = alt.Chart(df).encode(y=yenc, yOffset=alt.YOffset("model:N", sort="ascending"),
                                tooltip=tips)
    bars = base.mark_bar(opacity=0.85).encode(x=alt.X(f"{x}:Q", title=x_title, **xkw),
                                              color=_color(models))
    err = base.mark_rule(color="black", strokeWidth=1.5).encode(x=alt.X("ci_low:Q", **xkw),
                                                                x2="ci_high:Q")
    return alt.layer(bars, err).properties(width=560,
                                           height=alt.Step(max(16, 9 * n_models + 4)))


def token_usage_chart(term_rates: pl.DataFrame, category: str, *, metric: str = "per_1k_words",
                      top: int = 25, models: list[str] | None = None,
                      title: str | None = None):
    """Figures 1-3: usage of each term of a category by model, with CI bars.

    Args:
        term_rates: :func:`reasonlens.stats.term_rates` output (model, category, term, metric,
            estimate, ci_low, ci_high, n_responses, n_problems).
        category: lexicon category to draw.
        metric: per_1k_words | mean_per_response | share_with_any.
        top: the ``top`` terms by their highest rate across models.
    """
    df = term_rates.filter((pl.col("category") == category) & (pl.col("metric") == metric))
    order = (df.group_by("term").agg(pl.col("estimate").max().alias("m"))
             .sort("m", descending=True).head(top)["term"].to_list())
    df = _check(df.filter(pl.col("term").is_in(order)), "token_usage_chart")
    ms = _models_of(df, models)
    chart = _hbar_ci(df, y="term", y_title=None, x="estimate", x_title=METRIC_TITLES.get(
        metric, metric), models=ms, y_sort=order, tooltip_extra=("n_responses:Q",
                                                                 "n_problems:Q"))
    return _style(chart, title=title or f"{category}: usage {METRIC_TITLES.get(metric, metric)}",
                  subtitle=[f"bars: {_level(df)} CI, cluster bootstrap over problems",
                            _n_note(df)])


def category_rates_chart(rates: pl.DataFrame, *, metric: str = "per_1k_words",
                         benchmark: str = "(all)", models: list[str] | None = None):
    """Overview: each lexicon category's rate per model (pooled over benchmarks), with CIs."""
    df = rates.filter(pl.col("metric") == metric)
    benchmark = _pick_benchmark(df, benchmark)
    df = _check(df.filter(pl.col("benchmark") == benchmark), "category_rates_chart")
    ms = _models_of(df, models)
    chart = _hbar_ci(df, y="category", y_title=None, x="estimate",
                     x_title=METRIC_TITLES.get(metric, metric), models=ms,
                     tooltip_extra=("n_responses:Q", "n_problems:Q"))
    return _style(chart, title=f"Lexicon categories {METRIC_TITLES.get(metric, metric)}",
                  subtitle=[f"benchmark: {benchmark}; bars: {_level(df)} CI (problems resampled)",
                            _n_note(df)])


def _exact_rows(comparisons: pl.DataFrame) -> pl.DataFrame:
    """Rows the GLM could not estimate (one side without hits) that have an exact interval."""
    if "exact_ci_low" not in comparisons.columns:
        return comparisons.head(0)
    return comparisons.filter((pl.col("rate_ratio").is_null() | pl.col("ci_low").is_null())
                              & pl.col("exact_ci_low").is_not_null()
                              & pl.col("exact_ci_high").is_not_null())


def comparison_chart(comparisons: pl.DataFrame, *, benchmark: str = "(all)",
                     models: list[str] | None = None, label: str = "category",
                     title: str | None = None):
    """Forest plot of GLM rate ratios vs the reference model (log scale, rule at 1).

    A row the GLM cannot estimate because one model has no hit stays in the plot with its exact
    interval (:mod:`reasonlens.stats.exact`): a triangle at the bound the data give, pointing to
    the unbounded side, and a dashed line to the edge.
    """
    alt = _alt()
    benchmark = _pick_benchmark(comparisons, benchmark)
    comp = comparisons.filter(pl.col("benchmark") == benchmark)
    if label == "category":
        comp = comp.rename({"category": "label"})
    df = _check(comp.filter(pl.col("rate_ratio").is_not_null() & (pl.col("rate_ratio") > 0)),
                "comparison")
    ex = _exact_rows(comp)
    ms = _models_of(comp, models)
    ref = comp["reference"][0] if comp.height else "?"
    finite = [v for v in df["ci_low"].drop_nulls().to_list() + df["ci_high"].drop_nulls()
              .to_list() + ex["exact_ci_low"].to_list() + ex["exact_ci_high"].to_list()
              if v is not None and 0 < v < float("inf")]
    lo, hi = min([1.0] + finite), max([1.0] + finite)
    lo, hi = lo / 1.5, hi * 1.5
    xs = alt.Scale(type="log", domain=[lo, hi], nice=False)
    tips = ["label:N", "model:N", alt.Tooltip("rate_ratio:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
            alt.Tooltip("p_value:Q", format=".2g"), alt.Tooltip("p_holm:Q", format=".2g"),
            "n_responses:Q", "n_problems:Q", "family:N"]
    y = alt.Y("label:N", title=None)
    yoff = alt.YOffset("model:N", sort="ascending")
    base = alt.Chart(df).encode(y=y, yOffset=yoff, color=_color(ms), tooltip=tips)
    pts = base.mark_point(filled=True, size=70).encode(x=alt.X(
        "rate_ratio:Q", scale=xs, title=f"rate ratio vs {ref} (log scale)"))
    err = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q", scale=xs), x2="ci_high:Q")
    one = alt.Chart(pl.DataFrame({"x": [1.0]})).mark_rule(color="gray", strokeDash=[4, 4]).encode(
        x=alt.X("x:Q", scale=xs))
    layers = [err, pts, one]
    if ex.height:
        up = ex["exact_ci_high"].is_infinite()
        ex = ex.with_columns(
            pl.when(up).then(pl.col("exact_ci_low")).otherwise(pl.col("exact_ci_high"))
            .alias("bound"),
            pl.when(up).then(pl.lit(hi)).otherwise(pl.lit(lo)).alias("edge"),
            pl.when(up).then(pl.lit("triangle-right")).otherwise(pl.lit("triangle-left"))
            .alias("shape"),
            pl.col("exact_p").alias("p_exact")).select(
            "label", "model", "bound", "edge", "shape", "p_exact", "zero_note", "n_responses")
        etips = ["label:N", "model:N", alt.Tooltip("bound:Q", format=".3g", title="exact bound"),
                 alt.Tooltip("p_exact:Q", format=".2g", title="p (exact)"), "zero_note:N",
                 "n_responses:Q"]
        eb = alt.Chart(ex).encode(y=y, yOffset=yoff, color=_color(ms), tooltip=etips)
        layers += [eb.mark_rule(strokeWidth=2, strokeDash=[3, 3]).encode(
                       x=alt.X("bound:Q", scale=xs), x2="edge:Q"),
                   eb.mark_point(filled=True, size=110).encode(
                       x=alt.X("bound:Q", scale=xs),
                       shape=alt.Shape("shape:N", scale=None, legend=None))]
    chart = alt.layer(*layers).properties(width=520, height=alt.Step(max(16, 10 * len(ms))))
    fam = ", ".join(sorted(set(df["family"].drop_nulls().to_list()))) if df.height else ""
    sub = [f"GLM ({fam}) of counts with offset log(words), benchmark fixed effects, "
           f"problem-clustered SEs; {_level(df if df.height else comp)} CI",
           _n_note(comp, what="responses, model + reference")]
    if ex.height:
        sub.append("triangles: a model without hits, exact conditional interval (pooled counts; "
                   "the dashed side is unbounded)")
    return _style(chart, title=title or "Rate ratios, length as exposure", subtitle=sub)


def distinctive_words_chart(log_odds: pl.DataFrame, *, model_a: str | None = None,
                            model_b: str | None = None, top: int = 15):
    """Top terms each model over-uses (weighted log-odds z, both sides)."""
    alt = _alt()
    df = log_odds
    if model_a is not None:
        df = df.filter(pl.col("model_a") == model_a)
    if model_b is not None:
        df = df.filter(pl.col("model_b") == model_b)
    if df.height:
        a, b = df["model_a"][0], df["model_b"][0]
        df = df.filter((pl.col("model_a") == a) & (pl.col("model_b") == b))
    else:
        a, b = model_a or "A", model_b or "B"
    pos = df.filter(pl.col("z") > 0).sort("z", descending=True).head(top)
    neg = df.filter(pl.col("z") < 0).sort("z").head(top)
    df = _check(pl.concat([pos, neg]), "distinctive_words_chart").with_columns(
        pl.when(pl.col("z") > 0).then(pl.lit(f"more in {a}")).otherwise(pl.lit(f"more in {b}"))
        .alias("side"))
    chart = alt.Chart(df).mark_bar().encode(
        x=alt.X("z:Q", title=f"log-odds z (> 0: {a}; < 0: {b})"),
        y=alt.Y("term:N", sort=alt.EncodingSortField(field="z", op="max", order="descending"),
                title=None, axis=alt.Axis(labelFontSize=TITLE_SIZE)),
        color=alt.Color("side:N", title=None, legend=alt.Legend(orient="top"),
                        scale=alt.Scale(domain=[f"more in {a}", f"more in {b}"],
                                        range=["#4c78a8", "#e45756"])),
        tooltip=["term:N", "category:N", alt.Tooltip("z:Q", format=".2f"),
                 alt.Tooltip("count_a:Q", title=f"count {a}"),
                 alt.Tooltip("count_b:Q", title=f"count {b}"),
                 alt.Tooltip("per_1k_a:Q", format=".3f"), alt.Tooltip("per_1k_b:Q", format=".3f")],
    ).properties(width=480, height=alt.Step(18))
    return _style(chart, title=f"Distinctive terms: {a} vs {b}",
                  subtitle="weighted log-odds with an informative Dirichlet prior "
                           "(Monroe et al. 2008); |z| > 1.96 ~ p < 0.05 unadjusted")


def behaviours_chart(behaviour_rates: pl.DataFrame, *, metric: str = "mean_per_response",
                     models: list[str] | None = None, unit: str | None = None):
    """Figure 4: judged behaviours per response per benchmark and model, with CI bars.

    ``unit`` (the judgments' count_unit, e.g. episodes) names what a count counts."""
    alt = _alt()
    df = _check(behaviour_rates.filter(pl.col("metric") == metric), "behaviours_chart")
    ms = _models_of(df, models)
    what = METRIC_TITLES.get(metric, metric)
    if unit and metric == "mean_per_response":
        what = f"{unit} per response"
    elif unit and metric == "per_1k_words":
        what = f"{unit} per 1,000 words"
    n_bench = max(1, df["benchmark"].n_unique())
    step = max(14, 9 * len(ms))
    tips = ["behaviour:N", "benchmark:N", "model:N", alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
            "n_responses:Q", "n_missing:Q"]
    base = alt.Chart().encode(x=alt.X("benchmark:N", title=None, axis=alt.Axis(labelAngle=-30)),
                              xOffset=alt.XOffset("model:N", sort="ascending"), tooltip=tips)
    bars = base.mark_bar(opacity=0.85).encode(y=alt.Y("estimate:Q", title=what),
                                              color=_color(ms))
    err = base.mark_rule(color="black").encode(y="ci_low:Q", y2="ci_high:Q")
    # a fixed width wide enough for the facet header (a step of 14 px let the labels of
    # neighbouring behaviours run into each other with one benchmark)
    chart = alt.layer(bars, err, data=df).properties(width=max(120, step * n_bench),
                                                     height=260).facet(
        column=alt.Column("behaviour:N", title=None))
    return _style(chart, title=f"Behaviours: {what}",
                  subtitle=[f"{_level(df)} CI, problems resampled; failed judgements are "
                            "missing, not zero", _n_note(df.filter(
                                pl.col("benchmark") == _pick_benchmark(df)), what="judged ok")])


def length_chart(length_hist: pl.DataFrame, *, models: list[str] | None = None,
                 unit: str = "words"):
    """Figure 5: distribution of response length per model (pre-binned shares, log x)."""
    alt = _alt()
    df = _check(length_hist, "length_chart").with_columns(
        ((pl.col("bin_start") * pl.col("bin_end")).sqrt()).alias("mid"))
    ms = _models_of(df, models)
    log = df.height > 0 and float(df["bin_end"].max()) / max(float(df["bin_start"].min()),
                                                                1.0) > 10
    xs = alt.Scale(type="log") if log else alt.Scale()
    chart = alt.Chart(df).mark_line(point=True, interpolate="monotone").encode(
        x=alt.X("mid:Q", scale=xs, title=f"response length ({unit}{', log scale' if log else ''})"),
        y=alt.Y("share:Q", title="share of responses", axis=alt.Axis(format="%")),
        color=_color(ms),
        tooltip=["model:N", alt.Tooltip("bin_start:Q", format=".0f"),
                 alt.Tooltip("bin_end:Q", format=".0f"), "count:Q",
                 alt.Tooltip("share:Q", format=".1%"), "n_responses:Q"],
    ).properties(width=620, height=280)
    return _style(chart, title="Response length distribution",
                  subtitle=_n_note(df) + "; means with CIs in the table below")


def accuracy_chart(accuracy: pl.DataFrame, *, models: list[str] | None = None):
    """Accuracy (avg@n) per benchmark and model with CIs."""
    alt = _alt()
    df = _check(accuracy.filter(pl.col("accuracy").is_not_null()), "accuracy_chart")
    ms = _models_of(df, models)
    tips = ["benchmark:N", "model:N", alt.Tooltip("accuracy:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
            "n_problems:Q", "n_samples:Q"]
    base = alt.Chart(df).encode(y=alt.Y("benchmark:N", title=None), yOffset=alt.YOffset(
        "model:N", sort="ascending"), color=_color(ms), tooltip=tips)
    xs = alt.Scale(domain=[0, 1])
    pts = base.mark_point(filled=True, size=80).encode(x=alt.X("accuracy:Q", scale=xs,
                                                               title="accuracy (avg@n)",
                                                               axis=alt.Axis(format="%")))
    err = base.mark_rule(strokeWidth=2).encode(x=alt.X("ci_low:Q", scale=xs), x2="ci_high:Q")
    chart = alt.layer(err, pts).properties(width=520, height=alt.Step(max(16, 10 * len(ms))))
    return _style(chart, title="Accuracy", subtitle=[
        f"{_level(df)} CI, bootstrap over problems", _n_note(df, n="n_samples", what="samples")])


def pass_at_k_chart(pass_at_k: pl.DataFrame, *, models: list[str] | None = None):
    """pass@k curves per benchmark with CI bands (unbiased estimator, problems resampled)."""
    alt = _alt()
    df = _check(pass_at_k, "pass_at_k_chart")
    ms = _models_of(df, models)
    xs = alt.Scale(type="log", base=2)
    ks = sorted({int(k) for k in df["k"].to_list()})
    base = alt.Chart().encode(x=alt.X("k:Q", scale=xs, title="k (log2)",
                                      axis=alt.Axis(values=ks, format="d")), color=_color(ms))
    band = base.mark_area(opacity=0.15).encode(y="ci_low:Q", y2="ci_high:Q",
                                               color=alt.Color("model:N", legend=None))
    line = base.mark_line(point=True).encode(
        y=alt.Y("pass_at_k:Q", title="pass@k", axis=alt.Axis(format="%")),
        tooltip=["benchmark:N", "model:N", "k:Q", alt.Tooltip("pass_at_k:Q", format=".3f"),
                 alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
                 "n_problems:Q"])
    chart = alt.layer(band, line, data=df).properties(width=240, height=200).facet(
        column=alt.Column("benchmark:N", title=None))
    return _style(chart, title="pass@k", subtitle=[
        f"bands: {_level(df)} CI (problems resampled)",
        _n_note(df.filter(pl.col("k") == 1), n="n_problems", what="problems")])


def ablation_chart(ablation: pl.DataFrame):
    """Change in accuracy under each token-ban condition vs no ban, with CIs."""
    alt = _alt()
    df = _check(ablation.filter(pl.col("delta_vs_none").is_not_null()), "ablation_chart")
    tips = ["condition:N", alt.Tooltip("delta_vs_none:Q", format="+.3f"),
            alt.Tooltip("delta_ci_low:Q", format="+.3f"),
            alt.Tooltip("delta_ci_high:Q", format="+.3f"), alt.Tooltip("accuracy:Q", format=".3f"),
            "n_samples:Q", "n_banned_ids:Q", alt.Tooltip("leakage_rate:Q", format=".2%")]
    base = alt.Chart(df).encode(y=alt.Y("condition:N", title=None, sort=alt.EncodingSortField(
        field="delta_vs_none", op="min", order="ascending")), tooltip=tips)
    pts = base.mark_point(filled=True, size=80, color="#4c78a8").encode(
        x=alt.X("delta_vs_none:Q", title="accuracy change vs no ban", axis=alt.Axis(format="+%")))
    err = base.mark_rule(strokeWidth=2, color="#4c78a8").encode(x="delta_ci_low:Q",
                                                                x2="delta_ci_high:Q")
    zero = alt.Chart(pl.DataFrame({"x": [0.0]})).mark_rule(color="gray", strokeDash=[4, 4]) \
        .encode(x="x:Q")
    chart = alt.layer(err, pts, zero).properties(width=520, height=alt.Step(26))
    return _style(chart, title="Token-restriction ablation", subtitle=[
        "accuracy change vs the unrestricted run with its CI",
        _n_note(df, by="condition", n="n_samples", what="samples")])


def agreement_chart(agreement: pl.DataFrame):
    """Judge vs human agreement (kappa, F1, correlations...) with CIs where given."""
    alt = _alt()
    df = _check(agreement, "agreement_chart").with_columns(
        (pl.col("scope") + pl.lit(" · ") + pl.col("metric")).alias("measure"))
    tips = ["behaviour:N", "scope:N", "metric:N", alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"), "n:Q"]
    base = alt.Chart().encode(y=alt.Y("measure:N", title=None), tooltip=tips)
    pts = base.mark_point(filled=True, size=70, color="#4c78a8").encode(
        x=alt.X("estimate:Q", title="agreement", scale=alt.Scale(domain=[-0.2, 1])))
    err = base.mark_rule(strokeWidth=2, color="#4c78a8").encode(x="ci_low:Q", x2="ci_high:Q")
    chart = alt.layer(err, pts, data=df).properties(width=380, height=alt.Step(20)).facet(
        row=alt.Row("behaviour:N", title=None))
    return _style(chart, title="Judge agreement with human labels",
                  subtitle=_n_note(df, by="behaviour", n="n", what="items"))


def stratified_chart(stratified: pl.DataFrame, *, kind: str = "length_bin",
                     metric: str = "per_1k_words", models: list[str] | None = None):
    """Category rates within strata (length quantile bins or correct/incorrect), with CIs."""
    alt = _alt()
    df = _check(stratified.filter((pl.col("stratum_kind") == kind) & (pl.col("metric") == metric)),
                "stratified_chart")
    ms = _models_of(df, models)
    tips = ["category:N", "stratum:N", "model:N", alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
            "n_responses:Q", "n_problems:Q"]
    base = alt.Chart().encode(x=alt.X("stratum:N", sort="ascending", axis=alt.Axis(labelAngle=-30),
                                      title="length bin (words)" if kind == "length_bin"
                                      else None),
                              xOffset=alt.XOffset("model:N", sort="ascending"), color=_color(ms),
                              tooltip=tips)
    pts = base.mark_point(filled=True, size=50).encode(y=alt.Y(
        "estimate:Q", title=METRIC_TITLES.get(metric, metric)))
    err = base.mark_rule().encode(y="ci_low:Q", y2="ci_high:Q")
    chart = alt.layer(err, pts, data=df).properties(width=alt.Step(max(14, 8 * len(ms))),
                                                    height=200).facet(
        column=alt.Column("category:N", title=None))
    what = "length quantile bins" if kind == "length_bin" else "correct vs incorrect answers"
    return _style(chart, title=f"Rates within {what}", subtitle=[
        f"{_level(df)} CI; within-stratum differences are not explained by "
        f"{'length' if kind == 'length_bin' else 'correctness'}",
        "n per point in the tooltip"])


def curves_chart(curves: pl.DataFrame, *, label: str, metric: str,
                 models: list[str] | None = None, title: str, y_title: str | None = None,
                 benchmark: str = "(all)", y_format: str | None = None):
    """Per-model curves over training steps (line + points + CI band), one panel per ``label``.

    Args:
        curves: a :mod:`reasonlens.stats.curves` table (model, benchmark, step, label column,
            metric, estimate, ci_low, ci_high, n_responses, n_problems).
        label: the column naming each panel (category, behaviour or measure).
        metric: which metric to draw.
    """
    alt = _alt()
    df = curves.filter(pl.col("metric") == metric)
    benchmark = _pick_benchmark(df, benchmark)
    df = _check(df.filter(pl.col("benchmark") == benchmark), "curves_chart")
    ms = _models_of(df, models)
    steps = sorted({int(s) for s in df["step"].to_list()})
    axis = alt.Axis(values=steps, format="d") if len(steps) <= 12 else alt.Axis(format="d")
    yaxis = alt.Axis(format=y_format) if y_format else alt.Axis()
    tips = [f"{label}:N", "model:N", "step:Q", alt.Tooltip("estimate:Q", format=".3f"),
            alt.Tooltip("ci_low:Q", format=".3f"), alt.Tooltip("ci_high:Q", format=".3f"),
            "n_responses:Q", "n_problems:Q"]
    base = alt.Chart().encode(x=alt.X("step:Q", title="training step", axis=axis,
                                      scale=alt.Scale(zero=False)), color=_color(ms))
    band = base.mark_area(opacity=0.15).encode(y="ci_low:Q", y2="ci_high:Q")
    line = base.mark_line(point=alt.OverlayMarkDef(filled=True, size=60)).encode(
        y=alt.Y("estimate:Q", title=y_title or METRIC_TITLES.get(metric, metric), axis=yaxis),
        tooltip=tips)
    err = base.mark_rule(strokeWidth=1.5).encode(y="ci_low:Q", y2="ci_high:Q")
    chart = alt.layer(line, err, band, data=df).properties(width=260, height=200).facet(
        column=alt.Column(f"{label}:N", title=None))
    return _style(chart, title=title, subtitle=[
        f"benchmark: {benchmark}; bands and bars: {_level(df)} CI, problems resampled",
        _n_note(df.filter(pl.col("step") == min(steps)) if steps else df,
                what=f"responses at step {min(steps) if steps else '?'}")])
