"""The compiled counting kernel counts exactly what the regex and numpy path counts: the same
long counts (rows, categories, terms, counts, in order) and word totals, on real R1 traces and
MATH-500 texts, on generated texts built from the pieces where the matching rules bite
(compounds, phrases over any whitespace, apostrophes, LaTeX, other scripts, nulls), through
any cut into units and threads, and when its output or run buffers must grow; the same for its
portable 8-byte code (what CPUs without SSE2, ARM among them, run), built here too."""

from __future__ import annotations

import ctypes
import json
import os
import random
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from reasonlens.lexicon import Lexicon, compile_lexicons, count_long
from reasonlens.lexicon import count as count_mod
from reasonlens.lexicon import kernel
from reasonlens.lexicon.count import fast_count

ALL = ("anthropomorphic", "connectors", "math", "reflection")
# terms where the rules bite: a compound term and its parts, a phrase and its prefix, phrases
# with apostrophes and hyphens, one-character terms, LaTeX names (a prefix of another, two
# cases, longer than 10 letters)
TRICKY = ["check", "double-check", "double", "let me", "let me know", "me", "so", "so-called",
          "i'm", "i'm not sure", "a-b c'd", "wait", "well-known", "x", "1", "k", "s", "let's",
          "rock'n'roll", "no wait", "2x", "\\frac", "\\cdot", "\\cdots", "\\Frac",
          "\\abcdefghijklmnop", "\\a"]
PIECES = (["check", "Double", "double", "let", "me", "know", "so", "called", "i", "m", "not",
           "sure", "a", "b", "c", "d", "wait", "WAIT", "well", "known", "x", "1", "k", "s",
           "rock", "n", "roll", "no", "2x", "frac", "Frac", "cdot", "cdots", "a", "é", "所以",
           "résumé", "𝑥", "😀", "_", "12", "abcdefghijklmnop", "ſ", "K"]
          + [" ", " ", " ", "  ", "\n", "\t", "\u00a0", "\u2003", "\u3000", "-", "-", "‐", "‑",
             "'", "’", "\\", "\\", "{", "}", ".", ",", "$", "—", "\u0301", "''", "--"])
EDGE = [None, "", "double-check", "double-check-in", "so-called wait", "let me know me",
        "let  \n me", "let\u00a0me", "i’m not\tsure", "I'm", "a-b c'd", "a‐b c’d",
        "\\frac12 \\cdots \\cdot \\Frac \\frac", "\\\\frac", "\\sum-so", "résumé so",
        "所以wait我们", "wait所以", "𝑥wait 𝑥 wait", "well-known-ish", "x-x x_x x", "rock'n'roll!",
        "no wait", "no  wait-so", "’wait’", "wait'", "'wait", "2x 2 x", "k s K S", "let'ſ",
        "\\abcdefghijklmnop \\abcdefghijklmnopq", "a" * 5000 + " wait", "wait " * 3000]


@pytest.fixture(autouse=True)
def _kernel_built():
    if os.environ.get(kernel.ENV) == "0":
        pytest.skip("the compiled kernel is switched off (REASONLENS_KERNEL=0)")
    assert kernel.available(), ("the compiled kernel (reasonlens/lexicon/_kernel.c) was not "
                                "built: reinstall with a C compiler (pip install -e .)")


def _both(texts: pl.Series, m, monkeypatch, **kw):
    """fast_count through the kernel, then through the regex and numpy path."""
    assert count_mod._kernel(m) is not None
    with_kernel = fast_count(texts, m, words=True, **kw)
    monkeypatch.setattr(count_mod, "USE_KERNEL", False)
    assert count_mod._kernel(m) is None
    regex = fast_count(texts, m, words=True, **kw)
    monkeypatch.setattr(count_mod, "USE_KERNEL", True)
    return with_kernel, regex


def _assert_same(texts: pl.Series, m, monkeypatch, **kw) -> pl.DataFrame:
    (long, words), (ref, ref_words) = _both(texts, m, monkeypatch, **kw)
    assert long.equals(ref), long.join(ref, on=["row", "category", "term"], how="full").filter(
        pl.col("count") != pl.col("count_right"))
    assert words.equals(ref_words)
    return long


