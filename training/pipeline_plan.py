"""The steps of ``training.pipeline`` as the commands a user would type (pure: no model, no I/O
besides reading the recipe).

A pipeline recipe (``training/pipelines/<name>.yaml``) names the base model, the distillation
data, the SFT and GRPO recipes and the settings of the evaluation stages. :func:`plan` turns it
into an ordered list of :class:`Step`: each one is one existing command (``python -m
training.data``, ``training.sft``, ``training.grpo``, ``training.eval_hook``, ``reasonlens
grade / score / judge / ablate / report``), its outputs and the steps it reads from. Nothing is
re-implemented here; the runner (:mod:`training.pipeline`) executes exactly these commands.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from reasonlens.errors import ConfigError
from training.paths import TRAINING_DIR
from training.recipe import apply_overrides, build_dataclass, check_keys, load_yaml

PIPELINE_DIR = TRAINING_DIR / "pipelines"
ARMS = ("base", "sft", "grpo")
TOP_KEYS = ("name", "description", "out", "base", "distill", "rl", "sft", "grpo", "sample",
            "grade", "score", "judge", "ablate", "report", "cluster", "estimates")


@dataclass(frozen=True)
class Step:
    """One command of the pipeline. ``python`` argv start with ``-m`` (run with the current
    interpreter); ``outputs`` must exist for the step to count as done; ``after`` are the steps
    whose outputs it reads (a rerun of one of them reruns this one); ``clean`` are the paths a
    command would resume from (a trace journal, an ablation directory, a checkpoint): removed
    before the step reruns with another key, kept when an interrupted run of the same step
    resumes; ``where`` says which machine runs it on a cluster."""

    name: str
    argv: tuple[str, ...]
    outputs: tuple[str, ...]
    after: tuple[str, ...] = ()
    where: str = "this machine"
    estimate: str | None = None
    per_node: tuple[tuple[str, tuple[str, ...]], ...] = ()   # (node label, argv) on a cluster
    clean: tuple[str, ...] = ()

    def shell(self) -> str:
        argv = ("python",) + self.argv if self.argv[:1] in (("-m",), ("-c",)) else self.argv
        return shell_join(argv)


def shell_join(argv) -> str:
    """``shlex.join``, but ``$VAR`` placeholders stay expandable (double quotes)."""
    import re

    out = []
    for a in argv:
        if "$" in a and re.fullmatch(r"[\w./:=@${}-]+", a):
            out.append(f'"{a}"')
        else:
            out.append(shlex.quote(a))
    return " ".join(out)


@dataclass(frozen=True)
class Base:
    kind: str                      # tiny | smollm2 | path
    tiny: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    path: str | None = None

    def __post_init__(self):
        if self.kind not in ("tiny", "smollm2", "path"):
            raise ConfigError(f"base.kind must be tiny, smollm2 or path, got {self.kind!r}")
        if self.kind == "path" and not self.path:
            raise ConfigError("base.kind path needs base.path (a folder or hub id)")
        object.__setattr__(self, "tiny", MappingProxyType(dict(self.tiny or {})))


@dataclass(frozen=True)
class Distill:
    traces: str | None = None          # teacher traces already sampled
    pool: str | None = None            # the problem pool file (else built from pool_source)
    pool_source: str | None = None     # data root of aime_1983_2023 for `training.data pool`
    test_source: str | None = None     # contamination check against AIME 2024/2025 (None: off)
    teacher: MappingProxyType | None = None

    def __post_init__(self):
        if not (self.traces or self.teacher):
            raise ConfigError("distill needs traces (teacher traces) or teacher (an endpoint)")
        if not (self.pool or self.pool_source):
            raise ConfigError("distill needs pool (a file) or pool_source (a data root)")
        if self.teacher is not None:
            object.__setattr__(self, "teacher", MappingProxyType(dict(self.teacher)))


@dataclass(frozen=True)
class RL:
    source: str | None = None
    benchmark: str | None = None
    test_source: str | None = None


@dataclass(frozen=True)
class Train:
    config: str
    set: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "set", tuple(self.set or ()))


@dataclass(frozen=True)
class Sample:
    benchmarks: tuple[str, ...]
    source: str | None = None
    backend: str = "hf"
    limit: int | None = None
    n: int = 1
    temperature: float = 0.6
    top_p: float = 0.95
    max_tokens: int = 1024
    template: str = "boxed_cot"
    args: tuple[str, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "benchmarks", tuple(self.benchmarks))
        object.__setattr__(self, "args", tuple(str(a) for a in self.args or ()))


@dataclass(frozen=True)
class Ablate:
    benchmark: str
    arms: tuple[str, ...] = ("sft",)
    source: str | None = None
    backend: str = "hf"
    banlist: str = "paper_core"
    limit: int | None = None
    args: tuple[str, ...] = ()

    def __post_init__(self):
        bad = [a for a in self.arms if a not in ARMS]
        if bad:
            raise ConfigError(f"ablate.arms: unknown arms {bad}; valid: {', '.join(ARMS)}")
        object.__setattr__(self, "arms", tuple(self.arms))
        object.__setattr__(self, "args", tuple(str(a) for a in self.args or ()))


@dataclass(frozen=True)
class Extra:
    """Extra arguments of a stage command; for the report also its title and ``check``: open it
    in headless Chromium (``reasonlens report --check``) when a Chromium is installed."""

    args: tuple[str, ...] = ()
    title: str | None = None
    check: bool = True

    def __post_init__(self):
        object.__setattr__(self, "args", tuple(str(a) for a in self.args or ()))


@dataclass(frozen=True)
class PipelineRecipe:
    name: str
    description: str
    out: str
    base: Base
    distill: Distill
    rl: RL
    sft: Train
    grpo: Train
    sample: Sample
    ablate: Ablate
    grade: Extra = Extra()
    score: Extra = Extra()
    judge: Extra = Extra()
    report: Extra = Extra()
    cluster: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    estimates: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    path: str | None = None

    @property
    def on_cluster(self) -> bool:
        return bool(self.cluster)


def recipe_path(ref: str) -> Path:
    """``tiny`` -> ``training/pipelines/tiny.yaml``; a path is taken as it is."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or "/" in ref:
        return p
    cand = PIPELINE_DIR / f"{ref}.yaml"
    if not cand.exists():
        names = sorted(x.stem for x in PIPELINE_DIR.glob("*.yaml"))
        raise ConfigError(f"no pipeline recipe {ref!r}; shipped: {', '.join(names)}")
    return cand


