"""Random-token control (pure): ban as many random ids as the real ban, matched in frequency.

For every id the real ban blocks (the "all" condition: its unconditional ids, plus the last ids
of its sequences on backends that block sequences), one replacement id is drawn without
replacement from the word-like tokens of the vocabulary (a letter in the surface, not special,
not banned, not the surface of a banned lexeme):

- ``output-frequency``: when the id occurs in the unbanned run's outputs (re-tokenised), from
  ids in the same log2 frequency bin there (nearest non-empty bin if that one is used up);
- ``merge-rank``: otherwise (the id is unseen, e.g. a small run), from ids in the same rank bin
  (token id // (vocab / 64)): BPE vocabularies number tokens in merge order, so the id is a proxy
  of the merge rank and hence of corpus frequency; ids unseen in the outputs are preferred.

The result records how many ids each method matched, the seed and the exact ids.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from reasonlens.ablate.bans import surface_core

RANK_BINS = 64


def output_frequencies(tokenizer, texts: Iterable[str]) -> Counter:
    """Token-id counts of ``texts`` re-tokenised with ``tokenizer``."""
    texts = [t for t in texts if t]
    c: Counter = Counter()
    for start in range(0, len(texts), 256):
        for ids in tokenizer.encode_batch(texts[start:start + 256]):
            c.update(ids)
    return c


def random_control_ids(targets: Sequence[int], surfaces: Sequence[str], *,
                       exclude: Iterable[int] = (), special: Iterable[int] = (),
                       banned_lexemes: Iterable[str] = (), freq: Counter | None = None,
                       seed: int = 0) -> tuple[list[int], dict[str, Any]]:
    """One frequency-matched random id per target id (see module doc)."""
    rng = random.Random(seed)
    excl = set(exclude) | set(targets) | set(special)
    banned = set(banned_lexemes)
    pool = [i for i, s in enumerate(surfaces)
            if i not in excl and any(ch.isalpha() for ch in s)
            and surface_core(s) and surface_core(s) not in banned]
    freq = freq or Counter()
    width = max(1, math.ceil(len(surfaces) / RANK_BINS))
    fbin: dict[int, list[int]] = {}
    rbin: dict[int, list[int]] = {}
    for i in pool:
        f = freq.get(i, 0)
        if f > 0:
            fbin.setdefault(int(math.log2(f)), []).append(i)
        rbin.setdefault(i // width, []).append(i)
    for lst in list(fbin.values()) + list(rbin.values()):
        rng.shuffle(lst)
    used: set[int] = set()
    chosen: list[int] = []
    methods: Counter = Counter()

    def take(bins: dict[int, list[int]], b: int, prefer=None) -> int | None:
        for dist in range(0, max(len(bins), 1) + RANK_BINS):
            for key in ((b,) if dist == 0 else (b - dist, b + dist)):
                lst = bins.get(key)
                if not lst:
                    continue
                cands = [i for i in lst if i not in used]
                if prefer is not None:
                    pref = [i for i in cands if prefer(i)]
                    cands = pref or cands
                if cands:
                    return cands[0]
        return None

    for t in sorted(targets):
        f = freq.get(t, 0)
        pick = None
        if f > 0 and fbin:
            pick = take(fbin, int(math.log2(f)))
            if pick is not None:
                methods["output-frequency"] += 1
        if pick is None:
            pick = take(rbin, t // width, prefer=lambda i: freq.get(i, 0) == 0)
            if pick is not None:
                methods["merge-rank"] += 1
        if pick is None:
            break
        used.add(pick)
        chosen.append(pick)
    info = {"n_targets": len(targets), "n_ids": len(chosen), "seed": seed,
            "methods": dict(methods), "rank_bins": RANK_BINS,
            "frequency_source": "unbanned run outputs, re-tokenised" if freq else None,
            "ids": sorted(chosen),
            "surfaces": [surfaces[i] for i in sorted(chosen)]}
    return sorted(chosen), info
