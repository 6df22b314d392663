"""Zero-RL smoke runs on CPU: GRPO for 2 steps with the real reasonlens reward on a random tiny
Qwen2 built in code and on SmolLM2-135M with real weights; rewards are logged."""

from __future__ import annotations

import json
import math

import pytest

from reasonlens.errors import ConfigError
from tests.training_helpers import shared_base, tiny_recipe

pytest.importorskip("trl")

pytestmark = [pytest.mark.train, pytest.mark.slow]


def _check_steps(summary: dict, n_steps: int) -> None:
    steps = summary["steps"]
    assert summary["global_step"] == n_steps and len(steps) == n_steps
    for row in steps:
        for key in ("reward", "rewards/reasonlens_accuracy/mean",
                    "rewards/soft_overlong_punishment_reward/mean", "completions/mean_length",
                    "reasonlens/skipped_rate"):
            assert key in row and math.isfinite(row[key]), (key, row)
        # total = accuracy + overlong penalty (weights 1, 1)
        assert row["reward"] == pytest.approx(row["rewards/reasonlens_accuracy/mean"]
                                              + row["rewards/soft_overlong_punishment_reward/mean"])


def test_reward_log_unit():
    from training.grpo import reward_log

    hist = [{"loss": 0.1, "step": 1}, {"reward": -1.0, "rewards/a/mean": 0.0, "step": 1,
                                        "junk": "x", "completions/mean_length": 24.0}]
    assert reward_log(hist) == [{"step": 1, "reward": -1.0, "rewards/a/mean": 0.0,
                                 "completions/mean_length": 24.0}]


def test_vllm_stop_ids_added_without_duplicates():
    from training.grpo import vllm_generation_kwargs

    assert vllm_generation_kwargs(None, [151645, 151643]) == {
        "stop_token_ids": [151645, 151643]}
    got = vllm_generation_kwargs({"stop_token_ids": [151643], "top_k": 20}, [151645, 151643])
    assert got == {"stop_token_ids": [151643, 151645], "top_k": 20}


def test_tiny_grpo_logs_rewards(tmp_path_factory, tmp_path):
    from training.grpo import run_grpo

    recipe = tiny_recipe("grpo", shared_base(tmp_path_factory), "grpo_tiny.yaml")
    summary = run_grpo(recipe, str(tmp_path / "g"))
    _check_steps(summary, 2)
    assert summary["n_prompts"] == 6 and summary["use_vllm"] is False
    saved = json.loads((tmp_path / "g" / "run_summary.json").read_text())
    assert saved["provenance"]["command"] == "training.grpo"
    assert (tmp_path / "g" / "model.safetensors").exists()


def test_tiny_grpo_with_kl_loads_reference_from_folder(tmp_path_factory, tmp_path):
    """beta > 0 makes trl load a reference model by path: the code-built model is on disk."""
    from training.grpo import run_grpo

    recipe = tiny_recipe("grpo", shared_base(tmp_path_factory), "grpo_tiny.yaml",
                         "trl.beta=0.04", "trl.max_steps=1")
    summary = run_grpo(recipe, str(tmp_path / "kl"))
    assert summary["global_step"] == 1 and len(summary["steps"]) == 1


def test_grpo_dataset_columns_are_checked(tmp_path):
    import datasets

    from training.grpo import prepare_prompts

    ds = datasets.Dataset.from_list([{"prompt": "q", "answer": "1"}])
    with pytest.raises(ConfigError, match="gold column"):
        prepare_prompts(ds, "gold")
    out = prepare_prompts(ds, "answer")
    assert out.column_names == ["prompt", "gold"]
    with pytest.raises(ConfigError, match="'prompt'"):
        prepare_prompts(datasets.Dataset.from_list([{"question": "q", "gold": "1"}]), "gold")


def test_smollm2_grpo_real_weights(smollm_hf, tmp_path_factory, tmp_path):
    from training.grpo import run_grpo

    recipe = tiny_recipe("grpo", shared_base(tmp_path_factory), "grpo_smollm2.yaml",
                         model=smollm_hf)
    summary = run_grpo(recipe, str(tmp_path / "smol"))
    _check_steps(summary, 2)
