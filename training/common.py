"""Pieces shared by the SFT and GRPO recipes: YAML recipes with overrides, the model/tokenizer
section, the chat template, dataset loading and the run summary.

A recipe is a YAML file with sections ``model`` (what to train and how to tokenize), ``data``,
``trl`` (keyword arguments of trl's ``SFTConfig`` / ``GRPOConfig``, passed through unchanged),
``sources`` (for every ``trl`` key: where the value comes from, e.g. "s1 (not from the paper)"),
``expect`` (checks for the target cluster: process count, global batch, minimum lengths) and
``launch`` (documentation of how to launch it). Nothing heavy is imported at module level.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from reasonlens.errors import ConfigError

TRAINING_DIR = Path(__file__).resolve().parent
REPO_ROOT = TRAINING_DIR.parent
CHAT_TEMPLATE_DIR = TRAINING_DIR / "chat_templates"

_GEN_MARKER = re.compile(r"[ \t]*\{%-?\s*(?:end)?generation\s*-?%\}[ \t]*\n?")


# --- YAML recipes ------------------------------------------------------------------------------

def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a recipe file; YAML errors name the file and line."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"recipe file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{where}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a recipe must be a YAML mapping at the top level")
    return data


def apply_overrides(data: dict[str, Any], overrides: tuple[str, ...] | list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML) to a copy of ``data``."""
    import copy

    out = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        dotted, raw = item.split("=", 1)
        keys = [k for k in dotted.strip().split(".") if k]
        if not keys:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {dotted}: value {raw!r} is not valid YAML") from exc
        node = out
        for k in keys[:-1]:
            nxt = node.get(k)
            if nxt is None:
                nxt = node[k] = {}
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {dotted}: {k!r} is not a section")
            node = nxt
        node[keys[-1]] = value
    return out


def check_keys(section: str, given: Mapping[str, Any], allowed: list[str] | tuple[str, ...],
               path: str | None = None) -> None:
    """Unknown keys are errors that suggest the closest valid key."""
    for key in given:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            where = f"{path}: " if path else ""
            raise ConfigError(f"{where}unknown key {section}.{key}{hint}")


def build_dataclass(cls: type, section: str, raw: Mapping[str, Any] | None,
                    path: str | None = None, **extra: Any):
    """Build a frozen spec dataclass from a YAML section, rejecting unknown keys."""
    raw = dict(raw or {})
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys(section, raw, names, path)
    raw.update(extra)
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ConfigError(f"{path + ': ' if path else ''}section {section}: {exc}") from exc


# --- model and tokenizer -----------------------------------------------------------------------

@dataclass(frozen=True)
class TinySpec:
    """A random tiny Qwen2 built in code (see :mod:`training.tiny`); for CPU smoke runs only."""

    layers: int = 2
    hidden: int = 64
    intermediate: int = 128
    heads: int = 4
    kv_heads: int = 2
    vocab_size: int = 512
    max_positions: int = 4096
    seed: int = 0


@dataclass(frozen=True)
class ModelSpec:
    """What to train and how its tokenizer is set up.

    ``chat_template``: a name in ``training/chat_templates/`` or a ``.jinja`` path; it must carry
    ``{% generation %}`` markers (assistant-only loss). A base model has no trained end-of-turn,
    so ``eos_token`` is set explicitly (``<|im_end|>`` for Qwen2.5) and ``pad_token`` must differ
    from it; ``extra_eos_tokens`` also stop generation (Qwen2.5 base emits ``<|endoftext|>``).
    ``tiny``: build a random tiny Qwen2 into ``name_or_path`` first when it does not exist.
    """

    name_or_path: str
    dtype: str = "bfloat16"
    attn_implementation: str | None = None
    chat_template: str = "chatml_think"
    eos_token: str = "<|im_end|>"
    pad_token: str = "<|fim_pad|>"
    extra_eos_tokens: tuple[str, ...] = ("<|endoftext|>",)
    tiny: TinySpec | None = None
    revision: str | None = None

    def __post_init__(self):
        if not self.name_or_path:
            raise ConfigError("model.name_or_path is required")
        if self.eos_token == self.pad_token:
            raise ConfigError(f"model.pad_token must differ from model.eos_token (both "
                              f"{self.eos_token!r}): padding would be masked as end of turn")
        if self.dtype not in ("bfloat16", "float16", "float32", "auto"):
            raise ConfigError(f"model.dtype must be bfloat16, float16, float32 or auto, "
                              f"got {self.dtype!r}")
        object.__setattr__(self, "extra_eos_tokens", tuple(self.extra_eos_tokens or ()))


def model_spec_from(raw: Mapping[str, Any] | None, path: str | None = None) -> ModelSpec:
    raw = dict(raw or {})
    tiny = raw.pop("tiny", None)
    tiny_spec = build_dataclass(TinySpec, "model.tiny", tiny, path) if tiny else None
    return build_dataclass(ModelSpec, "model", raw, path, tiny=tiny_spec)


