"""The one loader of the compiled C helpers: a build of another source is never called."""

import pytest

from reasonlens import native
from reasonlens.traces import jsonkeys

pytestmark = pytest.mark.skipif(jsonkeys._library() is None,
                                reason="the compiled key scanner is not built (no C compiler)")


def _path() -> str:
    from reasonlens.traces import _jsonkeys

    return _jsonkeys.__file__


def test_the_abi_number_decides():
    assert native.open_library(_path(), "rl_json_keys_abi", jsonkeys.ABI) is not None
    assert native.open_library(_path(), "rl_json_keys_abi", jsonkeys.ABI + 1) is None
    assert native.open_library(_path(), "rl_no_such_abi", jsonkeys.ABI) is None


def test_a_module_not_built_is_none():
    assert native.import_library("reasonlens.traces._no_such_module", "rl_abi", 1) is None
    assert native.function(None, "rl_json_keys", None, []) is None
