"""GRPO rewards through trl's own summation (issue 13 findings 1 and 7).

trl sums the weighted reward functions with ``nansum`` (a lone ``None`` counts as 0) and drops a
completion only when every function returns ``None``. These tests score fixed completions with
the recipe's reward functions inside a real ``GRPOTrainer`` (trl's ``rollout_func`` hook supplies
the completions; everything from the rewards to the advantages is trl's code), then train a few
real steps on toy arithmetic with varied rewards and check the update moved the weights.
"""

from __future__ import annotations

import math

import pytest

from tests.training_helpers import CONFIGS

pytest.importorskip("trl")

pytestmark = [pytest.mark.train, pytest.mark.slow]

# the 32B recipe's reward settings (wrong and missing answers -1, correct +1, soft overlong)
REWARDS_32B = ("rewards=[{name: reasonlens_accuracy, weight: 1.0, args: {correct: 1.0, "
               "wrong: -1.0, no_answer: -1.0}}, {name: soft_overlong, weight: 1.0, "
               "args: {max_completion_len: 3000, soft_punish_cache: 500}}]")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from training.tiny import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny-grpo") / "tiny-qwen2")


def _trainer(recipe, tmp_path, train_rows, rollout_func=None):
    import datasets
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from training.grpo_config import build_rewards, to_grpo_config
    from training.model_setup import (ensure_model, inference_template, load_model,
                                      prepare_tokenizer)

    args = to_grpo_config(recipe, str(tmp_path / "out"))
    path = ensure_model(recipe.model)
    tok = AutoTokenizer.from_pretrained(path)
    tok, added = prepare_tokenizer(tok, recipe.model)
    tok.chat_template = inference_template(tok.chat_template)
    model = load_model(recipe.model, path, tok, added)
    return GRPOTrainer(model=model, reward_funcs=build_rewards(recipe), args=args,
                       train_dataset=datasets.Dataset.from_list(train_rows),
                       processing_class=tok, rollout_func=rollout_func)


def test_ungradable_never_beats_wrong_under_trls_summed_rewards(tiny_model, tmp_path,
                                                                 monkeypatch):
    """Finding 1: an unparseable 2,100-character ``\\boxed{}`` used to get None from the
    accuracy reward and 0 from soft_overlong: total 0 against a wrong answer's -1."""
    from training.grpo_config import load_grpo_recipe

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    long_box = "\\boxed{" + "1" * 2100 + "}"
    texts = {"correct": "\\boxed{2}", "wrong": "\\boxed{3}", "unparseable": long_box,
             "no_answer": "I do not know."}
    order = list(texts)
    recipe = load_grpo_recipe(CONFIGS / "grpo_tiny.yaml", [
        f"model.name_or_path={tiny_model}", "data.train=unused", REWARDS_32B,
        "trl.max_completion_length=3000", "trl.num_generations=4",
        "trl.per_device_train_batch_size=8"])

    def rollout(prompts, trainer):
        tok = trainer.processing_class
        ids = [tok(texts[order[i % 4]], add_special_tokens=False)["input_ids"] + [
            tok.convert_tokens_to_ids("<|im_end|>")] for i in range(len(prompts))]
        return {"prompt_ids": [tok(p, add_special_tokens=False)["input_ids"] for p in prompts],
                "completion_ids": ids, "logprobs": None}

    rows = [{"prompt": "What is 1+1?", "gold": "2", "answer_type": "integer"}] * 4 + \
        [{"prompt": "What is 5+5?", "gold": None, "answer_type": "integer"}] * 4
    trainer = _trainer(recipe, tmp_path, rows, rollout)
    out = trainer._generate_and_score_completions(rows)
    adv = [float(a) for a in out["advantages"]]
    first = dict(zip(order, adv[:4]))
    assert first["correct"] > 0
    assert first["unparseable"] <= first["wrong"] + 1e-6, first
    assert first["no_answer"] <= first["wrong"] + 1e-6, first
    # a row without a gold answer: every function returns None, so trl leaves it out
    assert adv[4:] == [0.0] * 4


def test_grpo_smoke_with_varied_rewards_moves_the_weights(smollm_hf, tmp_path):
    """Finding 7: toy arithmetic on SmolLM2-135M, four generations per prompt, so rewards
    differ within a group: advantages are non-zero and the policy update changes the weights."""
    import torch

    from training.grpo import run_grpo
    from training.grpo_config import load_grpo_recipe
    import datasets

    rows = [{"prompt": [{"role": "user", "content": f"What is {a} + {b}? Reply with only "
                         "'Answer: N'."}], "gold": str(a + b), "answer_type": "integer"}
            for a, b in ((2, 2), (1, 3), (3, 4), (5, 1))]
    ds_dir = tmp_path / "toy"
    datasets.Dataset.from_list(rows).save_to_disk(str(ds_dir))
    recipe = load_grpo_recipe(CONFIGS / "grpo_smollm2.yaml", [
        f"model.name_or_path={smollm_hf}", f"data.train={ds_dir}",
        "trl.num_generations=4", "trl.per_device_train_batch_size=4",
        "trl.max_completion_length=24", "trl.learning_rate=1.0e-5",
        "rewards=[{name: reasonlens_accuracy, weight: 1.0, args: {correct: 1.0, wrong: -1.0, "
        "no_answer: -1.0}}, {name: soft_overlong, weight: 1.0, args: {max_completion_len: 24, "
        "soft_punish_cache: 16}}]", "trl.max_steps=2", "trl.seed=3"])
    from safetensors.torch import load_file

    before = load_file(str(smollm_hf / "model.safetensors"))
    summary = run_grpo(recipe, str(tmp_path / "g"))
    after = load_file(str(tmp_path / "g" / "model.safetensors"))
    steps = summary["steps"]
    assert len(steps) == 2
    # rewards varied inside the groups: trl logs the share of groups with zero spread
    assert min(s["frac_reward_zero_std"] for s in steps) < 1.0, steps
    assert any(s["reward_std"] > 0 for s in steps), steps
    assert all(math.isfinite(s["grad_norm"]) for s in steps) and \
        any(s["grad_norm"] > 0 for s in steps), steps
    changed = [k for k in before if k in after
               and not torch.equal(before[k].float(), after[k].float())]
    assert changed, "the GRPO update left every weight as it was"
