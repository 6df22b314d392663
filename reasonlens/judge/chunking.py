"""Split long traces into judge-sized chunks and merge the instances found in them. Pure.

R1-style traces run 10k-30k tokens, more than a judge should read at once (and more than many
judges' context). :func:`chunk_text` splits a text into chunks of at most ``max_chunk_tokens``
tokens, cutting at paragraph ends where it can, at sentence ends otherwise, and (only for a single
sentence longer than the budget) at whitespace. Consecutive chunks overlap by whole sentences
worth up to ``overlap_tokens``, so an instance that straddles a border is seen whole by one chunk.
:func:`merge_instances` maps every chunk's instances back to character offsets in the full text
and drops the copy of an instance that both chunks found in their overlap.

Tokens are estimated as ``ceil(len(chars) / chars_per_token)``; 3.5 characters per token is a
conservative figure for English mathematical reasoning with LaTeX under BPE tokenizers (GPT-4o's
o200k and Qwen/Llama tokenizers give 3.6-4.2 on R1 traces), so chunks rarely exceed the budget.
Pass ``count_tokens`` (e.g. a tokenizer's ``len(encode(text))``) for exact counts.

Sentences are numbered from 1 over the whole judged text (not per chunk), so a sentence index
means the same thing whichever chunk reported it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from reasonlens.errors import ConfigError
from reasonlens.judge.sentences import Sentence, _trim, sentence_at, split_sentences

__all__ = ["Chunk", "ChunkConfig", "Sentence", "chunk_text", "estimate_tokens", "merge_instances",
           "sentence_at", "split_sentences"]

@dataclass(frozen=True)
class ChunkConfig:
    """How to chunk. ``max_chunk_tokens`` bounds the trace text of one chunk (not the prompt)."""

    max_chunk_tokens: int = 6000
    overlap_tokens: int = 300
    chars_per_token: float = 3.5

    def __post_init__(self):
        if self.max_chunk_tokens < 16:
            raise ConfigError(f"--max-chunk-tokens must be >= 16, got {self.max_chunk_tokens}")
        if self.overlap_tokens < 0 or self.overlap_tokens >= self.max_chunk_tokens // 2:
            raise ConfigError(f"--overlap must lie in [0, max_chunk_tokens/2), got "
                              f"{self.overlap_tokens} with --max-chunk-tokens "
                              f"{self.max_chunk_tokens}")
        if self.chars_per_token <= 0:
            raise ConfigError("chars_per_token must be > 0")

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """One piece of a text. ``overlap_end`` is where the overlap with the previous chunk ends
    (``start`` when there is none); offsets index the whole text."""

    index: int
    start: int
    end: int
    text: str
    first_sentence: int
    last_sentence: int
    overlap_end: int


def _hard_split(text: str, s: Sentence, max_chars: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at whitespace into pieces of at most ``max_chars``."""
    pieces = []
    a = s.start
    while a < s.end:
        b = min(s.end, a + max_chars)
        if b < s.end:
            cut = text.rfind(" ", a + max_chars // 2, b)
            if cut > a:
                b = cut
        pa, pb = _trim(text, a, b)
        if pb > pa:
            pieces.append((pa, pb))
        a = b
    return pieces


def _units(text: str, cfg: ChunkConfig, count: Callable[[str], int]) -> list[Sentence]:
    """Sentences, with any sentence over the budget hard-split into several units."""
    units: list[Sentence] = []
    max_chars = max(16, int(cfg.max_chunk_tokens * cfg.chars_per_token * 0.9))
    for s in split_sentences(text):
        if count(text[s.start:s.end]) <= cfg.max_chunk_tokens:
            units.append(s)
            continue
        pieces = _hard_split(text, s, max_chars)
        while any(count(text[a:b]) > cfg.max_chunk_tokens for a, b in pieces):
            max_chars = max(8, max_chars // 2)
            pieces = _hard_split(text, s, max_chars)
        units.extend(Sentence(s.index, a, b, s.paragraph, text[a:b]) for a, b in pieces)
    return units


def estimate_tokens(text: str, chars_per_token: float) -> int:
    return math.ceil(len(text) / chars_per_token)


def chunk_text(text: str, config: ChunkConfig | None = None,
               count_tokens: Callable[[str], int] | None = None) -> list[Chunk]:
    """Split ``text`` into overlapping chunks (one chunk when it fits the budget).

    Each chunk is the exact substring ``text[start:end]``. A chunk takes whole paragraphs while
    they fit; when the next paragraph does not fit it ends at the last sentence that does (or at
    the previous paragraph end, if that keeps at least half the budget). The next chunk starts
    with the trailing sentences of this one that fit in ``overlap_tokens``.
    """
    cfg = config or ChunkConfig()
    count = count_tokens or (lambda t: estimate_tokens(t, cfg.chars_per_token))
    if not text.strip():
        return []
    if count(text) <= cfg.max_chunk_tokens:
        a, b = _trim(text, 0, len(text))
        sents = split_sentences(text)
        last = sents[-1].index if sents else 1
        return [Chunk(0, a, b, text[a:b], 1, last, a)]
    units = _units(text, cfg, count)
    toks = [count(text[u.start:u.end]) for u in units]
    chunks: list[Chunk] = []
    i = 0
    prev_end = None
    while i < len(units):
        total = 0
        j = i
        last_para_end = None  # index (exclusive) of the last unit closing a paragraph
        while j < len(units) and total + toks[j] + (1 if j > i else 0) <= cfg.max_chunk_tokens:
            total += toks[j] + (1 if j > i else 0)
            j += 1
            if j == len(units) or units[j].paragraph != units[j - 1].paragraph:
                last_para_end = j
        if j == i:  # cannot happen (units fit the budget), but never loop forever
            j = i + 1
        elif (j < len(units) and last_para_end is not None and last_para_end > i
              and sum(toks[i:last_para_end]) >= cfg.max_chunk_tokens // 2):
            j = last_para_end
        start, end = units[i].start, units[j - 1].end
        overlap_end = start if prev_end is None else max(start, min(prev_end, end))
        chunks.append(Chunk(len(chunks), start, end, text[start:end], units[i].index,
                            units[j - 1].index, overlap_end))
        if j >= len(units):
            break
        prev_end = end
        # overlap: trailing units of this chunk worth <= overlap_tokens; always make progress
        k, ov = j, 0
        while k - 1 > i and ov + toks[k - 1] <= cfg.overlap_tokens:
            ov += toks[k - 1]
            k -= 1
        i = k
    return chunks


def merge_instances(chunks: Sequence[Chunk], per_chunk: Sequence[Sequence[dict[str, Any]]]
                    ) -> list[dict[str, Any]]:
    """Merge per-chunk instances into one list for the whole text, in text order.

    Instances carry ``start``/``end`` relative to their chunk's text (None when unlocated) and
    ``sentence`` (global). An instance of chunk ``k+1`` is a duplicate of one of chunk ``k`` when
    it lies in their overlap and the two share a sentence or their spans intersect; the earlier
    chunk's copy is kept. Unlocated instances are kept as they are.
    """
    kept: list[dict[str, Any]] = []
    for chunk, insts in zip(chunks, per_chunk):
        prev = [x for x in kept if x["chunk"] == chunk.index - 1]
        for inst in insts:
            item = dict(inst)
            item["chunk"] = chunk.index
            if item.get("start") is not None:
                item["start"] = chunk.start + item["start"]
                item["end"] = chunk.start + item["end"]
                in_overlap = item["start"] < chunk.overlap_end
                if in_overlap and any(_same(item, p) for p in prev):
                    continue
            kept.append(item)
    kept.sort(key=lambda x: (x.get("start") is None, x.get("start") or 0, x["chunk"]))
    return kept


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if b.get("start") is None or a.get("label") != b.get("label"):
        return False
    if a.get("sentence") is not None and a.get("sentence") == b.get("sentence"):
        return True
    return a["start"] < b["end"] and b["start"] < a["end"]
