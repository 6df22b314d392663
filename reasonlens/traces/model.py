"""The trace model: splitting a response into its reasoning and answer parts; gold answers."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
#: below it every integer is exactly a float, so metadata's 1.0 is written 1 and loses nothing
INTEGER_FLOATS = 2**53
#: metadata keeps strings up to this many characters (longer ones are texts, not labels)
META_TEXT_MAX = 512
#: a batch holds at most about this many bytes of text (JSONL chunks of the columnar path, and
#: the responses of a batch read record by record), so long traces do not make huge batches
BATCH_BYTES = 16 << 20
#: score's responses per batch, at most: each batch costs ~15 ms of fixed work (group-bys, a
#: parquet row group, thread hand-overs), so short responses go in big batches (300,000
#: MATH-500 solutions: 3.55 s vs 4.4 s at 4,096); long ones stop earlier, at ~16 MB
SCORE_BATCH_ROWS = 16384


@dataclass(frozen=True)
class Split:
    reasoning: str
    answer: str
    think_closed: bool | None  # None: no think tags and no separate reasoning field


def split_reasoning(response: str, reasoning_content: str | None = None, *,
                    open_tag: str = THINK_OPEN, close_tag: str = THINK_CLOSE) -> Split:
    """Split a response into (reasoning, answer).

    - A separate ``reasoning_content`` (OpenAI/vLLM reasoning parsers): reasoning is that field and
      the answer is the response.
    - ``...</think> answer``: reasoning before the first closing tag (an opening tag, if any, is
      dropped), answer after it. R1-style chat templates put ``<think>`` in the prompt, so the
      response often has only the closing tag.
    - ``<think> ...`` with no closing tag: the generation was cut inside the reasoning (truncation);
      everything after the opening tag is reasoning, the answer is empty, ``think_closed`` is False.
    - No tags: no reasoning, the whole response is the answer.
    """
    if reasoning_content:
        return Split(reasoning_content.strip(), response.strip(), True)
    close = response.find(close_tag)
    if close >= 0:
        head = response[:close]
        opened = head.find(open_tag)
        if opened >= 0:
            head = head[opened + len(open_tag):]
        return Split(head.strip(), response[close + len(close_tag):].strip(), True)
    opened = response.find(open_tag)
    if opened >= 0:
        return Split(response[opened + len(open_tag):].strip(), "", False)
    return Split("", response.strip(), None)


def join_reasoning(reasoning: str, answer: str) -> str:
    """The full response text for a record that carried reasoning in a separate field."""
    if not reasoning:
        return answer
    return f"{THINK_OPEN}\n{reasoning}\n{THINK_CLOSE}\n\n{answer}"


def user_text(messages: Any) -> str | None:
    """The text of the last user (or ShareGPT "human") message of a prompt given as chat messages
    (``role``/``content`` or ``from``/``value``); None when there is none."""
    if isinstance(messages, list):
        for m in reversed(messages):
            if isinstance(m, dict):
                text = m.get("content", m.get("value"))
                if isinstance(text, str) and m.get("role", m.get("from", "user")) in ("user",
                                                                                      "human"):
                    return text
    return None


_ACCEPTED_NOTE = re.compile(r"\s*\((?:both|either)[^)]*accepted\)\s*$", re.I)
_INTEGER = re.compile(r"[+-]?\d+")


def gold_text(v: Any) -> str | None:
    """The one gold-answer normaliser (trace files and benchmark files alike).

    27.0 -> "27"; 70 -> "70"; "025" stays "025" (leading zeros are the grader's business);
    surrounding space is dropped; "080 or 081 (both were accepted)" -> "080 or 081"; a list of one
    answer is that answer; a list of several integers -> "a or b" (accepted alternatives).
    Anything that is not an answer -- None, "", an object, a list of several non-integers, a
    boolean -- is None, so grading reports ``no_gold`` instead of grading against
    ``{"value": 3}`` and calling every response wrong.
    """
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, float):
        if v != v or v in (float("inf"), float("-inf")):
            return None
        # beyond 2**53 a float's integer digits are not the ones written (1e30 -> 10000...8656)
        return str(int(v)) if v.is_integer() and abs(v) < 2**53 else repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        items = [gold_text(x) for x in v if not isinstance(x, (list, tuple, dict))]
        if len(items) != len(v) or not items or any(x is None for x in items):
            return None
        if len(items) == 1:
            return items[0]
        return " or ".join(items) if all(_INTEGER.fullmatch(x) for x in items) else None
    if not isinstance(v, str):
        return None
    s = _ACCEPTED_NOTE.sub("", v.strip())
    return s or None


def batch_slices(n: int, batch_rows: int) -> list[tuple[int, int]]:
    """(offset, length) of equal parts of at most ``batch_rows`` rows (4,099 rows make two
    batches of 2,050 and 2,049, not 4,096 and 3)."""
    parts = max(1, -(-n // batch_rows))
    sizes = [n // parts + (i < n % parts) for i in range(parts)]
    starts = [sum(sizes[:i]) for i in range(parts)]
    return [(a, k) for a, k in zip(starts, sizes) if k]


def text_slices(lengths, batch_rows: int, budget: int) -> list[tuple[int, int]]:
    """(offset, length) of consecutive parts of rows whose responses have ``lengths``
    characters: a part ends at ``batch_rows`` rows or at the row that brings it to ``budget``
    characters, as a batch read record by record does."""
    if len(lengths) <= batch_rows and int(lengths.sum()) < budget:
        return [(0, len(lengths))] if len(lengths) else []
    out, start, size = [], 0, 0
    for i, n in enumerate(lengths.tolist()):
        size += n
        if i + 1 - start >= batch_rows or size >= budget:
            out.append((start, i + 1 - start))
            start, size = i + 1, 0
    if start < len(lengths):
        out.append((start, len(lengths) - start))
    return out
