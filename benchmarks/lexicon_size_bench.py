"""Counting speed against lexicon size: the compiled kernel and the regex and numpy path.

    python benchmarks/lexicon_size_bench.py              # ~20 MB of text, up to 20,000 terms
    python benchmarks/lexicon_size_bench.py --mb 5       # quick

User lexicons can be large (every word of a vocabulary, thousands of phrases). The texts are
the reasoning parts of the benchmark input (benchmarks/data/real_<mb>mb.jsonl, built by
score_bench.py from the real R1 traces when ../shared/data is there); the lexicons are words of
those texts (half the terms, drawn at random) and two-word phrases of them, seeded. For each
size, `fast_count` (per-term counts and words) through both engines on the same texts: MB of
text per second, the kernel's ratio to the regex path (the baseline of the run), and whether
both gave the same hits. The regex path slows down fast with size (its automaton no longer
fits its cache: 5,000 terms took about 10 minutes over 24 MB, so it runs only up to
--regex-max terms) and past some thousands of phrases its pattern passes polars' size limit
and it stops with an error; the kernel's tables stay small (printed).

Where they are installed (``pip install ahocorasick-rs hyperscan``; not dependencies of
reasonlens), two multi-pattern engines run on the same texts and lexicons, each as a floor of
what an engine built on it would cost: Aho-Corasick (``ahocorasick_rs``, leftmost-longest) over
the texts lower-cased beforehand (not timed), with no word boundaries and only the number of
matches taken; Hyperscan (vectored mode, caseless, each term between ``\\b``) with a Python
callback per match that only counts it. Neither gives the fast path's per-term counts, words or
leftmost-first phrases; the kernel's ratio to each is printed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=20, help="MB of reasoning text to count")
    ap.add_argument("--sizes", default="167,1000,5000,20000", help="lexicon sizes (terms)")
    ap.add_argument("--regex-max", type=int, default=2000,
                    help="run the regex path only up to this many terms (at 5,000 it took "
                         "about 10 minutes for 24 MB)")
    args = ap.parse_args()

    import polars as pl

    from reasonlens.errors import ConfigError
    from reasonlens.lexicon import Lexicon, compile_lexicons
    from reasonlens.lexicon import count as count_mod
    from reasonlens.traces import iter_trace_batches
    from score_bench import real_input

    chunks, size = [], 0
    for batch in iter_trace_batches(str(real_input(100))):
        chunks.append(batch["reasoning"].fill_null(""))
        size += int(chunks[-1].str.len_bytes().sum())
        if size >= args.mb * 1e6:
            break
    texts = pl.concat(chunks).rechunk()
    mb = size / 1e6
    vocab = sorted({w.lower() for t in texts.head(3000).to_list() for w in t.split()
                    if w.isascii() and w.isalnum()})
    rng = random.Random(4)
    low, raw = texts.str.to_lowercase().to_list(), [t.encode() for t in texts.to_list()]
    print(f"{mb:.1f} MB of reasoning text, a vocabulary of {len(vocab)} words")
    for n in (int(x) for x in args.sizes.split(",")):
        terms = set(rng.sample(vocab, min(n // 2, len(vocab) - 1)))
        while len(terms) < n:
            a, b = rng.sample(vocab, 2)
            terms.add(f"{a} {b}")
        matcher = compile_lexicons([Lexicon.from_terms("big", sorted(terms))])
        rates, hits = {}, {}
        for use_kernel in (True, False) if n <= args.regex_max else (True,):
            count_mod.USE_KERNEL = use_kernel
            name = count_mod.counting_engine(matcher)
            try:
                count_mod.fast_count(texts.head(20), matcher, words=True)   # compile
                t0 = time.perf_counter()
                long, _ = count_mod.fast_count(texts, matcher, words=True)
                rates[name] = mb / (time.perf_counter() - t0)
                hits[name] = int(long["count"].sum())
            except ConfigError as exc:
                rates[name], hits[name] = None, str(exc).split(";")[0]
        count_mod.USE_KERNEL = True
        kern = count_mod._kernel(matcher)
        tables = sum(a.nbytes for a in (kern.ekeys, kern.evals, kern.term, kern.tkeys)) / 1e6
        if "regex" not in rates:
            regex = f"not run (over --regex-max {args.regex_max} terms)"
        elif rates["regex"] is None:
            regex = f"fails: {hits['regex']}"
        else:
            regex = (f"{rates['regex']:.2f} MB/s (the baseline); ratio kernel / regex "
                     f"{rates['kernel'] / rates['regex']:.1f}")
        same = "same hits" if hits["kernel"] == hits.get("regex") else "hits not compared"
        print(f"{n} terms: kernel {rates['kernel']:.0f} MB/s ({hits['kernel']} hits, tables "
              f"{tables:.2f} MB); regex path {regex}; {same}")
        for name, (rate, found, setup) in automata(low, raw, sorted(terms), mb).items():
            print(f"    {name}: {rate:.1f} MB/s ({found} matches, built in {setup:.1f} s); "
                  f"ratio kernel / it {rates['kernel'] / rate:.1f}", flush=True)


def automata(low: list[str], raw: list[bytes], terms: list[str], mb: float
             ) -> dict[str, tuple[float, int, float]]:
    """name -> (MB/s, matches, seconds to build) for the multi-pattern engines installed (see
    the module's docstring) over the texts lower-cased (``low``) and as UTF-8 (``raw``); an
    engine that is not installed is left out, once said so."""
    import re

    out = {}
    try:
        import ahocorasick_rs as ac_mod
    except ImportError:
        _missing("ahocorasick_rs")
    else:
        t0 = time.perf_counter()
        ac = ac_mod.AhoCorasick(terms, matchkind=ac_mod.MatchKind.LeftmostLongest)
        built = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = sum(len(ac.find_matches_as_indexes(t)) for t in low)
        out["Aho-Corasick (ahocorasick_rs), no boundaries"] = (
            mb / (time.perf_counter() - t0), found, built)
    try:
        import hyperscan as hs
    except ImportError:
        _missing("hyperscan")
    else:
        t0 = time.perf_counter()
        db = hs.Database(mode=hs.HS_MODE_VECTORED)
        db.compile(expressions=[rb"\b" + re.escape(t).encode() + rb"\b" for t in terms],
                   ids=list(range(len(terms))), elements=len(terms),
                   flags=[hs.HS_FLAG_CASELESS] * len(terms))
        built = time.perf_counter() - t0
        found = [0]

        def on_match(_id, _start, _end, _flags, _ctx) -> None:
            found[0] += 1

        t0 = time.perf_counter()
        for j in range(0, len(raw), 500):
            db.scan(raw[j:j + 500], match_event_handler=on_match)
        out["Hyperscan, \\b boundaries"] = (mb / (time.perf_counter() - t0), found[0], built)
    return out


_SAID: set[str] = set()


def _missing(module: str) -> None:
    if module not in _SAID:
        _SAID.add(module)
        print(f"    ({module} is not installed: not compared)")


if __name__ == "__main__":
    main()
