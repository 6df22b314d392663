"""Multiple-choice rows with a fixed, recorded, seeded choice order.

lighteval drew the GPQA gold position from the global ``random`` state while building prompts, so
the order depended on everything that ran before. Here the order of each question is a pure
function of (question id, seed): the choices are sorted by ``blake2b(f"{seed}:{id}:{index}")``.
The permutation, seed and method are stored in the row's metadata, so any prompt can be rebuilt.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from reasonlens.errors import InputError

LETTERS = "ABCDEFGHIJ"
PERMUTATION_METHOD = "blake2b-sort-v1"


def choice_permutation(question_id: str, n: int, seed: int = 0) -> list[int]:
    """``perm[j]`` = index (in the original order) of the choice shown at position j."""
    def key(i: int) -> bytes:
        return hashlib.blake2b(f"{seed}:{question_id}:{i}".encode(), digest_size=16).digest()

    return sorted(range(n), key=key)


def _question_id(rec: dict, question: str) -> str:
    for k in ("Record ID", "record_id", "id", "question_id", "ID"):
        v = rec.get(k)
        if v not in (None, ""):
            return str(v)
    return "q-" + hashlib.blake2b(question.encode(), digest_size=8).hexdigest()


def choice_row(rec: dict, benchmark: str, source: str, line: int, *, seed: int = 0
               ) -> dict[str, Any]:
    """A problem-frame row from a GPQA-style record.

    Accepted layouts: the GPQA CSV (``Question``, ``Correct Answer``, ``Incorrect Answer 1..3``,
    ``Record ID``): the correct answer is original index 0 and the shown order is the seeded
    permutation; or ``question`` + ``choices`` (list) + ``answer`` (letter or 0-based index), kept
    in the given order.
    """
    question = rec.get("Question", rec.get("question", rec.get("problem")))
    if not isinstance(question, str) or not question.strip():
        raise InputError("no question text", path=source, line=line, field="Question")
    question = question.strip()
    qid = _question_id(rec, question)
    meta: dict[str, Any] = {"source": source, "source_line": line}
    if "Correct Answer" in rec:
        original = [rec.get("Correct Answer")] + [rec.get(f"Incorrect Answer {i}")
                                                   for i in (1, 2, 3)]
        for i, c in enumerate(original):
            if not isinstance(c, str) or not c.strip():
                field = "Correct Answer" if i == 0 else f"Incorrect Answer {i}"
                raise InputError("missing choice text", path=source, line=line, field=field)
        original = [c.strip() for c in original]
        perm = choice_permutation(qid, len(original), seed)
        choices = [original[i] for i in perm]
        gold = LETTERS[perm.index(0)]
        meta.update(permutation=perm, permutation_seed=seed, permutation_method=PERMUTATION_METHOD,
                    original_correct_index=0)
        for k in ("High-level domain", "Subdomain"):
            if rec.get(k):
                meta[k.lower().replace(" ", "_").replace("-", "_")] = rec[k]
    else:
        choices = rec.get("choices", rec.get("options"))
        if not isinstance(choices, list) or len(choices) < 2:
            raise InputError("expected 'choices' (a list) or the GPQA columns", path=source,
                             line=line, field="choices")
        choices = [str(c).strip() for c in choices]
        ans = rec.get("answer", rec.get("gold"))
        if isinstance(ans, int) and not isinstance(ans, bool) and 0 <= ans < len(choices):
            gold = LETTERS[ans]
        elif isinstance(ans, str) and len(ans.strip()) == 1 \
                and ans.strip().upper() in LETTERS[:len(choices)]:
            gold = ans.strip().upper()
        else:
            raise InputError(f"answer must be a letter or 0-based index, got {ans!r}",
                             path=source, line=line, field="answer")
        meta.update(permutation=None, permutation_method="as-given")
    return {"benchmark": benchmark, "problem_id": qid, "problem": question, "gold": gold,
            "answer_type": "choice", "choices": orjson.dumps(choices).decode(),
            "metadata": orjson.dumps(meta, default=str).decode()}
