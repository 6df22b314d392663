"""Trace model and loaders (see :mod:`reasonlens.traces.load`).

The names below are imported on first use (PEP 562), so that importing a polars-free module of
this package (``layouts``, ``model``: what the command line needs to parse its options) does not
import polars.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {"FieldMapping": "layouts", "detect_layout": "layouts", "parse_field_options": "layouts",
          "LoadOptions": "load", "LoadReport": "load", "iter_trace_batches": "load",
          "load_traces": "load", "read_trace_table": "load", "Split": "model",
          "split_reasoning": "model"}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'reasonlens.traces' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"reasonlens.traces.{home}"), name)
    globals()[name] = value
    return value
