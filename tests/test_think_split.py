"""The loader's think split (reasonlens.traces.columns.split_columns and the compiled views of
reasonlens.traces.thinksplit) against split_reasoning, row by row, and Python's whitespace."""

from __future__ import annotations

import random

import polars as pl
import pytest

from reasonlens.traces import columns
from tests.test_columnar import _text


def test_python_whitespace_constant():
    assert columns.PY_WHITESPACE == "".join(chr(c) for c in range(0x110000)
                                             if chr(c).isspace())


def _split_texts(rng: random.Random) -> list[str]:
    """Responses with tags, every Python whitespace character around the parts, texts of up to
    12 bytes (Arrow keeps those inline) and longer, multi-byte letters next to the cuts."""
    edges = list(columns.PY_WHITESPACE) + ["", "é", "所", "😀", "\u200b"]
    out = [_text(rng) for _ in range(3000)]
    for _ in range(2000):
        pad = lambda: "".join(rng.choice(edges) for _ in range(rng.randint(0, 3)))  # noqa: E731
        body = rng.choice(["a", "wait so", "x" * 20, "所以wait我们", "", "é" * 7])
        out.append(rng.choice(["", "<think>"]) + pad() + body + pad()
                   + rng.choice(["", "</think>", "</think>" + pad() + body + pad()]))
    return out + ["<think>a</think>b", "x<think>a", "</think>", "<think></think>",
                  "a</think><think>b", "</think><think>", "<think>" + "y" * 13, None]


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "polars"])
@pytest.mark.parametrize("with_reasoning", [True, False], ids=["reasoning-field", "none"])
def test_split_columns_equals_split_reasoning(compiled, with_reasoning, monkeypatch):
    """Both ways of the think split (the compiled views, taken where no row has a reasoning
    field, and the polars expressions) give split_reasoning's parts."""
    from reasonlens.traces import thinksplit
    from reasonlens.traces.model import join_reasoning, split_reasoning

    if compiled and not thinksplit._library():
        pytest.skip("reasonlens/traces/_thinksplit.c is not built (no C compiler at install)")
    monkeypatch.setattr(thinksplit, "USE", compiled)
    rng = random.Random(3)
    resp = _split_texts(rng)
    rc = [rng.choice([None, "", " ", _text(rng)]) if with_reasoning else None for _ in resp]
    full, reasoning, answer, closed = columns.split_columns(
        pl.Series(resp, dtype=pl.String), pl.Series(rc, dtype=pl.String))
    for i, (r, c) in enumerate(zip(resp, rc)):
        s = split_reasoning(r or "", c)
        assert (reasoning[i], answer[i], closed[i]) == (s.reasoning, s.answer, s.think_closed), \
            (i, r, c)
        assert full[i] == (join_reasoning(s.reasoning, s.answer) if c else (r or ""))


def test_compiled_split_reads_sliced_and_chunked_columns(monkeypatch):
    """Views of a slice (an Arrow offset) and of several chunks are cut from their own bytes."""
    from reasonlens.traces import thinksplit
    from reasonlens.traces.model import split_reasoning

    if not thinksplit._library():
        pytest.skip("reasonlens/traces/_thinksplit.c is not built (no C compiler at install)")
    texts = [f"<think> step {i} {'z' * i}</think>\n answer {i} " for i in range(40)]
    chunked = pl.concat([pl.Series(texts[:25]), pl.Series(texts[25:])], rechunk=False)
    for s in (chunked, pl.Series(texts).slice(7, 20), chunked.slice(20, 12)):
        reasoning, answer, closed = thinksplit.split_views(s)
        want = [split_reasoning(t) for t in s.to_list()]
        assert reasoning.to_list() == [w.reasoning for w in want]
        assert answer.to_list() == [w.answer for w in want]
        assert closed.to_list() == [True] * len(s)
