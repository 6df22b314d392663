"""SFT with trl's SFTTrainer: the distilled arm of the pair.

    python -m training.sft --config training/configs/sft_tiny.yaml --output-dir out/sft-tiny
    python -m training.sft --config training/configs/sft_qwen32b.yaml --validate-only
    accelerate launch --config_file training/configs/accelerate_zero3.yaml \\
        -m training.sft --config training/configs/sft_qwen32b.yaml

Before training: the chat template, EOS and pad token are set for a base model; every example is
tokenized with the template and those longer than ``max_length`` are counted (and warned about,
dropped or refused, per ``data.on_truncation``); after trl prepares the data, the first example is
checked to have its prompt tokens masked out of the loss. ``OUTPUT_DIR/run_summary.json`` records
the counts, the loss curve and provenance.
"""

from __future__ import annotations

import logging
from typing import Any

import click

from reasonlens.errors import ConfigError, ReasonlensError
from training.options import recipe_command

log = logging.getLogger("training.sft")


# --- pure-ish helpers (tested directly) --------------------------------------------------------

def token_lengths(messages_list: list[list[dict[str, str]]], tokenizer) -> list[int]:
    """Tokenized length of each conversation under the tokenizer's chat template."""
    out = []
    for messages in messages_list:
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        out.append(len(ids))
    return out


def truncation_report(lengths: list[int], max_length: int | None) -> dict[str, Any]:
    """How many examples exceed ``max_length`` tokens (trl would cut them silently)."""
    n_trunc = 0 if max_length is None else sum(1 for x in lengths if x > max_length)
    srt = sorted(lengths)
    return {
        "n_examples": len(lengths), "max_length": max_length, "n_truncated": n_trunc,
        "share_truncated": (n_trunc / len(lengths)) if lengths else 0.0,
        "tokens_max": srt[-1] if srt else 0, "tokens_median": srt[len(srt) // 2] if srt else 0,
        "tokens_total": sum(lengths),
        "truncated_indices": [i for i, x in enumerate(lengths)
                              if max_length is not None and x > max_length][:100],
    }


def prompt_mask_check(example_labels: list[int], prompt_len: int) -> dict[str, Any]:
    """Check a prepared example: no loss on the first ``prompt_len`` tokens, some loss after."""
    head = example_labels[:prompt_len]
    tail = example_labels[prompt_len:]
    return {"prompt_tokens": prompt_len,
            "prompt_masked": all(x == -100 for x in head),
            "assistant_tokens_in_loss": sum(1 for x in tail if x != -100),
            "ok": all(x == -100 for x in head) and any(x != -100 for x in tail)}


# --- the run -----------------------------------------------------------------------------------

def run_sft(recipe, output_dir: str) -> dict[str, Any]:
    """Train per ``recipe`` (an :class:`~training.sft_config.SFTRecipe`); returns the summary."""
    from transformers import AutoTokenizer
    from trl import SFTTrainer

    from training.dataset_load import load_dataset_any
    from training.model_setup import ensure_model, load_model, prepare_tokenizer, train_and_save
    from training.summary import finish_run, loss_curve
    from training.sft_config import to_sft_config

    args = to_sft_config(recipe, output_dir)
    # The trl config is built before the model is loaded: under `accelerate launch` with ZeRO-3
    # this lets from_pretrained shard the weights at load time (zero3_init_flag).
    model_path = ensure_model(recipe.model)
    tokenizer = AutoTokenizer.from_pretrained(model_path, revision=recipe.model.revision)
    tokenizer, added = prepare_tokenizer(tokenizer, recipe.model)

    ds = load_dataset_any(recipe.data.train, recipe.data.split, recipe.data.limit)
    field = recipe.data.messages_field
    if field not in ds.column_names:
        raise ConfigError(f"{recipe.data.train}: no column {field!r}; columns: "
                          f"{', '.join(ds.column_names)}")
    if field != "messages":
        ds = ds.rename_column(field, "messages")
    ds = ds.select_columns(["messages"])

    lengths = token_lengths(ds["messages"], tokenizer)
    trunc = truncation_report(lengths, args.max_length)
    msg = (f"{trunc['n_truncated']} of {trunc['n_examples']} examples exceed max_length="
           f"{args.max_length} tokens (longest {trunc['tokens_max']})")
    if trunc["n_truncated"]:
        if recipe.data.on_truncation == "error":
            raise ConfigError(msg + "; raise trl.max_length or set data.on_truncation")
        if recipe.data.on_truncation == "drop":
            keep = [i for i, n in enumerate(lengths) if n <= args.max_length]
            ds = ds.select(keep)
            msg += f"; dropped them, {len(ds)} left"
            if len(ds) == 0:
                raise ConfigError(msg)
        else:
            msg += "; trl will cut them (data.on_truncation=warn)"
    trunc["action"] = recipe.data.on_truncation
    trunc["n_train"] = len(ds)
    click.echo(f"truncation: {msg}", err=True)

    model = load_model(recipe.model, model_path, tokenizer, added)
    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tokenizer)

    first = ds[0]["messages"]
    prompt_ids = tokenizer.apply_chat_template(first[:-1], tokenize=True, return_dict=True,
                                               add_generation_prompt=True)["input_ids"]
    mask = prompt_mask_check(list(trainer.train_dataset[0]["labels"]), len(prompt_ids))
    if not mask["ok"]:
        raise ReasonlensError(f"loss mask check failed on the first example: {mask}")

    result = train_and_save(trainer, tokenizer, recipe.model, output_dir)
    losses = loss_curve(trainer.state.log_history)
    body = {
        "n_train": len(ds), "truncation": trunc, "loss_mask": mask,
        "global_step": trainer.state.global_step,
        "loss_first": losses[0][1] if losses else None,
        "loss_last": losses[-1][1] if losses else None, "loss_curve": losses,
        "train_runtime_s": result.metrics.get("train_runtime"),
        "added_tokens": added,
    }
    return finish_run(trainer, output_dir, command="training.sft", recipe=recipe, body=body)


def validate(recipe, output_dir: str) -> dict[str, Any]:
    """Build the trl config without a model: what ``--validate-only`` prints."""
    from training.sft_config import to_sft_config

    args = to_sft_config(recipe, output_dir, validate_only=True)
    return {"recipe": recipe.name, "max_length": args.max_length,
            "learning_rate": args.learning_rate,
            "lr_scheduler_type": getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type),
            "num_train_epochs": args.num_train_epochs, "warmup_steps": args.warmup_steps,
            "per_device_train_batch_size": args.per_device_train_batch_size,
            "gradient_accumulation_steps": args.gradient_accumulation_steps,
            "global_batch": recipe.global_batch, "bf16": args.bf16,
            "assistant_only_loss": args.assistant_only_loss, "eos_token": args.eos_token,
            "pad_token": recipe.model.pad_token,
            "activation_checkpointing": getattr(args, "activation_checkpointing", None)}


main = recipe_command("sft", run_sft, validate)


if __name__ == "__main__":
    main()
