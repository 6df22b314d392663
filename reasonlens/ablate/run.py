"""``reasonlens ablate``: generate under each ban condition, grade, audit, write the outputs.

Conditions, in order: ``none`` (no ban), one per category, ``all`` (the union, when there are
two or more categories) and ``random`` (as many frequency-matched random ids as ``all`` blocks;
see :mod:`reasonlens.ablate.control`; it needs the ``none`` outputs first).

Generation goes through one backend object (:mod:`reasonlens.ablate.engines`: OpenAI-compatible
server, transformers, or one vLLM engine for every condition).

Outputs under DIR, written as one stage output (:func:`reasonlens.io.stage_output`: a reader sees
the old or the new directory, never a mix): ``traces/<condition>.jsonl`` (append-only journals
kept in ``.DIR.resume/`` while the run is going, so a killed run resumes; condition metadata in
every record), ``graded/<condition>.parquet``, ``ablation.json`` (per-condition accuracy and CI,
paired delta vs none, leakage, clip ratio, length, repetition; ban-set hashes and ids; the
first-request check; provenance), ``collateral.json``, ``substitutions.parquet`` and
``leakage.parquet`` (per condition and lexeme).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.ablate import audit
from reasonlens.ablate.bans import BanConfig, BanSet, build_banset, collateral_report
from reasonlens.errors import AblationError, OutputError
from reasonlens.provenance import content_hash, input_records, provenance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AblationConfig:
    """Everything ``reasonlens ablate`` needs besides the sampling settings."""

    benchmark: str
    model: str
    backend: str = "openai"
    base_urls: tuple[str, ...] = ()
    model_path: str | None = None
    tokenizer: str | None = None
    vocab_size: int | None = None
    benchmark_source: str | None = None
    limit: int | None = None
    bans: tuple[str, ...] = ()
    ban_words: tuple[str, ...] = ()
    banlist: str | None = None
    pieces: str = "last"
    random_control: bool = True
    random_seed: int = 0
    max_bias_entries: int | None = -1      # -1: 300 for api.openai.com, else unlimited; 0: none
    over_limit: str = "refuse"
    check_ban: bool = True
    concurrency: int = 8
    threads: int | None = None             # torch threads for --backend hf
    device: str = "cpu"                    # --backend hf: cpu, cuda, cuda:N or auto
    api_key_env: str = "OPENAI_API_KEY"
    tensor_parallel_size: int | None = None   # vLLM engine options (--backend vllm)
    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    audit: audit.AuditConfig = field(default_factory=audit.AuditConfig)

    def __post_init__(self):
        from reasonlens.ablate.engines import make_backend

        make_backend(self)   # checks the backend name and what it needs

    def bias_limit(self) -> int | None:
        from reasonlens.ablate.backends import default_bias_limit

        if self.max_bias_entries is None or self.max_bias_entries == 0:
            return None
        if self.max_bias_entries < 0:
            return default_bias_limit(self.base_urls)
        return self.max_bias_entries


@dataclass
class _Cond:
    name: str
    kind: str                        # none | category | all | random
    banset: BanSet | None = None
    ids: list[int] = field(default_factory=list)          # unconditional ids
    sequences: list[tuple[int, ...]] = field(default_factory=list)
    bias_info: dict[str, Any] | None = None

    def metadata(self, backend: str) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "backend": backend,
                "categories": [c for c, _ in self.banset.categories] if self.banset else [],
                "banset_hash": self.banset.hash if self.banset else None,
                "n_banned_ids": len(set(self.ids) | {s[-1] for s in self.sequences}),
                "n_bias_entries": len(self.ids), "n_sequences": len(self.sequences),
                "ids_hash": content_hash({"ids": sorted(self.ids),
                                          "sequences": sorted(list(s) for s in self.sequences)})
                if self.ids or self.sequences else None,
                "truncated": bool(self.bias_info and self.bias_info.get("truncated"))}


def plan_conditions(cfg: AblationConfig, tok, backend, *,
                    echo: Callable[[str], None] = lambda s: None
                    ) -> tuple[list[_Cond], BanConfig, list[dict[str, Any]]]:
    """The banned conditions (none, categories, all) with their ids under the backend's rules
    (exact sequences where the backend supports them; logit_bias with pieces and the entry limit
    elsewhere). Raises before any generation when a ban does not fit the limit."""
    from reasonlens.ablate.backends import limited_bias
    from reasonlens.ablate.presets import resolve_categories

    cats, data_files = resolve_categories(cfg.bans, cfg.ban_words, cfg.banlist)
    bconf = BanConfig(pieces=cfg.pieces)
    echo(f"building ban sets for {len(cats)} categories with the {tok.describe()['kind']} "
         f"tokenizer ({tok.vocab_size} ids)")
    conds: list[_Cond] = [_Cond("none", "none")]
    for c, terms in cats.items():
        conds.append(_Cond(c, "category", build_banset({c: terms}, tok, bconf, name=c)))
    if len(cats) > 1:
        conds.append(_Cond("all", "all", build_banset(cats, tok, bconf, name="all")))
    for c in conds[1:]:
        if backend.sequences_supported:
            c.ids, c.sequences = list(c.banset.single_ids), list(c.banset.sequences)
        else:
            bias, c.bias_info = limited_bias(c.banset, limit=backend.bias_limit(),
                                             over_limit=cfg.over_limit)
            c.ids = list(bias)
    return conds, bconf, data_files


def _resume_traces(so, final_traces: Path) -> Path:
    """The traces journal directory of this run: ``.DIR.resume/traces``, seeded from the
    committed output's traces the first time (a rerun continues from them)."""
    import shutil

    tdir = so.resume_dir / "traces"
    if not tdir.exists():
        tdir.mkdir(parents=True)
        if final_traces.is_dir():
            for f in final_traces.iterdir():
                if f.is_file():
                    shutil.copy2(f, tdir / f.name)
    return tdir


