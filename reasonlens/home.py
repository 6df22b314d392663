"""Where reasonlens keeps its caches (judge cache, tokenizers, demo models): one definition."""

from __future__ import annotations

import os
from pathlib import Path


def reasonlens_home() -> Path:
    """``$REASONLENS_HOME``, else ``~/.cache/reasonlens``."""
    return Path(os.environ.get("REASONLENS_HOME") or Path.home() / ".cache" / "reasonlens")
