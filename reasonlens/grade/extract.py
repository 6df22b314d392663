"""Final-answer extraction: pure functions over strings, linear in the length of the response.

Order of attempts (the first that finds something wins):

1. the last ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces), also ``\\boxed 5``; several boxed
   answers written side by side at the very end (``\\boxed{2}, \\boxed{3}``) are joined with ", "
   for expression answers;
2. "the final answer is X", "final answer: X", "answer: X" (the last occurrence);
3. markdown bold ``**73**`` (the last bold span that looks like an answer);
4. for multiple-choice answers, letter patterns ("Answer: C", "(C)", "option C", ...).

Only the tail of a very long text (``tail_chars``) is searched by the fallbacks, so a 5 MB response
costs milliseconds. The reasoning part (before ``</think>``) is excluded unless asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_BOX_CMDS = ("\\boxed", "\\fbox")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textrm|mbox|operatorname|displaystyle)"
                        r"\s*\{([^{}]*)\}")
_DOLLARS = re.compile(r"^\$+|\$+$")


@dataclass(frozen=True)
class AnswerPart:
    """The text to grade and what is known about how the response ended."""

    text: str
    think_closed: bool | None   # None: no think tags at all
    reasoning: str


def split_answer(response: str, *, include_reasoning: bool = False) -> AnswerPart:
    """Split off the reasoning. The answer is the text after the last ``</think>``.

    ``<think>`` without a closing tag means the generation stopped inside the reasoning: the answer
    is empty (``think_closed=False``) unless ``include_reasoning``.
    """
    close = response.rfind(THINK_CLOSE)
    if close >= 0:
        reasoning = response[:close]
        answer = response[close + len(THINK_CLOSE):]
        return AnswerPart(response if include_reasoning else answer, True, reasoning)
    if response.find(THINK_OPEN) >= 0:
        return AnswerPart(response if include_reasoning else "", False, response)
    return AnswerPart(response, None, "")


def _read_braced(text: str, start: int) -> tuple[str, int] | None:
    """``text[start] == '{'``: the content up to the matching brace and the index after it."""
    depth = 0
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[start + 1:i], i + 1
        i += 1
    return None


def _box_at(text: str, pos: int, cmd: str) -> tuple[str, int] | None:
    """Parse a box command starting at ``pos``: (content, end index) or None."""
    i = pos + len(cmd)
    n = len(text)
    # \boxed{...}; \boxed 5; \boxed{}: reject \boxedx (another macro name)
    if i < n and text[i].isalpha():
        return None
    j = i
    while j < n and text[j] in " \t":
        j += 1
    if j < n and text[j] == "{":
        got = _read_braced(text, j)
        if got is None:
            return None
        return got
    if j > i and j < n:  # "\boxed 5": one token up to a space, $ or end
        m = re.match(r"[^\s$]+", text[j:j + 200])
        if m:
            return m.group(0).rstrip(".,;"), j + m.end()
    return None


def find_boxed(text: str) -> list[tuple[str, int, int]]:
    """All box contents with their (start, end) positions, in order. Linear time."""
    found: list[tuple[str, int, int]] = []
    for cmd in _BOX_CMDS:
        pos = text.find(cmd)
        while pos >= 0:
            got = _box_at(text, pos, cmd)
            if got is not None:
                found.append((got[0], pos, got[1]))
                pos = text.find(cmd, got[1])
            else:
                pos = text.find(cmd, pos + len(cmd))
    found.sort(key=lambda t: t[1])
    return found


_BETWEEN_BOXES = re.compile(r"^[\s$,;]*(?:and|or|,|\\quad|\\text\{\s*and\s*\})?[\s$,;]*$")


def last_boxed(text: str, *, join_adjacent: bool = False) -> str | None:
    """The last box content; with ``join_adjacent`` trailing boxes separated only by commas, 'and'
    or spaces are joined (``\\boxed{2}, \\boxed{3}`` -> ``2, 3``)."""
    boxes = find_boxed(text)
    boxes = [b for b in boxes if b[0].strip()] or boxes
    if not boxes:
        return None
    if not join_adjacent or len(boxes) == 1:
        return boxes[-1][0].strip()
    group = [boxes[-1]]
    for b in reversed(boxes[:-1]):
        between = text[b[2]:group[0][1]]
        if len(between) <= 40 and _BETWEEN_BOXES.match(between):
            group.insert(0, b)
        else:
            break
    parts: list[str] = []
    for b in group:                     # a repeated box ("$\\boxed{5}$ ... $\\boxed{5}$") is one
        if b[0].strip() not in parts:
            parts.append(b[0].strip())
    return ", ".join(parts)


_PHRASES = re.compile(
    r"(?:the\s+final\s+answer\s+is|final\s+answer\s*(?:is)?\s*[:：]|"
    r"the\s+answer\s+is|\banswer\s*[:：])\s*",
    re.IGNORECASE)
_BOLD = re.compile(r"\*\*([^*\n]{1,80})\*\*")
_ANSWERISH = re.compile(r"^[\s$\\(]*[-+]?[\d\\(\[{a-zA-Z]")


def _phrase_answer(tail: str) -> str | None:
    last = None
    for m in _PHRASES.finditer(tail):
        last = m
    if last is None:
        return None
    rest = tail[last.end():last.end() + 300]
    boxed = last_boxed(rest)
    if boxed:
        return boxed
    rest = rest.lstrip()
    if rest.startswith("$"):
        m = re.match(r"\$+([^$]+)\$+", rest)
        if m:
            return m.group(1).strip()
    if rest.startswith("\\(") or rest.startswith("\\["):
        m = re.match(r"\\[(\[](.+?)\\[)\]]", rest, re.S)
        if m:
            return m.group(1).strip()
    bold = re.match(r"\*\*([^*]+)\*\*", rest)
    if bold:
        return bold.group(1).strip()
    line = rest.split("\n", 1)[0].strip()
    line = re.sub(r"[.。]\s*$", "", line).strip().strip("*").strip()
    return line or None


def _bold_answer(tail: str) -> str | None:
    last = None
    for m in _BOLD.finditer(tail):
        content = m.group(1).strip()
        if _ANSWERISH.match(content) and len(content) <= 40:
            last = content
    if last is None:
        return None
    return last.rstrip(".").strip()


_LETTER_PATTERNS = [   # the letter itself is case-sensitive: "the answer is a prime" is no "A"
    re.compile(r"answer\s*(?:is)?\s*[:：]?\s*\**\s*\(?\$?\\?(?:text\{|textbf\{|mathrm\{)?"
               r"((?-i:[A-J]))\b", re.IGNORECASE),
    re.compile(r"(?:option|choice)\s+\(?((?-i:[A-J]))\)?\b", re.IGNORECASE),
    re.compile(r"\*\*\(?([A-J])\)?[.)]?\*\*"),
    re.compile(r"\(([A-J])\)"),
]


def extract_letter(text: str, *, letters: str = "ABCD", tail_chars: int = 20000) -> str | None:
    """A multiple-choice letter: boxed first, then 'Answer: X' style patterns (last occurrence)."""
    tail = text[-tail_chars:]
    boxed = last_boxed(tail)
    if boxed is not None:
        letter = normalize_letter(boxed, letters)
        if letter:
            return letter
    for pat in _LETTER_PATTERNS:
        last = None
        for m in pat.finditer(tail):
            if m.group(1).upper() in letters:
                last = m.group(1).upper()
        if last is not None:
            return last
    stripped = tail.strip().rstrip(".").strip("*() $")
    if len(stripped) == 1 and stripped.upper() in letters:
        return stripped.upper()
    return None


def normalize_letter(s: str, letters: str = "ABCD") -> str | None:
    s = _strip_wrappers(s).strip().strip("()[]*.: ")
    m = re.fullmatch(r"(?:option\s*|choice\s*)?([A-Ja-j])(?:[).:]\s*.*)?", s, re.S | re.I)
    if m and m.group(1).upper() in letters:
        return m.group(1).upper()
    return None


def extract_answer(text: str, answer_type: str = "expression", *, tail_chars: int = 20000,
                   letters: str = "ABCD") -> str | None:
    """The final answer in ``text`` as written by the model (not normalised), or None."""
    if answer_type == "choice":
        return extract_letter(text, letters=letters, tail_chars=tail_chars)
    boxed = last_boxed(text, join_adjacent=answer_type == "expression")
    if boxed is not None and boxed != "":
        return boxed
    tail = text[-tail_chars:]
    phrase = _phrase_answer(tail)
    if phrase:
        return phrase
    return _bold_answer(tail)


# --- normalisation ---------------------------------------------------------------------------

def _strip_wrappers(s: str) -> str:
    s = s.strip()
    for _ in range(3):
        s2 = _TEXT_WRAP.sub(r"\1", s)
        s2 = _DOLLARS.sub("", s2.strip()).strip()
        s2 = re.sub(r"^\\\(|\\\)$|^\\\[|\\\]$", "", s2).strip()
        if s2 == s:
            break
        s = s2
    return s


_INT_RE = re.compile(r"[+-]?\d+(?:\.0*)?")
_NUM_TRAIL = re.compile(r"(?:\^\s*\{?\\circ\}?|\\%|%|\\,|\\!|\\;|~)")


def normalize_integer(s: str | None) -> int | None:
    """Strict integer reading: "025", "25.0", "\\boxed{025}", "$25$", "\\text{25}" -> 25.

    Anything else (fractions, words, expressions, "25 apples") gives None; the caller may then try
    the symbolic path.
    """
    if s is None:
        return None
    s = s.strip()
    if len(s) > 64:
        return None
    inner = last_boxed(s)
    if inner is not None:
        s = inner
    s = _strip_wrappers(s)
    s = s.strip("*").strip()
    s = re.sub(r"^[a-zA-Z]\s*=\s*", "", s)   # "x = 25"
    s = _NUM_TRAIL.sub("", s).replace(" ", "").rstrip(".")
    if re.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+", s):
        s = s.replace(",", "")
    if not _INT_RE.fullmatch(s):
        return None
    return int(s.split(".")[0])


_FRAC = re.compile(r"^(-?)\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(-?\d+)\s*\}$")
_FRAC_SHORT = re.compile(r"^(-?)\\[dt]?frac(\d)(\d)$")
_DEC = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d{1,3})?$")
_SLASH = re.compile(r"^([+-]?\d+)\s*/\s*(\d+)$")


def exact_number(s: str | None) -> Fraction | None:
    """An exact rational for plain numbers: 3, -2.5, 1/2, \\frac{1}{2}, \\dfrac12. Else None."""
    if s is None:
        return None
    s = _strip_wrappers(s).strip().rstrip(".").strip()
    s = _NUM_TRAIL.sub("", s).replace(" ", "").replace("{,}", "")
    if len(s) > 40 or not s:
        return None
    try:
        if _DEC.match(s):
            return Fraction(s)
        m = _SLASH.match(s)
        if m and int(m.group(2)) != 0:
            return Fraction(int(m.group(1)), int(m.group(2)))
        m = _FRAC.match(s) or _FRAC_SHORT.match(s)
        if m and int(m.group(3)) != 0:
            v = Fraction(int(m.group(2)), int(m.group(3)))
            return -v if m.group(1) else v
    except (ValueError, ZeroDivisionError):
        return None
    return None


def canonical_text(s: str | None) -> str | None:
    """A light normal form for string comparison and majority voting."""
    if s is None:
        return None
    s = _strip_wrappers(s)
    s = s.replace("\\left", "").replace("\\right", "").replace("\\!", "").replace("\\,", "")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = re.sub(r"\s+", "", s).rstrip(".")
    return s


def vote_key(extracted: str | None, answer_type: str) -> str | None:
    """The key answers are grouped by in majority voting."""
    if extracted is None:
        return None
    if answer_type == "choice":
        return normalize_letter(extracted) or extracted.strip().upper()
    iv = normalize_integer(extracted)
    if iv is not None:
        return str(iv)
    num = exact_number(extracted)
    if num is not None:
        return str(num)
    return canonical_text(extracted)
