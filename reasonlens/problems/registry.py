"""The benchmark registry: names, answer types, hub datasets and local-file layouts."""

from __future__ import annotations

from dataclasses import dataclass, field

from reasonlens.errors import UnknownNameError


@dataclass(frozen=True)
class HubSource:
    """A dataset on the Hugging Face hub, read with ``datasets.load_dataset(path, name, split)``."""

    path: str
    split: str
    name: str | None = None
    gated: bool = False


@dataclass(frozen=True)
class BenchmarkSpec:
    """One benchmark.

    Attributes:
        name: registry name (``aime24``).
        title: human title.
        answer_type: "integer" (0-999), "expression" (LaTeX) or "choice" (letter).
        hub: hub datasets tried in order.
        local: layouts under a data directory, tried in order; each entry is a tuple of relative
            paths that together make the benchmark (AIME I + AIME II).
        template: the default prompt template.
        years: for the AIME CSV, the years kept (inclusive range).
        n_expected: number of problems in the canonical version (documentation and checks).
    """

    name: str
    title: str
    answer_type: str
    hub: tuple[HubSource, ...]
    local: tuple[tuple[str, ...], ...]
    template: str = "boxed_cot"
    years: tuple[int, int] | None = None
    n_expected: int | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)


BENCHMARKS: dict[str, BenchmarkSpec] = {s.name: s for s in [
    BenchmarkSpec(
        "aime24", "AIME 2024 (I and II)", "integer",
        hub=(HubSource("HuggingFaceH4/aime_2024", "train"),
             HubSource("Maxwell-Jia/AIME_2024", "train")),
        local=(("matharena/aime_2024_I", "matharena/aime_2024_II"),
               ("aime_2024_I", "aime_2024_II"),
               ("simplerl-eval/aime24/test.jsonl",), ("aime24/test.jsonl",),
               ("qwq-eval/aime24.jsonl",), ("aime24.jsonl",),
               ("orz/aime2024.json",), ("aime2024.json",)),
        n_expected=30, aliases=("aime_2024", "aime2024")),
    BenchmarkSpec(
        "aime25", "AIME 2025 (I and II)", "integer",
        hub=(HubSource("math-ai/aime25", "test"), HubSource("yentinglin/aime_2025", "train")),
        local=(("matharena/aime_2025_I", "matharena/aime_2025_II"),
               ("aime_2025_I", "aime_2025_II"),
               ("qwq-eval/aime25.jsonl",), ("aime25.jsonl",), ("aime25/test.jsonl",)),
        n_expected=30, aliases=("aime_2025", "aime2025")),
    BenchmarkSpec(
        "hmmt_feb25", "HMMT February 2025", "expression",
        hub=(HubSource("MathArena/hmmt_feb_2025", "train"),),
        local=(("matharena/hmmt_feb_2025",), ("hmmt_feb_2025",)),
        n_expected=30, aliases=("hmmt_feb_2025", "hmmt25", "hmmt")),
    BenchmarkSpec(
        "math500", "MATH-500", "expression",
        hub=(HubSource("HuggingFaceH4/MATH-500", "test"),),
        local=(("simplerl-eval/math500/test.jsonl",), ("math500/test.jsonl",),
               ("orz/math500.json",), ("math500.json",), ("math500.jsonl",)),
        n_expected=500, aliases=("math_500", "math-500")),
    BenchmarkSpec(
        "gpqa_diamond", "GPQA-Diamond", "choice",
        hub=(HubSource("Idavidrein/gpqa", "train", name="gpqa_diamond", gated=True),),
        local=(("gpqa/gpqa_diamond.csv",), ("gpqa_diamond.csv",), ("gpqa_diamond.jsonl",),
               ("gpqa/gpqa_diamond.jsonl",)),
        template="gpqa_letter", n_expected=198, aliases=("gpqa", "gpqa-diamond", "gpqa:diamond")),
    BenchmarkSpec(
        "amc23", "AMC 2023 (12A and 12B)", "expression",
        hub=(HubSource("math-ai/amc23", "test"),),
        local=(("simplerl-eval/amc23/test.jsonl",), ("amc23/test.jsonl",), ("amc23.jsonl",)),
        n_expected=40, aliases=("amc_23", "amc2023")),
    BenchmarkSpec(
        "aime_1983_2023", "AIME 1983-2023 (distillation pool)",
        "integer",
        hub=(HubSource("di-zhang-fdu/AIME_1983_2024", "train"),),
        local=(("aime-1983-2024/AIME_Dataset_1983_2024.csv",), ("AIME_Dataset_1983_2024.csv",)),
        years=(1983, 2023), n_expected=919, aliases=("aime_1983_2024_pool",)),
]}


def list_benchmarks() -> list[str]:
    """Registered benchmark names."""
    return list(BENCHMARKS)


def spec_for(name: str) -> BenchmarkSpec | None:
    """The spec of a name or alias (case-insensitive), or None."""
    key = name.strip().lower()
    if key in BENCHMARKS:
        return BENCHMARKS[key]
    for s in BENCHMARKS.values():
        if key in s.aliases:
            return s
    return None


def get_spec(name: str) -> BenchmarkSpec:
    spec = spec_for(name)
    if spec is None:
        raise UnknownNameError("benchmark", name, list(BENCHMARKS))
    return spec
