"""Training recipes load and validate without a GPU or a model; trl's small defaults cannot leak
into the 32B recipes; the accelerate/DeepSpeed files are valid without importing deepspeed."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from reasonlens.errors import ConfigError
from tests.training_helpers import CONFIGS, REPO

pytest.importorskip("trl")

from training.model_setup import inference_template, load_chat_template  # noqa: E402
from training.recipe import apply_overrides  # noqa: E402
from training.grpo_config import load_grpo_recipe, parse_grpo_recipe, to_grpo_config  # noqa: E402
from training.sft_config import load_sft_recipe, parse_sft_recipe, to_sft_config  # noqa: E402

pytestmark = pytest.mark.train

SFT32 = CONFIGS / "sft_qwen32b.yaml"
GRPO32 = CONFIGS / "zero_rl_qwen32b.yaml"


def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_sft_32b_recipe_builds_an_sftconfig(tmp_path):
    recipe = load_sft_recipe(SFT32)
    cfg = to_sft_config(recipe, str(tmp_path), validate_only=True)
    assert cfg.max_length == 32768 and cfg.max_length != 1024
    assert cfg.learning_rate == 1e-5
    assert getattr(cfg.lr_scheduler_type, "value", cfg.lr_scheduler_type) == "cosine"
    assert cfg.warmup_steps == 0.05 and cfg.num_train_epochs == 5
    assert cfg.bf16 is True and cfg.activation_checkpointing is True
    assert cfg.assistant_only_loss is True and cfg.packing is False
    assert cfg.eos_token == "<|im_end|>"
    assert recipe.model.pad_token != recipe.model.eos_token
    assert recipe.global_batch == 16 == recipe.expect.global_batch
    assert recipe.model.name_or_path == "Qwen/Qwen2.5-32B"  # the base model, not -Instruct


def test_grpo_32b_recipe_builds_a_grpoconfig(tmp_path):
    recipe = load_grpo_recipe(GRPO32)
    cfg = to_grpo_config(recipe, str(tmp_path), validate_only=True)
    assert cfg.max_completion_length == 20480
    assert cfg.loss_type == "dapo" and cfg.epsilon_high == 0.28 and cfg.epsilon == 0.2
    assert cfg.beta == 0.0 and cfg.num_generations == 16 and cfg.learning_rate == 1e-6
    assert cfg.use_vllm is True and cfg.vllm_mode == "server"
    assert cfg.reward_weights == [1.0, 1.0]
    assert [r.name for r in recipe.rewards] == ["reasonlens_accuracy", "soft_overlong"]
    assert recipe.generation_batch() % cfg.num_generations == 0


@pytest.mark.parametrize("path,builder", [(SFT32, "sft"), (GRPO32, "grpo")])
def test_no_trl_default_leaks_into_32b_recipes(tmp_path, path, builder):
    """Every value the recipe sets arrives unchanged in trl's config object, and the small trl
    defaults (max_length 1024, max_completion_length 512, num_generations 8) are not used."""
    from trl import GRPOConfig, SFTConfig

    if builder == "sft":
        recipe = load_sft_recipe(path)
        cfg = to_sft_config(recipe, str(tmp_path), validate_only=True)
        default = SFTConfig(output_dir=str(tmp_path), use_cpu=True)
        assert default.max_length == 1024 and cfg.max_length != default.max_length
    else:
        recipe = load_grpo_recipe(path)
        cfg = to_grpo_config(recipe, str(tmp_path), validate_only=True)
        default = GRPOConfig(output_dir=str(tmp_path), use_cpu=True)
        assert default.max_completion_length == 512
        assert cfg.max_completion_length != default.max_completion_length
        assert cfg.num_generations != default.num_generations
    normalised = {("report_to", "none"): []}  # transformers' own spelling of "no trackers"
    for key, value in recipe.trl.items():
        got = getattr(cfg, key)
        got = getattr(got, "value", got)
        want = normalised.get((key, value), value) if isinstance(value, str) else value
        assert got == want, f"trl.{key}: recipe {value!r}, config {got!r}"


def test_32b_values_are_marked_as_not_from_the_paper():
    for path in (SFT32, GRPO32):
        data = _raw(path)
        assert set(data["sources"]) == set(data["trl"])
    sft = _raw(SFT32)
    marks = ("not from the paper", "reasonlens choice", "clue")
    unmarked = [k for k, v in sft["sources"].items() if not any(m in v for m in marks)]
    assert unmarked == []
    text = SFT32.read_text()
    assert "NOT FROM THE PAPER" in text and "hyper-parameters are not public" in text
    assert "NOT FROM THE PAPER" in GRPO32.read_text()


def _no_max_length(raw: dict) -> None:
    del raw["trl"]["max_length"], raw["sources"]["max_length"]


def _no_max_completion_length(raw: dict) -> None:
    del raw["trl"]["max_completion_length"], raw["sources"]["max_completion_length"]


def _overlong_len_16384(raw: dict) -> None:
    raw["rewards"][1]["args"]["max_completion_len"] = 16384


@pytest.mark.parametrize("kind, change, message", [
    ("sft", _no_max_length, "max_length"),
    ("sft", ["trl.max_length=1024"], "min_max_length"),
    ("grpo", _no_max_completion_length, "max_completion_length"),
    ("grpo", ["trl.max_completion_length=512", "rewards=[reasonlens_accuracy]",
              "trl.mask_truncated_completions=true"], "min_completion_length"),
    ("sft", ["trl.learning_rat=1e-5"], "sources names keys|no entry"),
    ("sft", ["model.pad_token=<|im_end|>"], "pad_token must differ"),
    ("sft", ["trl.gradient_accumulation_steps=2"], "global_batch"),
    ("sft", ["trl.assistant_only_loss=false"], "assistant_only_loss"),
    ("grpo", ["rewards=[reasonlens_accuracy]"], "overlong"),
    ("grpo", _overlong_len_16384, "must equal"),
    ("grpo", ["trl.num_generations=5"], "multiple of num_generations"),
    ("grpo", ["rewards=[nonsense]"], "unknown reward"),
])
def test_recipe_errors_name_the_problem(kind, change, message):
    """Missing or too small lengths, typos and inconsistent settings are refused by name."""
    raw = _raw(SFT32 if kind == "sft" else GRPO32)
    if callable(change):
        change(raw)
    else:
        raw = apply_overrides(raw, change)
    parse = parse_sft_recipe if kind == "sft" else parse_grpo_recipe
    with pytest.raises(ConfigError, match=message):
        parse(raw, f"{kind}.yaml")


def test_unknown_trl_key_suggests_the_right_one(tmp_path):
    data = apply_overrides(_raw(SFT32), ["trl.warmup_ratio=0.05", "sources.warmup_ratio=s1"])
    recipe = parse_sft_recipe(data, "x.yaml")
    with pytest.raises(ConfigError, match="unknown key trl.warmup_ratio"):
        to_sft_config(recipe, str(tmp_path), validate_only=True)


RECIPES = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith("accelerate"))


def test_recipes_are_found():
    assert {p.name for p in RECIPES} >= {"sft_qwen32b.yaml", "zero_rl_qwen32b.yaml",
                                         "sft_tiny.yaml", "grpo_tiny.yaml",
                                         "sft_smollm2.yaml", "grpo_smollm2.yaml"}


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_validates(tmp_path, path):
    data = _raw(path)
    if "rewards" in data:
        cfg = to_grpo_config(load_grpo_recipe(path), str(tmp_path), validate_only=True)
        assert cfg.max_completion_length == data["trl"]["max_completion_length"]
    else:
        cfg = to_sft_config(load_sft_recipe(path), str(tmp_path), validate_only=True)
        assert cfg.max_length == data["trl"]["max_length"]


def test_accelerate_and_deepspeed_files_are_valid_without_deepspeed():
    from accelerate.commands.config.config_args import load_config_from_file
    from accelerate.utils.deepspeed import HfDeepSpeedConfig

    acc = load_config_from_file(str(CONFIGS / "accelerate_zero3.yaml"))
    assert acc.distributed_type.value == "DEEPSPEED"
    ds_file = REPO / acc.deepspeed_config["deepspeed_config_file"]
    assert ds_file.is_file()
    ds = HfDeepSpeedConfig(str(ds_file))
    assert ds.is_zero3() and not ds.is_offload()
    raw = json.loads(ds_file.read_text())
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps",
                "gradient_clipping"):
        assert raw[key] == "auto"  # filled from the trl config, so the two cannot disagree
    assert raw["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert "deepspeed" not in sys.modules
    for path in (SFT32, GRPO32):
        launch = _raw(path)["launch"]
        assert (REPO / launch["accelerate_config"]).is_file()
        assert (REPO / launch["deepspeed_config"]).is_file()


def test_deepspeed_is_not_in_the_train_extra():
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["train"]
    assert not any(d.lower().startswith("deepspeed") for d in extra)


def test_chat_template_markers_and_inference_copy():
    tpl = load_chat_template("chatml_think")
    assert "{%- generation %}" in tpl and "{%- endgeneration %}" in tpl
    inf = inference_template(tpl)
    assert "generation %}" not in inf and "<|im_end|>" in inf
    with pytest.raises(ConfigError, match="not found"):
        load_chat_template("no_such_template")


def test_apply_overrides_parses_yaml_values():
    out = apply_overrides({"trl": {"a": 1}}, ["trl.a=2", "trl.b=[1, 2]", "data.train=x/y"])
    assert out == {"trl": {"a": 2, "b": [1, 2]}, "data": {"train": "x/y"}}
    with pytest.raises(ConfigError):
        apply_overrides({}, ["novalue"])


def test_validate_only_cli_prints_resolved_values():
    from training.grpo import main as grpo_main
    from training.sft import main as sft_main
    from tests.training_helpers import run_cli

    out = json.loads(run_cli(sft_main, ["--config", SFT32, "--validate-only"]).output)
    assert out["max_length"] == 32768 and out["global_batch"] == 16
    out = json.loads(run_cli(grpo_main, ["--config", GRPO32, "--validate-only"]).output)
    assert out["max_completion_length"] == 20480 and out["prompts_per_generation_round"] == 48


def test_training_modules_import_light_and_reasonlens_never_imports_training():
    import subprocess

    mods = ["training.paths", "training.recipe", "training.model_setup", "training.dataset_load",
            "training.summary", "training.options", "training.pipeline",
            "training.pipeline_plan", "training.data", "training.dataprep", "training.sft",
            "training.sft_config", "training.grpo", "training.grpo_config", "training.rewards",
            "training.eval_hook", "training.serve_hf", "training.tiny"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in mods)
            + "heavy = [m for m in ('torch', 'transformers', 'trl', 'datasets', 'vllm', "
              "'deepspeed') if m in sys.modules]\nprint(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    offenders = [str(p) for p in (REPO / "reasonlens").rglob("*.py")
                 if "import training" in p.read_text() or "from training" in p.read_text()]
    assert offenders == []


def test_resolve_path_keeps_hub_ids(tmp_path, monkeypatch):
    from training.paths import resolve_path

    monkeypatch.chdir(tmp_path)
    assert resolve_path("Qwen/Qwen2.5-32B") == "Qwen/Qwen2.5-32B"
    assert resolve_path("training/configs/sft_tiny.yaml") == str(CONFIGS / "sft_tiny.yaml")
    assert resolve_path("out/not-built-yet") == "out/not-built-yet"


def test_missing_local_dataset_is_a_clear_error(tmp_path, monkeypatch):
    pytest.importorskip("datasets")
    from training.dataset_load import load_dataset_any

    monkeypatch.chdir(tmp_path)
    (tmp_path / "out").mkdir()
    for ref in ("out/distill/dataset", "out/x", "./nothing"):
        with pytest.raises(ConfigError, match="dataset not found"):
            load_dataset_any(ref)


def test_version_floor_is_transformers_5(tmp_path):
    """Issue 13 finding 6: the recipes need transformers 5; the package says so and the recipe
    loader refuses an older one with one line."""
    import tomllib

    from training.recipe import check_versions

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]["train"]
    floor = next(d for d in deps if d.startswith("transformers"))
    assert floor.replace(" ", "") == "transformers>=5"
    with pytest.raises(ConfigError, match="transformers>=5"):
        check_versions({"transformers": "4.57.1", "trl": "1.16.0"})
    with pytest.raises(ConfigError, match="trl>=1.16"):
        check_versions({"transformers": "5.24.0", "trl": "1.9.0"})
    check_versions({"transformers": "5.0.0rc1", "trl": "1.16.0"})
    check_versions()   # what is installed here passes
