"""The trace model: splitting a response into its reasoning and answer parts."""

from __future__ import annotations

from dataclasses import dataclass

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


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
