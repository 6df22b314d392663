"""The model pair end to end, one command: data -> SFT and GRPO from one base -> samples of base,
SFT and GRPO -> grade, score, judge, ablate (random-token control included) -> one report.

    python -m training.pipeline --recipe tiny          # CPU, minutes (make pipeline-tiny)
    python -m training.pipeline --recipe smollm2       # CPU, real weights
    python -m training.pipeline --recipe qwen32b       # prints each step's commands per node
    python -m training.pipeline --recipe tiny --plan   # print the plan of any recipe

Each step runs the command a user would type (:mod:`training.pipeline_plan` builds them), one
process per step. Resumable step by step: ``OUT/pipeline-manifest.json`` records each finished
step with a key (its command and the run ids of the steps it reads); a rerun skips a step whose
key is unchanged and whose outputs exist, and reruns it (and everything downstream) otherwise.
An interrupted step is run again and the stages' own resume takes over (sample journals,
ablation traces); a step rerun for another key first removes what it would resume from, so no
sample of an older checkpoint is continued.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reasonlens.errors import ConfigError, ReasonlensError
from training.options import set_option
from training.paths import REPO_ROOT
from training.pipeline_plan import PipelineRecipe, Step, load_pipeline, plan, step_record

MANIFEST = "pipeline-manifest.json"


def step_key(step: Step, done: dict[str, Any]) -> str:
    """What a finished step must match to be skipped: its command and its inputs' run ids."""
    upstream = [done.get(a, {}).get("run_id") for a in step.after]
    blob = json.dumps({"argv": list(step.argv), "upstream": upstream}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_manifest(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"steps": {}}
    from reasonlens.io import read_json

    try:
        data = read_json(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable pipeline manifest ({exc}); delete it to start "
                          "over") from exc
    data.setdefault("steps", {})
    return data


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT)] + (
        [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def _argv(step: Step) -> list[str]:
    if step.argv[:1] in (("-m",), ("-c",)):
        return [sys.executable, *step.argv]
    return list(step.argv)


def is_done(step: Step, done: dict[str, Any], key: str) -> bool:
    rec = done.get(step.name)
    return bool(rec and rec.get("status") == "done" and rec.get("key") == key
                and all(Path(p).exists() for p in step.outputs))


def run_pipeline(r: PipelineRecipe, out: Path, *, only: tuple[str, ...] = (),
                 echo: Callable[[str], None] = print,
                 runner: Callable[[list[str], Path], int] | None = None) -> dict[str, Any]:
    """Run (or skip) every step; returns the manifest. ``runner(argv, log_path)`` runs one
    command and returns its exit code (default: a subprocess logging to ``OUT/logs``)."""
    from reasonlens.io import write_json

    out.mkdir(parents=True, exist_ok=True)
    mpath = out / MANIFEST
    manifest = load_manifest(mpath)
    manifest.update(recipe=r.name, recipe_path=r.path, out=str(out))
    done: dict[str, Any] = manifest["steps"]
    runner = runner or _subprocess
    t_all = time.monotonic()
    summary = []
    for step in plan(r, out):
        key = step_key(step, done)
        if is_done(step, done, key) or (only and step.name not in only):
            state = "skipped (done)" if is_done(step, done, key) else "skipped (--only)"
            summary.append((step.name, state, 0.0))
            echo(f"[{step.name}] {state}")
            continue
        echo(f"[{step.name}] {step.shell()}")
        stale = clear_stale(step, done.get(step.name), key)
        if stale:
            echo(f"[{step.name}] removed the outputs of an earlier run with other inputs: "
                 + ", ".join(stale))
        t0 = time.monotonic()
        done[step.name] = {"status": "running", "key": key, "command": step.shell(),
                           "started_utc": _now()}
        write_json(mpath, manifest)
        code = runner(_argv(step), out / "logs" / f"{step.name}.log")
        secs = round(time.monotonic() - t0, 1)
        missing = [p for p in step.outputs if not Path(p).exists()]
        if code != 0 or missing:
            done[step.name].update(status="failed", exit_code=code, seconds=secs)
            write_json(mpath, manifest)
            why = f"exit code {code}" if code else f"missing outputs {missing}"
            raise ReasonlensError(f"pipeline step {step.name} failed ({why}); see "
                                  f"{out / 'logs' / (step.name + '.log')}; rerun the same "
                                  "command to resume")
        done[step.name].update(status="done", seconds=secs, finished_utc=_now(),
                               run_id=f"{key}-{time.time_ns()}")
        write_json(mpath, manifest)
        summary.append((step.name, "ran", secs))
        echo(f"[{step.name}] done in {secs:.1f} s")
    manifest["last_run"] = {"seconds": round(time.monotonic() - t_all, 1),
                            "steps": [{"name": n, "state": s, "seconds": t}
                                      for n, s, t in summary], "finished_utc": _now()}
    write_json(mpath, manifest)
    return manifest


def clear_stale(step: Step, rec: dict[str, Any] | None, key: str) -> list[str]:
    """Remove what the step's command would resume from, unless it is an interrupted run of
    this very step (same key): a sample journal or an ablation directory made from another
    checkpoint must not be continued (the stages' resume checks see the same model *name*)."""
    if rec is not None and rec.get("key") == key and rec.get("status") != "done":
        return []
    removed = []
    for p in map(Path, step.clean):
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()
        else:
            continue
        removed.append(str(p))
    return removed


def _subprocess(argv: list[str], log: Path) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as fh:
        proc = subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
                              env=_env())
    if proc.returncode:
        tail = log.read_bytes()[-2000:].decode("utf-8", "replace")
        click.echo(tail, err=True)
    return proc.returncode


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def print_plan(r: PipelineRecipe, out: Path, echo: Callable[[str], None] = print) -> None:
    """Every step's command; on a cluster recipe the per-node launch lines and the estimates."""
    echo(f"# pipeline {r.name}: {r.description}")
    echo(f"# outputs under {out}; GPU figures are ESTIMATES until measured")
    for step in plan(r, out):
        echo(f"\n## {step.name}  [{step.where}]" + (f"  -- estimate: {step.estimate}"
                                                     if step.estimate else ""))
        if step.per_node:
            for node, argv in step.per_node:
                echo(f"# {node}:")
                echo(Step(step.name, argv, ()).shell())
        else:
            echo(step.shell())
    shown = {s.estimate for s in plan(r, out)}
    for k, v in r.estimates.items():
        if v in shown:
            continue
        echo(f"\n# {k}: {v}")


@click.command(help="The distilled / zero-RL model pair end to end: distillation data, SFT and "
                    "GRPO from one base, samples of base, SFT and GRPO, then grade, score, "
                    "judge, ablate (with the random-token control) and the report. Resumable: "
                    "rerun the same command and finished steps are skipped.")
@click.option("--recipe", required=True, metavar="NAME|FILE",
              help="tiny, smollm2 or qwen32b (training/pipelines/NAME.yaml), or a YAML path.")
@set_option("Override a pipeline recipe value, e.g. --set sample.n=1 or "
            "--set 'sft.set=[trl.max_steps=2]' (repeatable; values are parsed as YAML).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False),
              help="Output directory (default: the recipe's `out`).")
@click.option("--plan", "plan_only", is_flag=True,
              help="Print every step's command (per node on a cluster recipe) and exit.")
@click.option("--only", multiple=True, metavar="STEP",
              help="Run only these steps (repeatable); the others are skipped.")
@click.option("--fresh", is_flag=True, help="Delete the output directory first.")
def main(recipe: str, overrides: tuple[str, ...], out_dir: str | None, plan_only: bool,
         only: tuple[str, ...], fresh: bool) -> None:
    try:
        r = load_pipeline(recipe, overrides)
        out = Path(out_dir or r.out)
        if plan_only or r.on_cluster:
            print_plan(r, out, echo=click.echo)
            if r.on_cluster and not plan_only:
                click.echo(f"\n# {r.name} runs on a cluster: run each step above where it says "
                           "(nothing was started here)", err=True)
            return
        if fresh and out.exists():
            shutil.rmtree(out)
        t0 = time.monotonic()
        m = run_pipeline(r, out, only=only, echo=lambda s: click.echo(s, err=True))
    except ReasonlensError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 1))
    ran = [s for s in m["last_run"]["steps"] if s["state"] == "ran"]
    click.echo(f"pipeline {r.name}: {len(ran)} steps ran, "
               f"{len(m['last_run']['steps']) - len(ran)} skipped, "
               f"{time.monotonic() - t0:.0f} s; report: {out / 'report.html'}")


__all__ = ["load_pipeline", "plan", "run_pipeline", "step_key", "step_record"]


if __name__ == "__main__":
    main()