def resolve_path(ref: str, base: Path = REPO_ROOT) -> str:
    """A relative path that exists from the working directory or the repository root; anything
    else (a hub id such as ``Qwen/Qwen2.5-32B``, a folder still to be built) is kept as given."""
    p = Path(ref)
    if p.is_absolute() or p.exists():
        return str(p)
    cand = base / p
    return str(cand) if cand.exists() else ref


def load_chat_template(ref: str) -> str:
    """A template by name (``training/chat_templates/NAME.jinja``) or by path."""
    p = Path(ref)
    if not (p.suffix in (".jinja", ".j2") or "/" in ref):
        p = CHAT_TEMPLATE_DIR / f"{ref}.jinja"
    elif not p.is_absolute() and not p.exists():
        p = REPO_ROOT / p
    if not p.is_file():
        names = sorted(x.stem for x in CHAT_TEMPLATE_DIR.glob("*.jinja"))
        raise ConfigError(f"chat template {ref!r} not found; shipped: {', '.join(names)}")
    text = p.read_text(encoding="utf-8")
    if "generation" not in text:
        raise ConfigError(f"chat template {p} has no {{% generation %}} markers: assistant-only "
                          "loss needs them")
    return text


def inference_template(template: str) -> str:
    """The template without ``{% generation %}`` markers (what a serving engine should see)."""
    return _GEN_MARKER.sub("", template)


def prepare_tokenizer(tokenizer, spec: ModelSpec):
    """Set the chat template, EOS and a distinct pad token; add missing special tokens.

    Returns ``(tokenizer, added)`` where ``added`` is the number of new tokens (the model's
    embeddings must then be resized). The training template (with markers) is set on the
    tokenizer; save checkpoints with :func:`inference_template`.
    """
    template = load_chat_template(spec.chat_template)
    tokenizer.chat_template = template
    vocab = tokenizer.get_vocab()
    missing = [t for t in (spec.eos_token, spec.pad_token, "<|im_start|>") if t not in vocab]
    added = tokenizer.add_tokens(missing, special_tokens=True) if missing else 0
    tokenizer.eos_token = spec.eos_token
    tokenizer.pad_token = spec.pad_token
    if tokenizer.pad_token_id == tokenizer.eos_token_id:
        raise ConfigError("pad and eos token ids coincide after set-up")
    return tokenizer, added


def eos_token_ids(tokenizer, spec: ModelSpec) -> list[int]:
    """Ids that end generation: the EOS first, then the extra ones the vocabulary has."""
    ids = [tokenizer.convert_tokens_to_ids(spec.eos_token)]
    vocab = tokenizer.get_vocab()
    for t in spec.extra_eos_tokens:
        if t in vocab and vocab[t] not in ids:
            ids.append(vocab[t])
    return ids


def torch_dtype(name: str):
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32,
            "auto": "auto"}[name]


def ensure_model(spec: ModelSpec) -> str:
    """Resolve the model path; build the tiny random model first when the recipe asks for one."""
    path = resolve_path(spec.name_or_path)
    if spec.tiny is not None and not (Path(path) / "config.json").exists():
        from training.tiny import build_tiny_qwen2

        build_tiny_qwen2(path, spec.tiny, template=load_chat_template(spec.chat_template))
    return path


def load_model(spec: ModelSpec, path: str, tokenizer, added: int):
    """Load the causal LM, resize embeddings for added tokens, and set eos/pad on its configs."""
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": torch_dtype(spec.dtype)}
    if spec.attn_implementation:
        kwargs["attn_implementation"] = spec.attn_implementation
    if spec.revision:
        kwargs["revision"] = spec.revision
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if added or len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    ids = eos_token_ids(tokenizer, spec)
    model.config.eos_token_id = ids[0]
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.eos_token_id = ids
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


def save_for_inference(trainer, tokenizer, spec: ModelSpec, output_dir: str) -> None:
    """Save the final model with the marker-free template and generation EOS ids."""
    trainer.save_model(output_dir)  # gathers ZeRO-3 shards (stage3_gather_16bit_weights...)
    if not trainer.is_world_process_zero():
        return
    template = tokenizer.chat_template
    tokenizer.chat_template = inference_template(template)
    tokenizer.save_pretrained(output_dir)
    tokenizer.chat_template = template
    model = trainer.model
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.eos_token_id = eos_token_ids(tokenizer, spec)
        model.generation_config.save_pretrained(output_dir)


# --- datasets ----------------------------------------------------------------------------------

def load_dataset_any(ref: str, split: str = "train", limit: int | None = None):
    """A ``datasets.Dataset`` from a save_to_disk directory, a JSONL/JSON/parquet file or a hub
    id."""
    from reasonlens._optional import import_datasets

    datasets = import_datasets()
    p = Path(resolve_path(ref))
    if p.is_dir() and ((p / "dataset_info.json").exists() or (p / "dataset_dict.json").exists()):
        ds = datasets.load_from_disk(str(p))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ConfigError(f"{p}: no split {split!r}; splits: {', '.join(ds)}")
            ds = ds[split]
    elif p.is_file():
        kind = {".jsonl": "json", ".json": "json", ".parquet": "parquet"}.get(p.suffix)
        if kind is None:
            raise ConfigError(f"{p}: dataset files must be .jsonl, .json or .parquet")
        ds = datasets.load_dataset(kind, data_files=str(p), split="train")
    elif p.exists():
        raise ConfigError(f"{p}: not a datasets directory (no dataset_info.json)")
    else:
        looks_local = (ref.count("/") != 1 or ref.startswith((".", "/"))
                       or Path(ref.split("/")[0]).exists())
        if looks_local:
            raise ConfigError(f"dataset not found: {ref} (build it with python -m training.data)")
        ds = datasets.load_dataset(ref, split=split)
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    if len(ds) == 0:
        raise ConfigError(f"dataset {ref} is empty")
    return ds


