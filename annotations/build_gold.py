"""Rebuild annotations/gold.jsonl from the marked-up sources in annotations/source/.

    python annotations/build_gold.py          # write annotations/gold.jsonl
    python annotations/build_gold.py --check  # exit 1 if gold.jsonl is out of date

Splits already recorded in gold.jsonl are kept; new ids get one (see reasonlens.judge.gold).
"""

from __future__ import annotations

import sys
from pathlib import Path

from reasonlens.judge.gold import DEFAULT_GOLD, SOURCE_DIR, build_gold, dumps_gold
from reasonlens.registry import load


def main(argv: list[str]) -> int:
    versions = {load("rubric", b).version for b in ("multi_perspective", "metacognitive")}
    if len(versions) != 1:
        print(f"rubric versions differ: {sorted(versions)}", file=sys.stderr)
        return 2
    data = dumps_gold(build_gold(SOURCE_DIR, DEFAULT_GOLD, guidelines_version=versions.pop()))
    if "--check" in argv:
        same = Path(DEFAULT_GOLD).is_file() and Path(DEFAULT_GOLD).read_bytes() == data
        print("gold.jsonl is up to date" if same else "gold.jsonl is OUT OF DATE")
        return 0 if same else 1
    Path(DEFAULT_GOLD).write_bytes(data)
    n = data.count(b"\n")
    print(f"wrote {DEFAULT_GOLD} ({n} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
