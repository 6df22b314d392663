"""Write examples/checkpoints.jsonl: ILLUSTRATIVE traces of two models at two training steps.

Built from examples/traces.jsonl (hand-written, no model produced them), to show curves over
training steps (``reasonlens stats`` tables ``curves_*`` and the report's "Training curves"):

- ``distilled-32b-example`` at steps 100 and 200: the same distilled-style traces at both steps
  (flat curves);
- ``zero-rl-32b-example`` at step 100: its terse procedural traces; at step 200, for the first
  half of the problems, the distilled-style trace of the same problem and sample (as if RL had
  taught it to reflect), with that trace's answer.

Each record carries ``step`` at the top level (detected by the loader); ``meta.checkpoint``
holds the same step as a checkpoint name ("checkpoint-100") to show ``--field step=PATH``.
Re-run: ``python examples/make_checkpoints.py`` (deterministic).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = (100, 200)


def checkpoint_records(traces: list[dict]) -> list[dict]:
    """The two-step records for the example traces (see the module docstring)."""
    distilled = {(t["problem_id"], t["sample"]): t for t in traces
                 if t["model"].startswith("distilled")}
    pids = sorted({t["problem_id"] for t in traces})
    learned = set(pids[: len(pids) // 2])
    out = []
    for step in STEPS:
        for t in traces:
            rec = dict(t)
            if step == STEPS[-1] and t["model"].startswith("zero-rl") \
                    and t["problem_id"] in learned:
                src = distilled[(t["problem_id"], t["sample"])]
                rec.update(response=src["response"], finish_reason=src["finish_reason"],
                           completion_tokens=src["completion_tokens"])
            rec["id"] = f"{t['id']}@{step}"
            rec["step"] = step
            rec["meta"] = {"checkpoint": f"checkpoint-{step}"}
            out.append(rec)
    return out


def main() -> None:
    traces = [json.loads(line) for line in (HERE / "traces.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    with open(HERE / "checkpoints.jsonl", "w", encoding="utf-8") as fh:
        for rec in checkpoint_records(traces):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