# --- run summary -------------------------------------------------------------------------------

def loss_curve(log_history: list[dict[str, Any]], key: str = "loss") -> list[tuple[int, float]]:
    """(step, value) pairs of a logged scalar from ``trainer.state.log_history``."""
    return [(int(r.get("step", 0)), float(r[key])) for r in log_history if key in r]


def write_summary(path: str | Path, *, command: str, recipe: dict[str, Any],
                  body: dict[str, Any]) -> dict[str, Any]:
    from reasonlens.io import write_json
    from reasonlens.provenance import provenance

    out = dict(body)
    out["provenance"] = provenance(command=command, config=recipe,
                                   extra_packages=("torch", "transformers", "trl", "datasets",
                                                   "accelerate"))
    write_json(path, out)
    return out


# --- recipe checks shared by SFT and GRPO ------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    """Checks for the target run (not trl arguments): the launch's process count, the global
    batch it should give, and lower bounds on sequence lengths so trl's small defaults
    (``max_length=1024``, ``max_completion_length=512``) cannot slip in."""

    num_processes: int | None = None
    global_batch: int | None = None
    min_max_length: int | None = None
    min_completion_length: int | None = None
    gpus: str | None = None  # free text for humans, e.g. "16 x 80 GB"


def check_sources(trl: Mapping[str, Any], sources: Mapping[str, Any], path: str | None) -> None:
    """Every trl value needs a stated origin (e.g. "s1 (not from the paper)")."""
    where = f"{path}: " if path else ""
    missing = [k for k in trl if not str(sources.get(k) or "").strip()]
    if missing:
        raise ConfigError(f"{where}sources has no entry for trl keys: {', '.join(missing)} "
                          "(say where each value comes from; the paper's are not public)")
    stale = [k for k in sources if k not in trl]
    if stale:
        raise ConfigError(f"{where}sources names keys that trl does not set: {', '.join(stale)}")


def require_keys(trl: Mapping[str, Any], keys: tuple[str, ...], path: str | None,
                 why: str) -> None:
    missing = [k for k in keys if k not in trl]
    if missing:
        raise ConfigError(f"{path + ': ' if path else ''}trl must set {', '.join(missing)} "
                          f"explicitly ({why})")


def trl_config(cls: type, trl: Mapping[str, Any], *, output_dir: str, forced: Mapping[str, Any],
               path: str | None, validate_only: bool):
    """Instantiate a trl config class from a recipe's ``trl`` section.

    ``forced`` values come from other recipe sections (e.g. eos_token from ``model``) and may not
    be set in ``trl`` too. With ``validate_only`` on a machine without an accelerator, ``use_cpu``
    is added so bf16 settings validate; nothing else changes.
    """
    names = [f.name for f in dataclasses.fields(cls)]
    check_keys("trl", trl, names, path)
    clash = [k for k in forced if k in trl]
    if clash:
        raise ConfigError(f"{path + ': ' if path else ''}set {', '.join(clash)} in the model "
                          "section, not in trl")
    kwargs = {**trl, **forced, "output_dir": output_dir}
    if validate_only and not _has_accelerator():
        kwargs["use_cpu"] = True
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path + ': ' if path else ''}trl rejects the recipe: {exc}") from exc


def _has_accelerator() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def recipe_record(obj: Any) -> Any:
    """JSON-able copy of a recipe (dataclasses, mapping proxies, tuples) for provenance."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: recipe_record(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): recipe_record(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [recipe_record(v) for v in obj]
    return obj


# --- shared command flow of training.sft / training.grpo ---------------------------------------

def run_recipe_command(load_recipe, run, validate, *, config_path: str,
                       overrides: tuple[str, ...], output_dir: str | None, dataset: str | None,
                       validate_only: bool) -> tuple[dict[str, Any], str] | None:
    """Load a recipe (with ``--set`` overrides and ``--dataset``), then validate or train it.

    Returns ``(summary, output_dir)`` after training, None after ``--validate-only`` (the resolved
    values are printed). A ReasonlensError becomes ``error: ...`` on stderr and its exit code.
    """
    import json
    import logging
    import sys

    import click

    from reasonlens.errors import ReasonlensError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        ov = list(overrides) + ([f"data.train={dataset}"] if dataset else [])
        recipe = load_recipe(config_path, ov)
        out = output_dir or f"out/{recipe.name}"
        if validate_only:
            click.echo(json.dumps(validate(recipe, out), indent=2, default=str))
            return None
        summary = run(recipe, out)
    except ReasonlensError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(getattr(exc, "exit_code", 1))
    return summary, out
