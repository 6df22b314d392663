"""The scoring run's threads: batches written in the background, in order, errors surfaced."""

from __future__ import annotations

import polars as pl
import pytest

from reasonlens.lexcount.aggregate import PartialCounts
from reasonlens.lexcount.run import BackgroundWriter


class _Sink:
    def __init__(self, fail_at: int | None = None):
        self.frames, self.fail_at = [], fail_at

    def write(self, df: pl.DataFrame) -> None:
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OSError("disk full")
        self.frames.append(df)


class _Partials(PartialCounts):
    def __init__(self):
        super().__init__(("c",))
        self.added = []

    def add(self, responses, terms) -> None:
        self.added.append(responses["id"].to_list())


def _batch(i: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.DataFrame({"id": [f"r{i}"]}), pl.DataFrame({"id": [f"r{i}"]})


def test_background_writer_keeps_the_order_of_the_batches():
    sinks, partials = (_Sink(), _Sink()), _Partials()
    w = BackgroundWriter(sinks, partials, depth=1)
    for i in range(50):
        w.put(*_batch(i))
    w.close()
    want = [[f"r{i}"] for i in range(50)]
    assert [f["id"].to_list() for f in sinks[0].frames] == want
    assert [f["id"].to_list() for f in sinks[1].frames] == want
    assert partials.added == want


def test_background_writer_error_reaches_the_scoring_thread():
    sinks, partials = (_Sink(), _Sink(fail_at=3)), _Partials()
    w = BackgroundWriter(sinks, partials, depth=1)
    with pytest.raises(OSError, match="disk full"):
        for i in range(100):
            w.put(*_batch(i))
        w.close()
    assert len(sinks[1].frames) == 3  # nothing after the failed write
    w.close()  # the error was raised once; closing again is quiet
    assert not w.thread.is_alive()


def test_in_order_hands_over_every_result_before_the_inputs_error():
    """A bad record ends the input: the batches counted before it still come out, in order,
    then the error (nothing computed is lost)."""
    from reasonlens.lexcount.run import in_order

    def items():
        yield from range(5)
        raise ValueError("bad record")

    got = []
    with pytest.raises(ValueError, match="bad record"):
        for r in in_order(lambda x: x * 10, items(), workers=2):
            got.append(r)
    assert got == [0, 10, 20, 30, 40]
    assert list(in_order(lambda x: x + 1, iter(range(7)), workers=3)) == list(range(1, 8))


def test_in_order_stops_at_a_failed_batch():
    from reasonlens.lexcount.run import in_order

    def fn(x):
        if x == 2:
            raise RuntimeError("batch 2 failed")
        return x

    got = []
    with pytest.raises(RuntimeError, match="batch 2"):
        for r in in_order(fn, iter(range(6)), workers=2):
            got.append(r)
    assert got == [0, 1]  # nothing after the failed batch
