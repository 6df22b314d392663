"""Optional heavy dependencies, imported only inside the functions that need them.

Each ``import_<pkg>()`` returns the module or raises :class:`MissingDependencyError` naming the
extra to install. vLLM is special: on a machine without a GPU its import can fail with
RuntimeError, OSError or others rather than ImportError, so its guard catches any Exception.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from reasonlens.errors import MissingDependencyError

_EXTRA = {
    "torch": "train",
    "transformers": "train",
    "trl": "train",
    "datasets": "train",
    "peft": "train",
    "accelerate": "train",
    "gguf": "train",
    "vllm": "gpu",
    "ray": "scale",
}


def import_optional(name: str) -> ModuleType:
    """Import ``name`` or raise MissingDependencyError with the install instruction."""
    extra = _EXTRA.get(name.split(".")[0], "train")
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{name} is not installed ({exc}); install it with: pip install 'reasonlens[{extra}]'"
        ) from exc


def import_vllm() -> ModuleType:
    """Import vllm. Any exception (ImportError, RuntimeError, OSError...) becomes a clean error."""
    try:
        return importlib.import_module("vllm")
    except Exception as exc:  # noqa: BLE001 - a GPU-less vllm raises RuntimeError/OSError
        raise MissingDependencyError(
            f"vllm cannot be used here ({type(exc).__name__}: {exc}); it needs a CUDA GPU and "
            "pip install 'reasonlens[gpu]'. Use an OpenAI-compatible --base-url instead."
        ) from exc


def vllm_available() -> bool:
    try:
        import_vllm()
    except MissingDependencyError:
        return False
    return True


def import_torch() -> ModuleType:
    return import_optional("torch")


def import_transformers() -> ModuleType:
    return import_optional("transformers")


def import_datasets() -> ModuleType:
    return import_optional("datasets")
