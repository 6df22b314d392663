"""Sentence numbering shared by the LLM judge, the offline detector and judge-eval.

Everything that refers to "sentence i" of a response (the LLM judge's instance evidence, the
offline detector's instances, the gold-span matching in judge-eval) uses one segmenter, the one the
LLM judge numbers its prompts with (:func:`reasonlens.judge.chunking.split_sentences`), so the
indices are comparable: sentences are numbered **from 1** over the whole text, a line break always
ends a sentence, and ``.``/``!``/``?`` end one when whitespace and a character that is not a
lower-case letter follow. Offsets are character offsets into the text (end exclusive, whitespace
trimmed): ``text[s.start:s.end] == s.text``.

:func:`find_quote` locates a (possibly re-spaced, re-cased or elided) quote in a text, which is how
quoted evidence is mapped back onto character offsets and sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reasonlens.judge import chunking

SEGMENTER = "reasonlens.judge.chunking.split_sentences"


@dataclass(frozen=True)
class Sentence:
    """One sentence: its 1-based index in the text and its character span (end exclusive)."""

    index: int
    start: int
    end: int
    text: str


def split_sentences(text: str) -> list[Sentence]:
    """Sentences of ``text`` with 1-based indices and character offsets."""
    return [Sentence(s.index, s.start, s.end, text[s.start:s.end])
            for s in chunking.split_sentences(text)]


def sentences_overlapping(sentences: list[Sentence], start: int, end: int) -> list[int]:
    """Indices of the sentences that overlap the character span [start, end)."""
    return [s.index for s in sentences if s.start < end and start < s.end]


def _normalise(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with runs of whitespace collapsed and curly quotes straightened, plus the
    original offset of every kept character."""
    table = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-",
             "\u2013": "-"}
    chars: list[str] = []
    offsets: list[int] = []
    prev_space = True
    for i, ch in enumerate(text):
        if ch.isspace():
            if not prev_space:
                chars.append(" ")
                offsets.append(i)
            prev_space = True
            continue
        chars.append(table.get(ch, ch).lower())
        offsets.append(i)
        prev_space = False
    if chars and chars[-1] == " ":
        chars.pop()
        offsets.pop()
    return "".join(chars), offsets


def find_quote(text: str, quote: str, *, start_hint: int = 0) -> tuple[int, int] | None:
    """Character span of ``quote`` in ``text``, or None.

    Tries, in order: an exact match (from ``start_hint`` on, then anywhere); a match ignoring case,
    whitespace and curly quotes; and, for quotes elided with "..." or "…", the longest fragment of
    at least 12 characters. Surrounding quotation marks on ``quote`` are ignored.
    """
    q = quote.strip().strip("\"'\u201c\u201d\u2018\u2019").strip()
    if not q:
        return None
    i = text.find(q, start_hint)
    if i < 0:
        i = text.find(q)
    if i >= 0:
        return i, i + len(q)
    norm_text, offsets = _normalise(text)
    norm_q, _ = _normalise(q)
    if not norm_q:
        return None
    j = norm_text.find(norm_q)
    if j >= 0:
        return offsets[j], offsets[j + len(norm_q) - 1] + 1
    pieces = re.split(r"\.\.\.|\u2026", q)
    if len(pieces) < 2:
        return None
    parts = [p.strip() for p in pieces if len(p.strip()) >= 12]
    for part in sorted(parts, key=len, reverse=True):
        found = find_quote(text, part, start_hint=start_hint)
        if found:
            return found
    return None
