"""The optional compiled helpers: plain C shared libraries built at install time and called
through ctypes (which releases the GIL during each call).

Three live in the package: the counting kernel (``lexicon/_kernel.c``), the JSON key scanner
(``traces/_jsonkeys.c``) and the think split (``traces/_thinksplit.c``). Each exports a
function returning its ABI number, which the Python module calling it checks, so that a stale
build of an older source is never called with the wrong arguments (rebuild: ``pip install -e
.``). An install without a C compiler has none of them; each caller then takes its pure
Python and polars path.
"""

from __future__ import annotations

import ctypes
import importlib


def open_library(path: str, abi_symbol: str, abi: int) -> ctypes.CDLL | None:
    """The shared library at ``path``, or None when it is a build of another source: it lacks
    ``abi_symbol`` or that function returns another number than ``abi``."""
    lib = ctypes.CDLL(path)
    check = getattr(lib, abi_symbol, None)
    if check is None:
        return None
    check.restype = ctypes.c_int64
    return lib if check() == abi else None


def import_library(module: str, abi_symbol: str, abi: int) -> ctypes.CDLL | None:
    """:func:`open_library` of the compiled module ``module`` (``reasonlens.traces._jsonkeys``),
    or None when it is not built."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    return open_library(mod.__file__, abi_symbol, abi)


def function(lib: ctypes.CDLL | None, name: str, restype, argtypes: list):
    """``lib``'s function ``name`` with its ctypes result and argument types, or None."""
    if lib is None:
        return None
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = restype, argtypes
    return fn


__all__ = ["function", "import_library", "open_library"]
