"""Shared builders for the training tests: the tiny distillation data, the RL prompts, a tiny SFT
checkpoint. Results are cached per test session (under pytest's base temp), so several test
modules reuse one build instead of training twice on 2 CPU cores."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "training" / "examples"
CONFIGS = REPO / "training" / "configs"
_CACHE: dict[str, object] = {}


def run_cli(cli, args: list[str]):
    """Invoke a click command in-process; fail with its output when it exits non-zero."""
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def tiny_data(base: Path) -> dict[str, Path]:
    """The chat dataset built from the example traces, and the RL prompt set."""
    key = f"data:{base}"
    if key not in _CACHE:
        from training.data import cli

        distill, rl = base / "distill", base / "rl"
        run_cli(cli, ["build", "--traces", EXAMPLES / "tiny_traces.jsonl", "--pool",
                      EXAMPLES / "tiny_pool.jsonl", "--no-contamination", "--out", distill])
        run_cli(cli, ["rl-prompts", "--source", EXAMPLES / "tiny_pool.jsonl",
                      "--no-contamination", "--out", rl])
        _CACHE[key] = {"distill": distill, "rl": rl}
    return _CACHE[key]  # type: ignore[return-value]


def shared_base(tmp_path_factory) -> Path:
    """The session folder the training tests share (tiny data, the code-built model)."""
    return tmp_path_factory.getbasetemp() / "training-shared"


def tiny_recipe(kind: str, base: Path, config: str, *overrides: str, model=None):
    """Recipe ``config`` (in training/configs) over the shared tiny data: ``kind`` "sft" trains on
    the distillation chats, "grpo" on the RL prompts; the model is ``model`` or the code-built
    tiny Qwen2 under ``base``; then ``overrides``."""
    if kind == "sft":
        from training.sft_config import load_sft_recipe as load
        data = tiny_data(base)["distill"] / "dataset"
    else:
        from training.grpo_config import load_grpo_recipe as load
        data = tiny_data(base)["rl"] / "dataset"
    return load(CONFIGS / config, [f"model.name_or_path={model or base / 'tiny-qwen2'}",
                                   f"data.train={data}", *overrides])


def tiny_sft(base: Path) -> dict:
    """Train the tiny SFT recipe once (8 steps on 2 examples); returns its run summary."""
    key = f"sft:{base}"
    if key not in _CACHE:
        from training.sft import run_sft

        recipe = tiny_recipe("sft", base, "sft_tiny.yaml", "data.limit=2")
        out = base / "sft_tiny"
        run_sft(recipe, str(out))
        _CACHE[key] = json.loads((out / "run_summary.json").read_text())
    return _CACHE[key]  # type: ignore[return-value]