def load_pipeline(ref: str, overrides: tuple[str, ...] | list[str] = ()) -> PipelineRecipe:
    path = recipe_path(ref)
    data = apply_overrides(load_yaml(path), overrides)
    where = str(path)
    check_keys("pipeline", data, TOP_KEYS, where)
    for sec in ("base", "distill", "rl", "sft", "grpo", "sample", "ablate"):
        if not isinstance(data.get(sec), dict):
            raise ConfigError(f"{where}: section {sec} is required")

    def sec(cls, name, default=None):
        raw = data.get(name)
        if raw is None and default is not None:
            return default
        return build_dataclass(cls, name, raw, where)

    return PipelineRecipe(
        name=str(data.get("name") or path.stem), description=str(data.get("description") or ""),
        out=str(data.get("out") or f"out/pipeline/{path.stem}"),
        base=sec(Base, "base"), distill=sec(Distill, "distill"), rl=sec(RL, "rl"),
        sft=sec(Train, "sft"), grpo=sec(Train, "grpo"), sample=sec(Sample, "sample"),
        ablate=sec(Ablate, "ablate"), grade=sec(Extra, "grade", Extra()),
        score=sec(Extra, "score", Extra()), judge=sec(Extra, "judge", Extra()),
        report=sec(Extra, "report", Extra()),
        cluster=MappingProxyType(dict(data.get("cluster") or {})),
        estimates=MappingProxyType(dict(data.get("estimates") or {})), path=where)


# --- the plan ----------------------------------------------------------------------------------

def base_model(r: PipelineRecipe, out: Path) -> str:
    """Where the base model is (built by the ``base`` step for tiny and SmolLM2)."""
    if r.base.kind == "tiny":
        return str(out / "base")
    if r.base.kind == "smollm2":
        from reasonlens.devtools.models import DEFAULT_CACHE

        return str(DEFAULT_CACHE / "smollm2-135m-instruct-hf")
    return str(r.base.path)


def _base_step(r: PipelineRecipe, out: Path) -> Step | None:
    path = base_model(r, out)
    if r.base.kind == "tiny":
        t = dict(r.base.tiny)
        argv = ["-m", "training.tiny", "--out", path]
        for k in ("layers", "hidden", "vocab_size", "seed"):
            if k in t:
                argv += [f"--{k.replace('_', '-')}", str(t[k])]
        return Step("base", tuple(argv), (f"{path}/config.json",), clean=(path,))
    if r.base.kind == "smollm2":
        code = ("from reasonlens.devtools.models import smollm2_hf_dir; "
                "print(smollm2_hf_dir())")
        return Step("base", ("-c", code), (f"{path}/config.json",))
    return None


