"""``python -m training.pipeline``: the plan (the users' own commands, one base for both arms),
the per-node cluster plan, and step-by-step resume (a finished step is skipped, a changed one
reruns with everything downstream). The full tiny pipeline (~2.5 min here) is a manual / make
run (``make pipeline-tiny``); the slow test runs its first real steps twice."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from training.pipeline import MANIFEST, print_plan, run_pipeline
from training.pipeline_plan import load_pipeline, plan

STEPS_TINY = ["base", "distill-build", "rl-prompts", "sft", "grpo", "sample-base", "sample-sft",
              "sample-grpo", "grade", "score", "judge", "ablate-sft", "report"]


def _opt(step, flag: str) -> list[str]:
    a = list(step.argv)
    return [a[i + 1] for i, x in enumerate(a) if x == flag]


def test_tiny_plan_is_the_users_commands_from_one_base(tmp_path):
    steps = plan(load_pipeline("tiny"), tmp_path)
    assert [s.name for s in steps] == STEPS_TINY
    by = {s.name: s for s in steps}
    base = str(tmp_path / "base")
    for arm in ("sft", "grpo"):
        assert f"model.name_or_path={base}" in _opt(by[arm], "--set")
    assert by["sft"].argv[:2] == ("-m", "training.sft")
    assert by["grpo"].argv[:2] == ("-m", "training.grpo")
    assert _opt(by["sample-base"], "--checkpoint") == [base]
    assert _opt(by["sample-sft"], "--checkpoint") == [str(tmp_path / "sft")]
    for stage in ("grade", "score", "judge", "ablate", "report"):
        assert by[stage if stage != "ablate" else "ablate-sft"].argv[:3] == (
            "-m", "reasonlens", stage)
    abl = by["ablate-sft"]
    assert "--no-random-control" not in abl.argv and _opt(abl, "--banlist") == ["paper_core"]
    assert str(tmp_path / "ablate-sft") in by["report"].argv
    assert set(by["report"].after) >= {"grade", "score", "judge", "ablate-sft"}
    # every command line parses back to the same argv
    for s in steps:
        assert shlex.split(s.shell())[1:] == list(s.argv)


def test_qwen32b_plan_prints_per_node_launches_and_estimates(tmp_path):
    r = load_pipeline("qwen32b")
    by = {s.name: s for s in plan(r, tmp_path)}
    assert [n for n, _ in by["sft"].per_node] == ["node 0 of 2", "node 1 of 2"]
    assert by["sft"].per_node[1][1][:2] == ("accelerate", "launch")
    assert "--machine_rank" in by["sft"].per_node[1][1]
    grpo = by["grpo"].per_node
    assert grpo[0][1][:2] == ("trl", "vllm-serve") and len(grpo) == 4
    assert "--backend" in by["ablate-sft"].argv and _opt(by["ablate-sft"], "--backend") == [
        "vllm"]
    assert _opt(by["ablate-sft"], "--tensor-parallel-size") == ["4"]
    lines: list[str] = []
    print_plan(r, tmp_path, echo=lines.append)
    text = "\n".join(lines)
    assert "ESTIMATES" in text and "GPU-hours" in text
    assert '--main_process_ip "$MAIN_IP"' in text


def _fake_runner(calls: list[str], steps_by_argv: dict):
    """Runs nothing: records the step and creates its declared outputs (the commands' own
    behaviour is tested in their modules; this tests the pipeline's bookkeeping)."""
    def run(argv, log):
        step = steps_by_argv[tuple(argv[1:])]
        calls.append(step.name)
        for p in step.outputs:
            Path(p).parent.mkdir(parents=True, exist_ok=True)
            Path(p).write_text("x")
        return 0
    return run


def test_resume_skips_finished_steps_and_reruns_what_changed(tmp_path):
    out = tmp_path / "p"

    def go(overrides=()):
        r = load_pipeline("tiny", overrides)
        calls: list[str] = []
        steps = {s.argv: s for s in plan(r, out)}
        run_pipeline(r, out, echo=lambda s: None, runner=_fake_runner(calls, steps))
        return calls

    assert go() == STEPS_TINY
    assert go() == []                                  # everything finished: all skipped
    m = json.loads((out / MANIFEST).read_text())
    assert [s["state"] for s in m["last_run"]["steps"]] == ["skipped (done)"] * 13
    # another sample count: the samples and everything that reads them rerun, training does not
    assert go(["sample.n=1"]) == ["sample-base", "sample-sft", "sample-grpo", "grade", "score",
                                  "judge", "report"]
    # a lost output reruns its step and the steps downstream of it
    (out / "grpo" / "run_summary.json").unlink()
    assert go(["sample.n=1"]) == ["grpo", "sample-grpo", "grade", "score", "judge", "report"]


def test_a_rerun_for_new_inputs_does_not_resume_stale_outputs(tmp_path):
    """The sample journal of an older checkpoint is removed before sampling the new one (the
    eval hook would otherwise continue it: same model name); an interrupted step keeps it."""
    from reasonlens.errors import ReasonlensError

    out = tmp_path / "p"
    r = load_pipeline("tiny")
    steps = {s.argv: s for s in plan(r, out)}
    seen: dict[str, bool] = {}
    calls: list[str] = []
    ok = _fake_runner(calls, steps)

    def spy(argv, log):
        step = steps[tuple(argv[1:])]
        seen[step.name] = Path(step.outputs[0]).exists()
        return ok(argv, log)

    run_pipeline(r, out, echo=lambda s: None, runner=spy)
    trace = out / "eval" / "grpo.jsonl"
    assert trace.exists()
    r2 = load_pipeline("tiny", ["grpo.set=[trl.learning_rate=0.01]"])
    steps.update({s.argv: s for s in plan(r2, out)})
    seen.clear()
    run_pipeline(r2, out, echo=lambda s: None, runner=spy)
    assert seen["grpo"] is False and seen["sample-grpo"] is False
    assert "sft" not in seen and "ablate-sft" not in seen     # untouched by the change
    # interrupted: a failing sample step leaves its journal, the rerun continues it
    r3 = load_pipeline("tiny", ["grpo.set=[trl.learning_rate=0.02]"])
    steps.update({s.argv: s for s in plan(r3, out)})

    def fail_sample(argv, log):
        step = steps[tuple(argv[1:])]
        if step.name == "sample-grpo":
            trace.write_text("partial")
            return 1
        return spy(argv, log)

    with pytest.raises(ReasonlensError, match="sample-grpo"):
        run_pipeline(r3, out, echo=lambda s: None, runner=fail_sample)
    seen.clear()
    run_pipeline(r3, out, echo=lambda s: None, runner=spy)
    assert seen["sample-grpo"] is True          # the same step resumes its own journal


def test_a_failed_step_stops_and_is_rerun(tmp_path):
    from reasonlens.errors import ReasonlensError

    out = tmp_path / "p"
    r = load_pipeline("tiny")
    steps = {s.argv: s for s in plan(r, out)}
    calls: list[str] = []
    ok = _fake_runner(calls, steps)

    def failing(argv, log):
        if steps[tuple(argv[1:])].name == "sft":
            return 3
        return ok(argv, log)

    with pytest.raises(ReasonlensError, match="step sft failed"):
        run_pipeline(r, out, echo=lambda s: None, runner=failing)
    assert calls == ["base", "distill-build", "rl-prompts"]
    calls.clear()
    run_pipeline(r, out, echo=lambda s: None, runner=ok)
    assert calls[0] == "sft" and "base" not in calls


@pytest.mark.train
@pytest.mark.slow
def test_first_real_steps_run_then_skip(tmp_path):
    """The real commands of the first steps (tiny base, distillation set, RL prompts), twice."""
    from click.testing import CliRunner

    from training.pipeline import main

    out = tmp_path / "tiny"
    args = ["--recipe", "tiny", "--out", str(out), "--only", "base", "--only", "distill-build",
            "--only", "rl-prompts"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert (out / "base" / "config.json").exists() and (out / "distill" / "dataset").is_dir()
    assert (out / "rl" / "dataset").is_dir()
    m = json.loads((out / MANIFEST).read_text())
    ran = [s["name"] for s in m["last_run"]["steps"] if s["state"] == "ran"]
    assert ran == ["base", "distill-build", "rl-prompts"]
    res = CliRunner().invoke(main, args, catch_exceptions=False)
    assert "0 steps ran" in res.output