def run_ablation(cfg: AblationConfig, sampling, out_dir: str | Path, *, progress: bool = True,
                 echo: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """Run every condition, grade, audit; write the outputs; return ablation.json's content."""
    from reasonlens.ablate.engines import make_backend
    from reasonlens.io import stage_output
    from reasonlens.problems import load_benchmark

    out = Path(out_dir)
    problems = load_benchmark(cfg.benchmark, cfg.benchmark_source, limit=cfg.limit)
    backend = make_backend(cfg)
    tok = backend.tokenizer()
    conds, bconf, data_files = plan_conditions(cfg, tok, backend, echo=echo)
    config_rec = {"ablation": {k: v for k, v in asdict(cfg).items() if k != "audit"},
                  "audit": asdict(cfg.audit), "sampling": sampling.as_dict(),
                  "ban_config": asdict(bconf)}
    inputs = [{**r, "benchmark": cfg.benchmark, "n_problems": problems.height}
              for r in input_records(cfg.benchmark_source or cfg.benchmark)]
    with stage_output(out, stage="ablate", inputs=inputs) as so:
        prov = so.stamp(provenance(command="ablate", config=config_rec, data_files=data_files,
                                   inputs=inputs))
        tdir = _resume_traces(so, out / "traces")
        try:
            result = _run_conditions(cfg, backend, tok, conds, problems, sampling, so, tdir,
                                     prov, progress=progress, echo=echo)
        finally:
            backend.close()
        import shutil

        shutil.move(str(tdir), str(so.path / "traces"))
        so.write_json("ablation.json", result)
    return result


def _run_conditions(cfg, backend, tok, conds, problems, sampling, so, tdir: Path, prov, *,
                    progress: bool, echo) -> dict[str, Any]:
    from reasonlens.ablate.control import output_frequencies, random_control_ids

    surfaces = tok.surfaces()
    main = conds[-1].banset
    assert main is not None
    coll = collateral_report(main, tok, sequences_supported=backend.sequences_supported)
    so.write_json("collateral.json", {**coll, "provenance": prov})
    echo(f"collateral: {coll['n_units_with_collateral']} of {coll['n_units']} banned units "
         f"also block {coll['n_words_blocked']} other vocabulary words (collateral.json)")

    check = backend.check_ban(main, conds[-1].ids, surfaces)
    if check is not None:
        echo(f"ban check on the first request: {check['status']} (probe word "
             f"{check['probe_word']!r}: {check['control_mentions']} mentions unbanned, "
             f"{check['banned_mentions']} banned)")
        if check["status"] == "failed":
            raise AblationError(f"the server did not apply logit_bias: the banned word "
                                f"{check['probe_word']!r} appeared under the ban "
                                f"({check['banned_text']!r}); a client or proxy may drop it")

    summaries: dict[str, Any] = {}

    def gen(c: _Cond) -> None:
        echo(f"generating condition {c.name!r} ({len(c.ids)} ids"
             + (f", {len(c.sequences)} sequences" if c.sequences else "") + ")")
        summaries[c.name] = backend.generate(
            problems, sampling, tdir / f"{c.name}.jsonl", model_name=f"{cfg.model}#{c.name}",
            ids=c.ids, sequences=c.sequences, condition=c.metadata(backend.name),
            progress=progress)

    for c in conds:
        gen(c)
    rinfo = None
    if cfg.random_control:
        none_traces = _load(tdir / "none.jsonl")
        freq = output_frequencies(tok, audit.response_texts(none_traces).to_list())
        targets = sorted(set(conds[-1].ids) | {s[-1] for s in conds[-1].sequences})
        excl = {i for c in conds for i in c.ids} | {i for c in conds for s in c.sequences
                                                    for i in s}
        ids, rinfo = random_control_ids(targets, surfaces, exclude=excl,
                                        special=tok.special_ids(), banned_lexemes=main.lexemes,
                                        freq=freq, seed=cfg.random_seed)
        rc = _Cond("random", "random", None, ids=ids)
        conds.append(rc)
        gen(rc)

    result = _evaluate(cfg, backend.name, conds, tdir, so, prov)
    result.update({
        "condition_order": [c.name for c in conds],
        "benchmark": cfg.benchmark, "model": cfg.model, "backend": backend.name,
        "n_problems": problems.height, "samples_per_problem": sampling.n,
        "banset": {"name": main.name, "hash": main.hash, "tokenizer": tok.describe(),
                   "conditions": {c.name: {**c.banset.record(surfaces=surfaces),
                                           "bias": c.bias_info}
                                  for c in conds if c.banset is not None}},
        "random_control": rinfo, "ban_check": check, "generation": summaries,
        "provenance": prov})
    return result


def _load(path: Path) -> pl.DataFrame:
    from reasonlens.traces import LoadOptions, load_traces

    return load_traces([str(path)], LoadOptions(allow_empty=True))


def _evaluate(cfg: AblationConfig, backend_name: str, conds: list[_Cond], tdir: Path, so,
              prov) -> dict[str, Any]:
    from reasonlens.grade import compute_metrics, grade_frame

    a = cfg.audit
    main = next(c.banset for c in reversed(conds) if c.banset is not None)
    graded: dict[str, pl.DataFrame] = {}
    traces: dict[str, pl.DataFrame] = {}
    for c in conds:
        t = _load(tdir / f"{c.name}.jsonl")
        traces[c.name] = t
        g = grade_frame(t)
        graded[c.name] = g
        so.write_parquet(g, f"graded/{c.name}.parquet", prov)
    base = graded["none"]
    rows: dict[str, Any] = {}
    leak_frames, subs = [], []
    for c in conds:
        g = graded[c.name]
        m = compute_metrics(g, n_boot=a.n_boot, seed=a.seed)["models"]
        bm = next(iter(next(iter(m.values()))["benchmarks"].values())) if m else {}
        bs = c.banset or main
        per_resp, per_lex = audit.leakage(traces[c.name], bs.lexemes,
                                          single_token_lexemes=bs.single_token_lexemes())
        n = max(per_resp.height, 1)
        shape = audit.shape_stats(traces[c.name], a)
        delta = audit.paired_delta(g, base, n_boot=a.n_boot, seed=a.seed) \
            if c.name != "none" else {"delta": 0.0, "delta_ci": [0.0, 0.0]}
        rows[c.name] = {
            **c.metadata(backend_name),
            "accuracy": bm.get("accuracy"), "accuracy_ci": bm.get("accuracy_ci"),
            "delta_vs_none": delta["delta"], "delta_ci": delta["delta_ci"],
            "leakage_rate": int((per_resp["leak_count"] > 0).sum()) / n,
            "leakage_rate_single": int((per_resp["leak_single"] > 0).sum()) / n,
            "leakage_lexemes": "all banned lexemes (reference usage)" if c.banset is None
            else "this condition's",
            "clip_ratio": shape["clip_ratio"], "mean_length": shape["mean_length"],
            "length_unit": shape["length_unit"], "repetition_rate": shape["repetition_rate"],
            "n_responses": shape["n_responses"],
            "top_leaks": per_lex.filter(pl.col("responses") > 0).head(10).to_dicts(),
        }
        leak_frames.append(per_lex.with_columns(pl.lit(c.name).alias("condition")))
        if c.name != "none" and traces[c.name].height and base.height:
            subs.append(audit.substitutions(traces[c.name], traces["none"], main.lexemes,
                                            condition=c.name, top=a.substitution_top,
                                            min_count=a.substitution_min_count))
    so.write_parquet(pl.concat(leak_frames, how="vertical_relaxed").select(
        ["condition", "lexeme", "single_token", "responses", "exact", "obfuscated"]),
        "leakage.parquet", prov)
    sub_df = pl.concat(subs, how="vertical_relaxed") if subs else pl.DataFrame(
        schema={"condition": pl.String, "rank": pl.UInt32, "term": pl.String,
                "banned": pl.Boolean})
    so.write_parquet(sub_df, "substitutions.parquet", prov)
    return {"conditions": rows}


def table_rows(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of the summary table printed by the CLI."""
    cols = ["condition", "ids", "accuracy", "95% CI", "Δ vs none", "Δ CI", "leak",
            "leak(1-tok)", "clip", "length", "loops"]
    rows = []
    for name, r in result["conditions"].items():
        def ci(v):
            return f"[{v[0]:.3f}, {v[1]:.3f}]" if v else ""
        rows.append([name, r["n_banned_ids"], r["accuracy"], ci(r["accuracy_ci"]),
                     r["delta_vs_none"], ci(r["delta_ci"]), r["leakage_rate"],
                     r["leakage_rate_single"], r["clip_ratio"], r["mean_length"],
                     r["repetition_rate"]])
    return cols, rows


def plan_only(cfg: AblationConfig, out_dir: str | Path, *,
              echo: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    """``--dry-run``: build the ban sets and the collateral report, write ``bansets.json`` and
    ``collateral.json``, generate nothing. Refused on the directory of a finished ablation (its
    traces would be replaced)."""
    from reasonlens.ablate.engines import make_backend
    from reasonlens.io import stage_output

    out = Path(out_dir)
    if (out / "ablation.json").exists():
        raise OutputError(f"{out} holds a finished ablation; give --dry-run another --out",
                          path=str(out))
    backend = make_backend(cfg)
    tok = backend.tokenizer()
    surfaces = tok.surfaces()
    conds, bconf, data_files = plan_conditions(cfg, tok, backend, echo=echo)
    main = conds[-1].banset
    with stage_output(out, stage="ablate --dry-run") as so:
        prov = so.stamp(provenance(command="ablate --dry-run", config={
            "ablation": {k: v for k, v in asdict(cfg).items() if k != "audit"},
            "ban_config": asdict(bconf)}, data_files=data_files))
        coll = collateral_report(main, tok, sequences_supported=backend.sequences_supported)
        so.write_json("collateral.json", {**coll, "provenance": prov})
        plan = {"backend": backend.name, "tokenizer": tok.describe(),
                "conditions": {c.name: {**c.metadata(backend.name),
                                        "coverage": dict(c.banset.coverage),
                                        "banset": c.banset.record(surfaces=surfaces),
                                        "bias": c.bias_info}
                               for c in conds if c.banset is not None},
                "collateral": {k: v for k, v in coll.items() if k != "units"},
                "provenance": prov}
        so.write_json("bansets.json", plan)
    return plan
