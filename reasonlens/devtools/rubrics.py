"""A toy one-behaviour judge rubric ("doubt") for the judge tests and the judge benchmark."""

from __future__ import annotations

from pathlib import Path

DOUBT_RUBRIC = '''name = "{name}"
version = "0.1.0"
behaviour = "doubt"
title = "Self-doubt"
definition = "The writer doubts a result of their own."
count_rule = "Count each sentence expressing doubt once."
positive_examples = [{{quote = "Wait, that seems wrong.", why = "doubt"}}]
negative_examples = [{{quote = "So x = 4.", why = "a step"}}]
'''


def write_doubt_rubric(folder: str | Path, name: str = "toy_doubt") -> Path:
    """Write the toy rubric as ``folder/<name>.toml`` (behaviour key ``doubt``); returns the path."""
    path = Path(folder) / f"{name}.toml"
    path.write_text(DOUBT_RUBRIC.format(name=name))
    return path
