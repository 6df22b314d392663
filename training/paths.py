"""Where the training package lives: the repository root, the chat templates, and how a recipe's
relative paths are resolved (from the working directory first, then the repository root)."""

from __future__ import annotations

from pathlib import Path

TRAINING_DIR = Path(__file__).resolve().parent
REPO_ROOT = TRAINING_DIR.parent
CHAT_TEMPLATE_DIR = TRAINING_DIR / "chat_templates"


def resolve_path(ref: str, base: Path = REPO_ROOT) -> str:
    """A relative path that exists from the working directory or the repository root; anything
    else (a hub id such as ``Qwen/Qwen2.5-32B``, a folder still to be built) is kept as given."""
    p = Path(ref)
    if p.is_absolute() or p.exists():
        return str(p)
    cand = base / p
    return str(cand) if cand.exists() else ref
