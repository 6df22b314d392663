"""SFT smoke runs on CPU: a random tiny Qwen2 built in code and SmolLM2-135M with real weights.
Loss falls, prompt tokens are masked, truncation is counted, the checkpoint is ready to serve."""

from __future__ import annotations

import json

import pytest

from reasonlens.errors import ConfigError
from tests.training_helpers import CONFIGS, shared_base, tiny_data, tiny_recipe, tiny_sft

pytest.importorskip("trl")

pytestmark = [pytest.mark.train, pytest.mark.slow]


def test_prompt_mask_check_unit():
    from training.sft import prompt_mask_check, truncation_report

    assert prompt_mask_check([-100, -100, 5, 6], 2)["ok"]
    assert not prompt_mask_check([-100, 4, 5, 6], 2)["ok"]      # a prompt token in the loss
    assert not prompt_mask_check([-100, -100, -100], 2)["ok"]   # nothing to learn
    rep = truncation_report([10, 50, 200, 300], 100)
    assert rep["n_truncated"] == 2 and rep["truncated_indices"] == [2, 3]
    assert truncation_report([10], None)["n_truncated"] == 0


def test_tiny_sft_loss_falls_and_prompt_is_masked(tmp_path_factory):
    from transformers import AutoTokenizer

    from training.model_setup import load_chat_template

    base = tmp_path_factory.getbasetemp() / "training-shared"
    summary = tiny_sft(base)
    losses = [v for _, v in summary["loss_curve"]]
    assert summary["global_step"] == 8 and len(losses) == 8
    assert losses[-1] < 0.9 * losses[0], losses
    assert summary["truncation"]["n_truncated"] == 0 and summary["n_train"] == 2

    # Independent check of the mask trl built: exactly the assistant turn (content +
    # <|im_end|>\n) is in the loss, none of the prompt.
    import datasets

    out = base / "sft_tiny"
    tok = AutoTokenizer.from_pretrained(out)
    tok.chat_template = load_chat_template("chatml_think")
    row = datasets.load_from_disk(str(tiny_data(base)["distill"] / "dataset"))["train"][0]
    full = tok.apply_chat_template(row["messages"], tokenize=True, return_dict=True)["input_ids"]
    prompt = tok.apply_chat_template(row["messages"][:-1], tokenize=True, return_dict=True,
                                     add_generation_prompt=True)["input_ids"]
    mask = summary["loss_mask"]
    assert mask["ok"] and mask["prompt_masked"]
    assert mask["prompt_tokens"] == len(prompt) > 10
    assert mask["assistant_tokens_in_loss"] == len(full) - len(prompt)

    # The saved checkpoint is ready for a serving engine.
    saved = AutoTokenizer.from_pretrained(out)
    from trl.chat_template_utils import has_generation_markers

    assert not has_generation_markers(saved.chat_template)
    assert has_generation_markers(load_chat_template("chatml_think"))
    assert saved.eos_token == "<|im_end|>" and saved.pad_token == "<|fim_pad|>"
    gen = json.loads((out / "generation_config.json").read_text())
    assert gen["eos_token_id"][0] == saved.convert_tokens_to_ids("<|im_end|>")
    prov = json.loads((out / "run_summary.json").read_text())["provenance"]
    assert prov["command"] == "training.sft" and "trl" in prov["packages"]


def test_truncation_is_counted_and_policies_apply(tmp_path_factory, tmp_path):
    import datasets
    from transformers import AutoTokenizer

    from training.model_setup import ensure_model, load_chat_template
    from training.sft import run_sft
    from training.sft_config import load_sft_recipe

    base = tmp_path_factory.getbasetemp() / "training-shared"
    data = tiny_data(base)["distill"] / "dataset"
    common = [f"model.name_or_path={base / 'tiny-qwen2'}", f"data.train={data}",
              "trl.max_steps=1"]
    ensure_model(load_sft_recipe(CONFIGS / "sft_tiny.yaml", common).model)
    tok = AutoTokenizer.from_pretrained(base / "tiny-qwen2")
    tok.chat_template = load_chat_template("chatml_think")
    rows = datasets.load_from_disk(str(data))["train"]["messages"]
    # counted another way: render to text, then tokenize
    lengths = sorted(len(tok(tok.apply_chat_template(m, tokenize=False),
                             add_special_tokens=False)["input_ids"]) for m in rows)
    cut = lengths[2]  # the two longest exceed it
    expected = sum(1 for n in lengths if n > cut)
    assert expected == 2

    with pytest.raises(ConfigError, match=f"2 of 5 examples exceed max_length={cut}"):
        run_sft(load_sft_recipe(CONFIGS / "sft_tiny.yaml", common + [
            f"trl.max_length={cut}", "data.on_truncation=error"]), str(tmp_path / "e"))
    warn = run_sft(load_sft_recipe(CONFIGS / "sft_tiny.yaml", common + [
        f"trl.max_length={cut}", "data.on_truncation=warn"]), str(tmp_path / "w"))
    assert warn["truncation"]["n_truncated"] == expected and warn["n_train"] == 5
    assert warn["truncation"]["tokens_max"] == lengths[-1] > cut
    drop = run_sft(load_sft_recipe(CONFIGS / "sft_tiny.yaml", common + [
        f"trl.max_length={cut}", "data.on_truncation=drop"]), str(tmp_path / "d"))
    assert drop["n_train"] == 3 and drop["truncation"]["action"] == "drop"


def test_smollm2_sft_real_weights(smollm_hf, tmp_path_factory, tmp_path):
    from training.sft import run_sft

    recipe = tiny_recipe("sft", shared_base(tmp_path_factory), "sft_smollm2.yaml",
                         "data.limit=2", "trl.max_steps=3", model=smollm_hf)
    summary = run_sft(recipe, str(tmp_path / "smol"))
    losses = [v for _, v in summary["loss_curve"]]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert summary["loss_mask"]["ok"] and summary["added_tokens"] == 0
    assert (tmp_path / "smol" / "model.safetensors").exists()