def _distill_steps(r: PipelineRecipe, out: Path) -> list[Step]:
    d, dd = r.distill, out / "distill"
    steps: list[Step] = []
    contamination = (["--test-source", d.test_source] if d.test_source
                     else ["--no-contamination"])
    pool = d.pool
    if pool is None:
        pool = str(dd / "pool.parquet")
        steps.append(Step("distill-pool", ("-m", "training.data", "pool", "--source",
                                           str(d.pool_source), *contamination, "--out", str(dd)),
                          (pool,)))
    traces = d.traces
    if traces is None:
        t = dict(d.teacher or {})
        traces = str(dd / "traces.jsonl")
        argv = ["-m", "training.data", "sample", "--pool", pool, "--out", str(dd),
                "--base-url", str(t["base_url"]), "--model", str(t["model"])]
        for k in ("api_key_env", "max_tokens", "concurrency"):
            if k in t:
                argv += [f"--{k.replace('_', '-')}", str(t[k])]
        steps.append(Step("distill-sample", tuple(argv), (traces,),
                          after=tuple(s.name for s in steps),
                          clean=(traces, traces + ".provenance.json"),
                          where="any machine (teacher API)", estimate=r.estimates.get("distill")))
    steps.append(Step("distill-build", ("-m", "training.data", "build", "--traces", traces,
                                        "--pool", pool, *contamination, "--out", str(dd)),
                      (str(dd / "dataset"), str(dd / "stats.json")),
                      after=tuple(s.name for s in steps)))
    return steps


def _rl_step(r: PipelineRecipe, out: Path) -> Step:
    rl = out / "rl"
    argv = ["-m", "training.data", "rl-prompts"]
    if r.rl.benchmark:
        argv += ["--benchmark", r.rl.benchmark]
    if r.rl.source:
        argv += ["--source", r.rl.source]
    argv += (["--test-source", r.rl.test_source] if r.rl.test_source
             else ["--no-contamination"])
    return Step("rl-prompts", (*argv, "--out", str(rl)), (str(rl / "dataset"),))


def _train_step(name: str, module: str, t: Train, base: str, data: str, out: Path,
                after: tuple[str, ...], r: PipelineRecipe) -> Step:
    ckpt = str(out / name)
    argv = ("-m", module, "--config", t.config, "--set", f"model.name_or_path={base}",
            "--set", f"data.train={data}", *(x for s in t.set for x in ("--set", s)),
            "--output-dir", ckpt)
    nodes = _train_nodes(name, argv, r)
    where = f"{len(nodes)} GPU nodes (accelerate + DeepSpeed ZeRO-3)" if nodes else "this machine"
    return Step(name, argv, (f"{ckpt}/config.json", f"{ckpt}/run_summary.json"), after,
                where=where, estimate=r.estimates.get(name), per_node=nodes, clean=(ckpt,))


def _train_nodes(name: str, argv: tuple[str, ...], r: PipelineRecipe
                 ) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """accelerate + DeepSpeed launch lines per node (only for recipes with a ``cluster``)."""
    c = dict(r.cluster.get(name) or {})
    if not c:
        return ()
    acc = ("accelerate", "launch", "--config_file", "training/configs/accelerate_zero3.yaml")
    gpn = int(c.get("gpus_per_node", 8))
    if name == "sft":
        n = int(c["nodes"])
        return tuple((f"node {k} of {n}", acc + (
            "--num_machines", str(n), "--num_processes", str(n * gpn), "--machine_rank",
            str(k), "--main_process_ip", "$MAIN_IP", "--main_process_port", "29500") + argv)
            for k in range(n))
    rollout = ("trl", "vllm-serve", "--model", base_of(argv), "--tensor_parallel_size",
               str(c["vllm_tensor_parallel"]), "--data_parallel_size",
               str(c["vllm_data_parallel"]), "--max_model_len", str(c["max_model_len"]),
               "--host", "0.0.0.0", "--port", "8000")
    n = int(c["train_nodes"])
    train = tuple((f"node {k + 1} (trainer rank {k} of {n})", acc + (
        "--num_machines", str(n), "--num_processes", str(n * gpn), "--machine_rank", str(k),
        "--main_process_ip", "$TRAIN_MAIN_IP", "--main_process_port", "29500") + argv + (
        "--set", "trl.vllm_server_base_url=http://$NODE0_IP:8000")) for k in range(n))
    return (("node 0 (vLLM rollouts)", rollout),) + train


def base_of(argv: tuple[str, ...]) -> str:
    for a in argv:
        if a.startswith("model.name_or_path="):
            return a.split("=", 1)[1]
    return "BASE"


