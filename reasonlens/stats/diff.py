"""The diff stage: n-gram counts of two groups of responses, streamed batch by batch, ranked by
weighted log-odds (:func:`reasonlens.stats.ngrams.log_odds_from_counts`).

``reasonlens diff`` and ``rl.diff`` both run :class:`DiffCounts` over trace batches: groups are
the responses whose column (a trace column or a metadata key) holds one of the given values
(case-insensitive), or, with no groups given, the two models of the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from reasonlens.errors import ConfigError
from reasonlens.schema import PARTS, TEXT_PARTS
from reasonlens.stats.ngrams import add_counts, log_odds_from_counts, ngram_counts


@dataclass(frozen=True)
class Group:
    """Responses whose ``column`` (lower-cased) is one of ``values``."""

    column: str
    values: frozenset[str]

    @property
    def label(self) -> str:
        return f"{self.column}={','.join(sorted(self.values))}"

    @classmethod
    def parse(cls, spec: str, option: str) -> Group:
        """``COLUMN=VALUE[,VALUE...]`` (``option`` names the option in the error)."""
        if "=" not in spec:
            raise ConfigError(f"{option} expects COLUMN=VALUE[,VALUE...], got {spec!r}")
        col, _, vals = spec.partition("=")
        values = frozenset(v.strip().lower() for v in vals.split(",") if v.strip())
        if not col.strip() or not values:
            raise ConfigError(f"{option} expects COLUMN=VALUE[,VALUE...], got {spec!r}")
        return cls(col.strip(), values)

    @classmethod
    def of(cls, column: str, value: Any) -> Group:
        return cls(column, frozenset({str(value).lower()}))


def text_of(batch: pl.DataFrame, part: str) -> pl.Series:
    """The text of each response that diff reads: reasoning, answer, or both joined."""
    if part not in PARTS:
        raise ConfigError(f"text must be all, reasoning or answer, got {part!r}")
    if part in TEXT_PARTS:
        return batch[part].fill_null("")
    return batch.select(pl.concat_str([pl.col("reasoning").fill_null(""),
                                       pl.col("answer").fill_null("")], separator="\n")
                        ).to_series()


def column_of(batch: pl.DataFrame, col: str) -> pl.Series:
    """A column of the batch as lower-case text; other names are looked up in metadata."""
    if col in batch.columns:
        return batch[col].cast(pl.String).str.to_lowercase()
    return batch["metadata"].str.json_path_match(f"$.{col}").str.to_lowercase()


@dataclass
class DiffCounts:
    """N-gram counts of groups A and B, added batch by batch (memory: the two count tables)."""

    groups: tuple[Group, Group] | None = None   # None: the input's two models
    part: str = "all"
    orders: tuple[int, ...] = (1, 2)
    counts: dict[str, pl.DataFrame] = field(default_factory=dict)
    present: dict[str, set] = field(default_factory=dict)  # values seen, for the error message

    def add(self, batch: pl.DataFrame) -> None:
        text = text_of(batch, self.part)
        if self.groups is None:
            for (model,), part in batch.with_columns(text.alias("_t")) \
                    .partition_by("model", as_dict=True).items():
                self._add(model, part["_t"])
            return
        for side, group in zip("ab", self.groups):
            col = column_of(batch, group.column)
            seen = self.present.setdefault(group.column, set())
            if len(seen) < 50:
                seen.update(col.drop_nulls().unique().to_list())
            sel = text.filter(col.is_in(list(group.values)).fill_null(False))
            if len(sel):
                self._add(side, sel)

    def _add(self, key: str, texts: pl.Series) -> None:
        self.counts[key] = add_counts(self.counts.get(key), ngram_counts(texts, self.orders))

    def sides(self) -> tuple[tuple[str, pl.DataFrame], tuple[str, pl.DataFrame]]:
        """``((label A, counts A), (label B, counts B))``; a group nothing matched is an error
        that lists the values present."""
        if self.groups is None:
            if len(self.counts) != 2:
                raise ConfigError(f"the input holds {len(self.counts)} models "
                                  f"({', '.join(sorted(self.counts)) or 'none'}); choose two "
                                  "with --a/--b")
            ma, mb = sorted(self.counts)
            return (f"model={ma}", self.counts[ma]), (f"model={mb}", self.counts[mb])
        out = []
        for side, group in zip("ab", self.groups):
            if side not in self.counts:
                seen = sorted(map(str, self.present.get(group.column, ())))
                raise ConfigError(f"no response matches group {side.upper()} ({group.label}); "
                                  f"{group.column} values present: {', '.join(seen[:20]) or 'none'}"
                                  f"{' ...' if len(seen) > 20 else ''}")
            out.append((group.label, self.counts[side]))
        return out[0], out[1]

    def ranking(self, *, min_count: int = 5, prior_scale: float = 0.1,
                top: int | None = None) -> tuple[str, str, pl.DataFrame]:
        """``(label A, label B, ranking)``: every n-gram (or the ``top`` of each side)."""
        (label_a, a), (label_b, b) = self.sides()
        return label_a, label_b, log_odds_from_counts(a, b, top=top, min_count=min_count,
                                                      prior_scale=prior_scale)


def count_sources(sources: list[str], counts: DiffCounts, load_options=None, *,
                  on_batch=None):
    """Stream the traces of ``sources`` into ``counts``; returns the load report.
    ``on_batch(report)`` after each batch (progress bars)."""
    from reasonlens.traces.load import LoadReport, iter_trace_batches

    report = LoadReport()
    for batch in iter_trace_batches(list(sources), load_options, report):
        counts.add(batch)
        if on_batch is not None:
            on_batch(report)
    return report


__all__ = ["DiffCounts", "Group", "column_of", "count_sources", "text_of"]
