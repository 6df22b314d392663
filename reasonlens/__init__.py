"""reasonlens: explain why one reasoning model reasons better than another from its traces.

    import reasonlens as rl
    traces = rl.load_traces("examples/traces.jsonl")
    scored, graded, judged = rl.score(traces), rl.grade(traces), rl.judge(traces)
    rl.report(scored, graded, judged, path="reports/run.html")

The stage functions live in :mod:`reasonlens.api` (see docs/api.md) and are loaded on first
attribute access, so importing this package is cheap: it loads no torch, transformers, trl, vllm
or datasets, nor polars-heavy stage code (``tests/test_imports.py`` proves it).
"""

__version__ = "0.1.0"

import sys as _sys
import types as _types

from reasonlens.errors import (ConfigError, InputError, ReasonlensError,  # noqa: E402
                               UnknownNameError)

#: Names served lazily from :mod:`reasonlens.api` (and where each lives).
_API = {"load_traces": "reasonlens.api", "score": "reasonlens.api", "diff": "reasonlens.api",
        "write_tables": "reasonlens.api", "StageResult": "reasonlens.api",
        "StatsConfig": "reasonlens.stats.bootstrap", "ReportConfig": "reasonlens.report"}

#: Stages whose API function shares its name with a subpackage (``reasonlens.grade`` ...). The
#: subpackage object is made callable, so ``rl.grade(traces)`` runs :func:`reasonlens.api.grade`
#: while ``import reasonlens.grade.core`` and ``rl.grade.GradeConfig`` keep working.
_STAGES = ("grade", "judge", "stats", "report")

__all__ = ["__version__", "ReasonlensError", "ConfigError", "InputError", "UnknownNameError",
           *_API, *_STAGES]


class _StageModule(_types.ModuleType):
    """A stage subpackage that is also the stage function of :mod:`reasonlens.api`."""

    def __call__(self, *args, **kwargs):
        return self._api_function()(*args, **kwargs)

    def _api_function(self):
        from reasonlens import api

        return getattr(api, self.__name__.rsplit(".", 1)[1])

    @property
    def __signature__(self):
        import inspect

        return inspect.signature(self._api_function())


class _Package(_types.ModuleType):
    def __setattr__(self, name, value):
        if name in _STAGES and type(value) is _types.ModuleType:
            value.__class__ = _StageModule  # set by the import system on `import reasonlens.X`
        super().__setattr__(name, value)


_sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    import importlib

    if name in _STAGES:
        return importlib.import_module(f"reasonlens.{name}")
    mod = _API.get(name)
    if mod is None:
        raise AttributeError(f"module 'reasonlens' has no attribute {name!r}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API) | set(_STAGES))
