"""Zero-RL with trl's GRPOTrainer on a base model, rewarded by the reasonlens grader.

    python -m training.grpo --config training/configs/grpo_tiny.yaml --output-dir out/grpo-tiny
    python -m training.grpo --config training/configs/zero_rl_qwen32b.yaml --validate-only
    # 32B, vLLM server mode: one node serves rollouts, the others train (see training/README.md)
    trl vllm-serve --model Qwen/Qwen2.5-32B --tensor_parallel_size 4 --data_parallel_size 2
    accelerate launch --config_file training/configs/accelerate_zero3.yaml --num_machines 3 \\
        --num_processes 24 ... -m training.grpo --config training/configs/zero_rl_qwen32b.yaml

``OUTPUT_DIR/run_summary.json`` records per-step rewards (total and per function), completion
lengths, clip ratios and provenance.
"""

from __future__ import annotations

import logging
from typing import Any


from reasonlens.errors import ConfigError
from training.options import recipe_command

log = logging.getLogger("training.grpo")

LOGGED = ("reward", "reward_std", "frac_reward_zero_std", "completions/mean_length",
          "completions/clipped_ratio", "grad_norm", "loss", "entropy", "learning_rate")


def reward_log(log_history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per logged step: rewards (total and per function), lengths and loss."""
    rows = []
    for rec in log_history:
        if "reward" not in rec:
            continue
        row = {"step": int(rec.get("step", 0))}
        for k, v in rec.items():
            if k in LOGGED or k.startswith(("rewards/", "reasonlens/")):
                row[k] = float(v) if isinstance(v, (int, float)) else v
        rows.append(row)
    return rows


def vllm_generation_kwargs(generation_kwargs: dict | None, stop_ids: list[int]) -> dict:
    """vLLM stops at the *served* model's EOS (Qwen2.5 base: ``<|endoftext|>`` only) and trl
    passes no stop ids of its own, so the recipe's end-of-turn ids are added here."""
    out = dict(generation_kwargs or {})
    have = list(out.get("stop_token_ids") or [])
    out["stop_token_ids"] = have + [i for i in stop_ids if i not in have]
    return out


def prepare_prompts(ds, gold_field: str):
    """Keep prompt, gold, answer_type (and ids); check the columns the reward needs."""
    cols = ds.column_names
    if "prompt" not in cols:
        raise ConfigError(f"the GRPO dataset needs a 'prompt' column; columns: {', '.join(cols)}")
    if gold_field not in cols:
        raise ConfigError(f"the GRPO dataset has no gold column {gold_field!r}; columns: "
                          f"{', '.join(cols)} (set data.gold_field)")
    if gold_field != "gold":
        ds = ds.rename_column(gold_field, "gold")
    keep = [c for c in ("prompt", "gold", "answer_type", "problem_id", "benchmark")
            if c in ds.column_names]
    return ds.select_columns(keep)


def run_grpo(recipe, output_dir: str) -> dict[str, Any]:
    """Train per ``recipe`` (a :class:`~training.grpo_config.GRPORecipe`); returns the summary."""
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from training.dataset_load import load_dataset_any
    from training.model_setup import (ensure_model, eos_token_ids, inference_template,
                                      load_model, prepare_tokenizer, train_and_save)
    from training.summary import finish_run
    from training.grpo_config import build_rewards, to_grpo_config

    args = to_grpo_config(recipe, output_dir)
    # The trl config is built before the model is loaded: under `accelerate launch` with ZeRO-3
    # this lets from_pretrained shard the weights at load time (zero3_init_flag).
    model_path = ensure_model(recipe.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=recipe.model.revision)
    tokenizer, added = prepare_tokenizer(tokenizer, recipe.model)
    tokenizer.chat_template = inference_template(tokenizer.chat_template)
    ds = prepare_prompts(load_dataset_any(recipe.data.train, recipe.data.split,
                                          recipe.data.limit), recipe.data.gold_field)
    rewards = build_rewards(recipe)
    if args.use_vllm:
        args.generation_kwargs = vllm_generation_kwargs(args.generation_kwargs,
                                                        eos_token_ids(tokenizer, recipe.model))
    model = load_model(recipe.model, model_path, tokenizer, added)
    if args.beta > 0 and added:
        raise ConfigError("beta > 0 loads a reference model from model.name_or_path, which lacks "
                          "the tokens added here; add them to the saved model first")
    trainer = GRPOTrainer(model=model, reward_funcs=rewards, args=args, train_dataset=ds,
                          processing_class=tokenizer)
    result = train_and_save(trainer, tokenizer, recipe.model, output_dir)
    steps = reward_log(trainer.state.log_history)
    body = {
        "n_prompts": len(ds), "rewards": [r.name for r in recipe.rewards],
        "reward_weights": [r.weight for r in recipe.rewards],
        "global_step": trainer.state.global_step, "steps": steps,
        "reward_first": steps[0]["reward"] if steps else None,
        "reward_last": steps[-1]["reward"] if steps else None,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "use_vllm": bool(args.use_vllm), "vllm_mode": args.vllm_mode if args.use_vllm else None,
        "vllm_stop_token_ids": (args.generation_kwargs or {}).get("stop_token_ids")
        if args.use_vllm else None,
    }
    return finish_run(trainer, output_dir, command="training.grpo", recipe=recipe, body=body)


def validate(recipe, output_dir: str) -> dict[str, Any]:
    """Build the trl config without a model: what ``--validate-only`` prints."""
    from training.grpo_config import to_grpo_config

    args = to_grpo_config(recipe, output_dir, validate_only=True)
    return {"recipe": recipe.name, "max_completion_length": args.max_completion_length,
            "num_generations": args.num_generations, "learning_rate": args.learning_rate,
            "temperature": args.temperature, "beta": args.beta, "loss_type": args.loss_type,
            "epsilon": args.epsilon, "epsilon_high": args.epsilon_high,
            "mask_truncated_completions": args.mask_truncated_completions,
            "use_vllm": args.use_vllm, "vllm_mode": args.vllm_mode,
            "generation_batch_for_launch": recipe.generation_batch(),
            "prompts_per_generation_round": recipe.generation_batch()
            // int(args.num_generations),
            "rewards": [(r.name, r.weight) for r in recipe.rewards], "bf16": args.bf16}


main = recipe_command("grpo", run_grpo, validate)


if __name__ == "__main__":
    main()
