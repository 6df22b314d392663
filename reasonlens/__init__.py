"""reasonlens: explain why one reasoning model reasons better than another from its traces.

Importing this package is cheap: it loads no torch, transformers, trl, vllm or datasets
(``tests/test_imports.py`` proves it). Stage modules are imported where they are used.
"""

__version__ = "0.1.0"

from reasonlens.errors import ReasonlensError  # noqa: E402

__all__ = ["__version__", "ReasonlensError"]