def _generated(seed: int, n: int) -> pl.Series:
    rng = random.Random(seed)
    return pl.Series([None if rng.random() < 0.05 else
                      "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))
                      for _ in range(n)], dtype=pl.String)


def _real(shared: Path) -> pl.Series:
    texts: list[str | None] = []
    for f in sorted((shared / "schoenfeld-dev").glob("*.json")):
        texts.append(" ".join(s["text"] for s in json.loads(f.read_text())["data"]))
    for line in open(shared / "simplerl-eval" / "math500" / "test.jsonl", encoding="utf-8"):
        d = json.loads(line)
        texts += [d["problem"], d["solution"]]
    return pl.Series(texts, dtype=pl.String)


def test_real_traces_count_the_same(shared_data, monkeypatch):
    texts = _real(shared_data)
    for lexicons in (ALL, [Lexicon.from_terms("t", TRICKY)]):
        long = _assert_same(texts, compile_lexicons(lexicons), monkeypatch)
        assert long["count"].sum() > 3000
    assert texts.str.len_bytes().sum() > 400_000


@pytest.mark.parametrize("seed", range(6))
def test_generated_texts_count_the_same(seed, monkeypatch):
    texts = pl.concat([_generated(seed, 2500), pl.Series(EDGE, dtype=pl.String)])
    m = compile_lexicons([Lexicon.from_terms("t", TRICKY), Lexicon.from_terms("u", ["wait",
                                                                                   "so"])])
    long = _assert_same(texts, m, monkeypatch)
    counted = set(long["term"].unique().to_list())
    for term in ("double-check", "let me know", "i'm not sure", "a-b c'd", "so-called",
                 "\\cdots", "\\abcdefghijklmnop", "rock'n'roll", "k", "1"):
        assert term in counted, term
    _assert_same(texts, compile_lexicons(ALL), monkeypatch)


def _shifted_texts() -> pl.Series:
    """Long generated texts, each shifted by 0 .. 63 bytes against the kernel's 64-byte blocks."""
    rng = random.Random(7)
    base = ["".join(rng.choice(PIECES) for _ in range(rng.randint(40, 400))) for _ in range(40)]
    return pl.Series([" " * k + t for k in range(64) for t in base[k % 40: k % 40 + 3]])


def test_long_texts_at_every_offset_against_the_64_byte_blocks(monkeypatch):
    """The kernel classifies a text's bytes 64 at a time: long generated texts, each shifted by
    0 .. 63 bytes against the blocks, count the same as the regex path (runs, separators and
    characters of other scripts straddling a block's edge; terms standing alone and not)."""
    texts = _shifted_texts()
    m = compile_lexicons([Lexicon.from_terms("t", TRICKY)])
    long = _assert_same(texts, m, monkeypatch)
    assert long["count"].sum() > 1000 and texts.str.len_bytes().min() > 64