def _sample_steps(r: PipelineRecipe, out: Path, ckpts: dict[str, str],
                  after: dict[str, tuple[str, ...]]) -> list[Step]:
    s, steps = r.sample, []
    for arm in ARMS:
        trace = str(out / "eval" / f"{arm}.jsonl")
        argv = ["-m", "training.eval_hook", "--checkpoint", ckpts[arm], "--backend", s.backend,
                "--model-name", arm]
        for b in s.benchmarks:
            argv += ["--benchmark", b]
        if s.source:
            argv += ["--source", s.source]
        if s.limit:
            argv += ["--limit", str(s.limit)]
        argv += ["-n", str(s.n), "--temperature", str(s.temperature), "--top-p", str(s.top_p),
                 "--max-tokens", str(s.max_tokens), "--template", s.template, *s.args,
                 "--out", trace]
        steps.append(Step(f"sample-{arm}", tuple(argv), (trace,), after[arm],
                          where="a GPU node (4 x 80 GB)" if s.backend == "vllm"
                          else "this machine", estimate=r.estimates.get("sample"),
                          clean=(trace, trace + ".provenance.json")))
    return steps


def plan(r: PipelineRecipe, out: str | Path | None = None) -> list[Step]:
    """Every step, in order."""
    out = Path(out or r.out)
    steps: list[Step] = []
    b = _base_step(r, out)
    if b:
        steps.append(b)
    base_after = (b.name,) if b else ()
    steps += _distill_steps(r, out)
    steps.append(_rl_step(r, out))
    base = base_model(r, out)
    steps.append(_train_step("sft", "training.sft", r.sft, base,
                             str(out / "distill" / "dataset"), out,
                             base_after + ("distill-build",), r))
    steps.append(_train_step("grpo", "training.grpo", r.grpo, base, str(out / "rl" / "dataset"),
                             out, base_after + ("rl-prompts",), r))
    ckpts = {"base": base, "sft": str(out / "sft"), "grpo": str(out / "grpo")}
    steps += _sample_steps(r, out, ckpts, {"base": base_after, "sft": ("sft",),
                                            "grpo": ("grpo",)})
    traces = [str(out / "eval" / f"{a}.jsonl") for a in ARMS]
    sampled = tuple(f"sample-{a}" for a in ARMS)
    bench = ["--benchmark", r.sample.benchmarks[0]] if len(r.sample.benchmarks) == 1 else []
    src = ["--benchmark-source", r.sample.source] if bench and r.sample.source else []
    steps.append(Step("grade", ("-m", "reasonlens", "grade", *traces, *bench, *src,
                                *r.grade.args, "--out", str(out / "grade")),
                      (str(out / "grade" / "metrics.json"),), sampled))
    steps.append(Step("score", ("-m", "reasonlens", "score", *traces, *r.score.args, "--out",
                                str(out / "score")),
                      (str(out / "score" / "summary.json"),), sampled))
    steps.append(Step("judge", ("-m", "reasonlens", "judge", *traces, *r.judge.args, "--out",
                                str(out / "judge")),
                      (str(out / "judge" / "judgments.parquet"),), sampled,
                      estimate=r.estimates.get("judge")))
    a = r.ablate
    for arm in a.arms:
        d = str(out / f"ablate-{arm}")
        argv = ["-m", "reasonlens", "ablate", "--benchmark", a.benchmark]
        if a.source:
            argv += ["--benchmark-source", a.source]
        if a.limit:
            argv += ["--limit", str(a.limit)]
        argv += ["--model", arm, "--backend", a.backend, "--model-path", ckpts[arm],
                 "--banlist", a.banlist, *a.args, "--out", d]
        steps.append(Step(f"ablate-{arm}", tuple(argv), (f"{d}/ablation.json",),
                          base_after if arm == "base" else (arm,),
                          where="a GPU node (4 x 80 GB)" if a.backend == "vllm"
                          else "this machine", estimate=r.estimates.get("ablate"),
                          clean=(d, str(out / f".ablate-{arm}.resume"))))
    report = str(out / "report.html")
    inputs = [str(out / x) for x in ("score", "grade", "judge")] + \
        [str(out / f"ablate-{arm}") for arm in a.arms]
    title = r.report.title or f"reasonlens: {r.name} pair"
    check = ("--check",) if r.report.check and _have_chromium() else ()
    steps.append(Step("report", ("-m", "reasonlens", "report", *inputs, "-o", report,
                                 "--title", title, *check, *r.report.args),
                      (report,), ("grade", "score", "judge")
                      + tuple(f"ablate-{arm}" for arm in a.arms)))
    return steps


def _have_chromium() -> bool:
    from reasonlens.report.browser import find_chromium

    return find_chromium() is not None


def step_record(step: Step) -> dict[str, Any]:
    return {"name": step.name, "command": step.shell(), "outputs": list(step.outputs),
            "after": list(step.after), "where": step.where, "estimate": step.estimate,
            "per_node": [{"node": n, "command": shell_join(a)} for n, a in step.per_node]}
