"""The diff stage (reasonlens.stats.diff): streamed counts equal one pass; groups and errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasonlens.errors import ConfigError
from reasonlens.stats.diff import DiffCounts, Group, count_sources
from reasonlens.traces.load import LoadOptions, load_traces

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "traces.jsonl"


def test_counts_streamed_in_small_batches_equal_one_pass():
    whole = DiffCounts()
    whole.add(load_traces(str(EXAMPLE)))
    streamed = DiffCounts()
    report = count_sources([str(EXAMPLE)], streamed, LoadOptions(batch_rows=5))
    assert report.n_rows == 48
    a = whole.ranking(min_count=2)
    b = streamed.ranking(min_count=2)
    assert a[:2] == b[:2] == ("model=distilled-32b-example", "model=zero-rl-32b-example")
    assert a[2].sort("term").equals(b[2].sort("term")) and len(a[2]) > 20


def test_groups_by_any_column_and_their_errors():
    df = load_traces(str(EXAMPLE))
    g = DiffCounts((Group.parse("finish_reason=length", "--group-a"),
                    Group.parse("finish_reason=STOP", "--group-b")), part="reasoning")
    g.add(df)
    label_a, label_b, ranking = g.ranking(min_count=1)
    assert (label_a, label_b) == ("finish_reason=length", "finish_reason=stop")
    assert len(ranking)
    none = DiffCounts((Group.of("model", "nobody"), Group.of("model", "zero-rl-32b-example")))
    none.add(df)
    with pytest.raises(ConfigError, match="no response matches group A .*model values "
                                          "present: distilled-32b-example"):
        none.ranking()
    with pytest.raises(ConfigError, match="COLUMN=VALUE"):
        Group.parse("finish_reason", "--group-a")
    with pytest.raises(ConfigError, match="text must be"):
        DiffCounts(part="both").add(df)
