"""The model section of a recipe and the model/tokenizer set-up for a base model: chat template
(with and without ``{% generation %}`` markers), EOS and a distinct pad token, loading with
resized embeddings, the tiny random model for CPU runs, and saving for inference."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reasonlens.errors import ConfigError
from training.paths import CHAT_TEMPLATE_DIR, REPO_ROOT, resolve_path
from training.recipe import build_dataclass

_GEN_MARKER = re.compile(r"[ \t]*\{%-?\s*(?:end)?generation\s*-?%\}[ \t]*\n?")


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


def train_and_save(trainer, tokenizer, spec: ModelSpec, output_dir: str):
    """``trainer.train()``, then the model saved for inference in ``output_dir``; returns trl's
    train output."""
    result = trainer.train()
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    save_for_inference(trainer, tokenizer, spec, output_dir)
    return result


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