@pytest.fixture(scope="module")
def scalar_library(tmp_path_factory):
    """_kernel.c built with -DRL_NO_SIMD: the 8-byte code that CPUs other than x86-64 run."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the kernel's portable code with")
    src = Path(kernel.__file__).with_name("_kernel.c")
    if not src.exists():
        pytest.skip(f"{src} is not installed beside kernel.py (a wheel install)")
    out = tmp_path_factory.mktemp("scalar") / "_kernel_scalar.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-DRL_NO_SIMD",
                    f"-I{sysconfig.get_paths()['include']}", str(src), "-o", str(out)],
                   check=True, capture_output=True)
    lib = kernel.load_library(str(out))
    assert lib is not None
    lib.rl_simd.restype = ctypes.c_int64
    assert lib.rl_simd() == 0
    return lib


def test_the_portable_code_counts_the_same(scalar_library, shared_data, monkeypatch):
    """The 8-byte code (no SSE2; not what x86-64 runs) against the regex path: generated and
    edge texts, long texts at every offset against the 64-byte blocks, real traces."""
    installed = kernel._library()
    installed.rl_simd.restype = ctypes.c_int64
    if os.uname().machine in ("x86_64", "AMD64"):
        assert installed.rl_simd() == 1   # so the tests above checked the SSE2 code
    monkeypatch.setattr(kernel, "_library", lambda: scalar_library)
    shifted = _shifted_texts()
    tricky = compile_lexicons([Lexicon.from_terms("t", TRICKY)])
    for texts in (pl.concat([_generated(3, 2500), pl.Series(EDGE, dtype=pl.String)]), shifted):
        assert _assert_same(texts, tricky, monkeypatch)["count"].sum() > 1000
    real = _real(shared_data)
    assert _assert_same(real, compile_lexicons(ALL), monkeypatch)["count"].sum() > 3000


def test_units_and_threads_count_the_same(monkeypatch):
    texts = pl.concat([_generated(11, 3000), pl.Series(EDGE, dtype=pl.String)])
    m = compile_lexicons([Lexicon.from_terms("t", TRICKY)])
    one = fast_count(texts, m, words=True, threads=1)
    for unit_bytes, threads in ((1 << 40, 2), (5_000, 2), (777, 3)):
        monkeypatch.setattr(count_mod, "UNIT_BYTES", unit_bytes)
        long = _assert_same(texts, m, monkeypatch, threads=threads)
        words = fast_count(texts, m, words=True, threads=threads)[1]
        assert long.equals(one[0]) and words.equals(one[1]), (unit_bytes, threads)
    monkeypatch.setattr(count_mod, "UNIT_BYTES", 1)          # a text per unit
    head = texts.head(300)
    long = _assert_same(head, m, monkeypatch, threads=2)
    assert long.equals(one[0].filter(pl.col("row") < 300))


def test_edge_cases_count_what_the_rules_say():
    m = compile_lexicons([Lexicon.from_terms("t", TRICKY)])
    got = {(r, t): c for r, _, t, c in count_long(pl.Series(EDGE), m, "fast").rows()}
    assert got[(2, "double-check")] == 1 and (2, "double") not in got and (2, "check") not in got
    assert (3, "double-check") not in got                    # double-check-in: a compound
    assert (4, "so-called") in got and (4, "so") not in got and got[(4, "wait")] == 1
    assert got[(5, "let me know")] == 1 and got[(5, "me")] == 1 and (5, "let me") not in got
    assert got[(6, "let me")] == 1 and got[(7, "let me")] == 1   # newlines, no-break space
    assert got[(8, "i'm not sure")] == 1 and got[(9, "i'm")] == 1
    assert got[(10, "a-b c'd")] == 1 and got[(11, "a-b c'd")] == 1  # Unicode hyphen, ’
    assert got[(12, "\\frac")] == 2 and got[(12, "\\cdots")] == 1 and got[(12, "\\cdot")] == 1
    assert got[(12, "\\Frac")] == 1 and got[(13, "\\frac")] == 1
    assert (14, "so") not in got                              # \sum-so: in a LaTeX compound
    assert got[(15, "so")] == 1 and (16, "wait") not in got and (17, "wait") not in got
    assert got[(18, "wait")] == 1                             # 𝑥wait: a word of 𝑥-script
    assert (29, "let's") not in got                           # ſ is a letter, not s
    assert got[(30, "\\abcdefghijklmnop")] == 1
    assert got[(31, "wait")] == 1 and got[(32, "wait")] == 3000


def test_buffers_grow_when_a_batch_has_many_hits_or_runs(monkeypatch):
    """More distinct hits than the first output buffer holds (it doubles), texts of 10^5 runs
    (the run buffer grows), and a letter beyond U+FFFF (its table is built on demand)."""
    terms = [f"t{i}" for i in range(400)]
    m = compile_lexicons([Lexicon.from_terms("t", terms)])
    texts = pl.Series([" ".join(terms)] * 30 + ["x " * 100_000 + "t1"] + ["𝑥 t2"],
                      dtype=pl.String)
    long = _assert_same(texts, m, monkeypatch, threads=1)
    assert len(long) == 30 * 400 + 2


def test_a_lexicon_the_kernel_cannot_take_uses_the_regex_path(monkeypatch):
    m = compile_lexicons([Lexicon.from_terms("n", ["naïve", "wait"])])
    assert count_mod._kernel(m) is None
    long = count_long(pl.Series(["a naïve wait", "naive"]), m, "fast")
    assert long.select("row", "term", "count").rows() == [(0, "naïve", 1), (0, "wait", 1)]
    assert kernel.split_term("naïve") is None and kernel.split_term("a  b") is None
    assert kernel.split_term("Let's go-on") == [(0, "let"), (1, "s"), (0, "go"), (2, "on")]


def test_kernel_run_direct_call():
    k = kernel.Kernel({"wait": 0, "let me": 1}, {"frac": 2})
    texts = pl.Series(["Wait, let me \\frac{1}{2} wait", "", "let\nme"])
    words, rows, tids, counts = k.run(texts, 3)
    assert words.tolist() == [6, 0, 2]           # \frac is not a word
    assert list(zip(rows.tolist(), tids.tolist(), counts.tolist())) == [
        (0, 0, 2), (0, 1, 1), (0, 2, 1), (2, 1, 1)]
    # the hit arrays are reused from call to call (per thread): what a call returned is its own
    small = k.run(pl.Series(["let me \\frac", "wait " * 9]), 3)      # the same arrays again
    large = k.run(pl.Series(["let me"] * 2000 + ["wait " * 9]), 3)     # grown ones
    assert list(zip(rows.tolist(), tids.tolist(), counts.tolist())) == [
        (0, 0, 2), (0, 1, 1), (0, 2, 1), (2, 1, 1)]
    assert list(zip(*(a.tolist() for a in small[1:]))) == [(0, 1, 1), (0, 2, 1), (1, 0, 9)]
    assert large[1].tolist() == list(range(2001)) and large[3].tolist() == [1] * 2000 + [9]


def test_tokens_of_every_length_up_to_24_bytes_and_longer_ones(monkeypatch):
    """Tokens of 1 to 24 bytes (the run read as three words, masked and lower-cased), their
    prefixes and extensions, upper case, '_' and digits inside, and a token as the last bytes
    of the buffer; a token of 25 bytes sends the lexicon to the regex path."""
    alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
    terms = [alpha[:n] for n in (1, 7, 8, 9, 15, 16, 17, 23, 24)] + ["q" * 24 + " z"]
    m = compile_lexicons([Lexicon.from_terms("t", terms)])
    rng = random.Random(2)
    words = [t[:k] for t in terms for k in (len(t) - 1, len(t), len(t) + 1)] + \
        [alpha[:24].upper(), alpha[:8] + "_", "_" + alpha[:8], alpha[:9] + "é", "q" * 24]
    texts = pl.Series([" ".join(rng.choice(words) for _ in range(rng.randint(0, 12)))
                       for _ in range(2000)] + [alpha[:24], alpha[:1]], dtype=pl.String)
    long = _assert_same(texts, m, monkeypatch)
    assert set(long["term"].to_list()) == set(terms)
    assert long.filter(pl.col("row") == len(texts) - 1)["term"].to_list() == ["a"]
    too_long = compile_lexicons([Lexicon.from_terms("t", ["wait", alpha[:25]])])
    assert count_mod._kernel(too_long) is None


def test_a_lexicon_of_thousands_of_terms(shared_data, monkeypatch):
    """3,000 terms (words of the real traces, two- and three-word phrases, compounds): the
    same counts, and tables that grow with the terms (the trie's edges are hashed, not a row
    of every token per state)."""
    texts = _real(shared_data)
    vocab = sorted({w.lower() for t in texts.to_list()
                    for w in t.split() if w.isascii() and w.isalnum()})
    assert len(vocab) > 2000
    rng = random.Random(4)
    terms = set(rng.sample(vocab, 1200))
    while len(terms) < 3000:
        a, b, c = rng.sample(vocab, 3)
        terms.add(rng.choice([f"{a} {b}", f"{a}-{b}", f"{a} {b} {c}", f"{a}'{b}"]))
    m = compile_lexicons([Lexicon.from_terms("big", sorted(terms))])
    long = _assert_same(texts, m, monkeypatch)
    assert long["count"].sum() > 20_000 and long["term"].n_unique() > 500
    k = count_mod._kernel(m)
    assert k.ekeys.nbytes + k.evals.nbytes + k.term.nbytes < 1_000_000


def test_a_lexicon_too_big_for_the_regex_path_is_a_clean_error_there(monkeypatch):
    """8,000 two-word phrases pass polars' regex size limit: the kernel counts them, the regex
    path says so in one line instead of a polars traceback."""
    import string

    from reasonlens.errors import ConfigError

    rng = random.Random(1)

    def word() -> str:
        return "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 12)))

    terms = sorted({f"{word()} {word()}" for _ in range(8000)})
    m = compile_lexicons([Lexicon.from_terms("big", terms)])
    texts = pl.Series([f"so {terms[7]}, and {terms[7].replace(' ', chr(10))}-y", "nothing"])
    long = count_long(texts, m, "fast")
    assert long.select("row", "term", "count").rows() == [(0, terms[7], 1)]
    monkeypatch.setattr(count_mod, "USE_KERNEL", False)
    with pytest.raises(ConfigError, match="too many for the regex path"):
        count_long(texts, m, "fast")


def test_text_spans_read_the_strings_in_place():
    """The kernel's view of a column: address and length of each text inside polars' own
    string views (inline up to 12 bytes, in data buffers beyond), for slices, several chunks,
    nulls and empty texts, and for a column made from Arrow large strings; the bytes at the
    addresses are the texts' UTF-8 bytes."""
    import ctypes

    import pyarrow as pa

    base = ["", "short", "exactly12byt", "thirteen byte", "é" * 30, None, "x" * 5000, "𝑥 wait"]
    long = pl.concat([pl.Series(base), pl.Series(base[::-1])], rechunk=False)
    cases = [long, long.slice(3, 9), long.rechunk().slice(5, 6),
             pl.from_arrow(pa.array(base, pa.large_string()))]
    for s in cases:
        ptr, size, alive = kernel.text_spans(s)
        got = [ctypes.string_at(int(p), int(n)).decode() for p, n in zip(ptr, size)]
        assert got == [t or "" for t in s.to_list()]
    assert kernel.text_spans(pl.Series([], dtype=pl.String))[0].shape == (0,)


def test_letters_beyond_the_bmp_load_their_table_mid_scan():
    """The table of letters beyond U+FFFF is loaded when the scan first meets such a character
    (the scan stops there, the text's partial counts are dropped, and it goes on from that
    text): the same words and hits as a kernel that had it from the start, whichever text
    holds the first such character, with terms and LaTeX before it in the same text."""
    terms = {"wait": 0, "let me": 1}
    texts = pl.Series(["wait, let me see", "Wait \\frac wait 𝑥wait 𝑥 wait let me",
                       "so wait", "😀 wait", None, "wait𝐀wait"])
    for start in range(len(texts)):
        part = texts.slice(start)
        lazy, eager = kernel.Kernel(terms, {"frac": 2}), kernel.Kernel(terms, {"frac": 2})
        eager._need_astral()
        got, want = lazy.run(part, 3), eager.run(part, 3)
        assert all(np.array_equal(g, w) for g, w in zip(got, want)), start
        assert (lazy._astral is not None) == any("𝑥" in t or "😀" in t or "𝐀" in t
                                                  for t in part.drop_nulls().to_list())
    words = eager.run(texts, 3)[0]
    assert words.tolist() == [4, 7, 2, 1, 0, 1]   # 𝑥, 𝐀 letters (𝑥wait: one), 😀 not


def test_the_cuckoo_table_holds_every_short_token_at_one_of_its_two_slots():
    import random

    from reasonlens.lexicon.kernel import _slot, _words, short_tokens

    rng = random.Random(7)
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    for n in (0, 1, 142, 3000):
        toks = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
                for _ in range(n)}
        keys = {_words(t)[0]: i for i, t in enumerate(sorted(toks))}
        skeys, sids, m1, m2, shift = short_tokens(keys)
        assert len(skeys) >= 4 * len(keys) and (skeys != 0).sum() == len(keys)
        for key, tid in keys.items():
            at = [a for a in (_slot(key, m1, shift), _slot(key, m2, shift)) if skeys[a] == key]
            assert at and sids[at[0]] == tid
        assert short_tokens(keys)[2:] == (m1, m2, shift)   # the same table every time
