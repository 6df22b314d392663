"""Sentence features of the offline detector, computed column-wise with polars (no Python loop
per sentence), so the detector runs at tens of MB/s of trace text.

For sentence i of a trace the feature vector holds, as binary sparse columns:

- ``w:`` word unigrams and bigrams of the normalised sentence (lower-cased, numbers -> 0) from a
  vocabulary fixed at training time;
- ``c:`` cue groups (:data:`CUE_GROUPS`: our hand-written patterns, e.g. "alternatively",
  "let me check", "wait");
- ``p:`` / ``n:`` the cue groups and words of the previous and the next sentence (context);
- ``pos:`` the relative position of the sentence in its trace (10 bins), ``len:`` its length
  (bins), ``math:`` the share of its characters that are digits or symbols (bins).

Cue patterns are Rust regexes (polars), so they have no look-around.
"""

from __future__ import annotations

import numpy as np
import polars as pl

# Each group: one regex over the lower-cased sentence. The offline detector's own cue patterns
# (redistributable; written by the maintainers), designed from its errors on real R1 traces.
CUE_GROUPS: dict[str, str] = {
    "alternative": r"\balternative(?:ly)?\b|\b(?:another|other|different|second|cleaner|simpler|"
                   r"easier|better|faster) (?:way|approach|method|perspective|angle|route|"
                   r"strategy|idea|interpretation)\b",
    "maybe": r"\b(?:maybe|perhaps|what if|suppose|or maybe|or perhaps|could it be|might be)\b",
    "instead": r"\binstead\b|\brather than\b|\bon second thought\b|\bor (?:is it|does|do|should|"
               r"could)\b",
    "try": r"\b(?:let me|let's|lets|i'll|i will|i could|we could|i can) (?:also |just )?"
           r"(?:try|consider|think about|approach|look at)\b",
    "wait": r"\b(?:wait|hold on|hmm+|oh|ah|oops|whoa)\b",
    "check": r"\b(?:let me|let's|lets|i should|i need to|i'll|to|just to|i want to) (?:also )?"
             r"(?:quickly |just )?(?:double[- ]?check|check|verify|confirm|re-?check|re-?read|"
             r"sanity[- ]check|make sure|be sure|be safe|cross-?check|recap|recall)\b",
    "verify_word": r"\b(?:verif\w*|double[- ]check\w*|check(?:s|ed|ing)?|confirm\w*|correct|"
                   r"incorrect|consistent|matches|match|agrees?|same (?:answer|result)|"
                   r"checks out|holds|valid|plug(?:ging)? (?:it |this |that )?(?:back|in))\b",
    "yes": r"^\W*(?:yes|yep|yeah|yup|right|correct|good|great|perfect|exactly|okay|ok|alright|"
           r"all right|indeed)\b",
    "doubt": r"\b(?:not sure|unsure|i think i|did i|am i|have i|is that right|is this right|"
             r"does that make sense|makes sense|seems (?:right|off|wrong|reasonable|too|like)|"
             r"that can'?t be|doesn'?t make sense|mistake|miscalculat\w*|confus\w*|wrong|"
             r"messed up|forgot|overcomplicat\w*|tricky|careful)\b",
    "monitor": r"^\W*(?:let me see|let me think|let's see|so,? let me|okay,? so|alright,? so|"
               r"now,? let me|i think|i guess|so,? i think|hmm|so)\b|\bmake sense\b",
    "recap": r"\b(?:so (?:the answer|that|it) (?:is|must|should)|therefore|thus|hence|"
             r"final answer|the answer is|that's the answer|so yes)\b",
    "question": r"\?\s*$",
    "plan": r"\b(?:first|next|now|then),? (?:i|we|let me|let's)\b|\b(?:i need to|we need to|"
            r"let me|let's) (?:find|compute|calculate|figure|solve|write|set|use|express|"
            r"determine|simplify)\b",
    "read": r"\b(?:the problem|the question|given that|we are given|it says|it asks|the "
            r"options|the choices|answer choices)\b",
}
_WORD = r"[a-z]+|0|[?!]"
POS_BINS = 10


def normalise_expr(col: str = "text") -> pl.Expr:
    return (pl.col(col).str.to_lowercase().str.replace_all(r"\d+(?:\.\d+)?", "0")
            .str.replace_all(r"\s+", " "))


def _tokens(texts: pl.Series, *, normalised: bool = False) -> pl.DataFrame:
    """(row, tok) for every word token, in text order."""
    t = pl.col("t") if normalised else normalise_expr("t")
    df = pl.DataFrame({"t": texts}).with_row_index("row").select(
        pl.col("row").cast(pl.Int64), t.str.extract_all(_WORD).alias("tok"))
    return df.explode("tok").drop_nulls("tok")


def _bigrams(tok: pl.DataFrame, col: str) -> pl.DataFrame:
    """(row, a, b) for consecutive tokens of one row (``col`` names the token column)."""
    return (tok.with_columns(pl.col(col).shift(-1).alias("_b"),
                             pl.col("row").shift(-1).alias("_r"))
            .filter(pl.col("_r") == pl.col("row")).select("row", pl.col(col).alias("a"),
                                                          pl.col("_b").alias("b")))


def build_vocab(texts: pl.Series, min_df: int = 2, max_terms: int = 20000) -> list[str]:
    """Unigrams and bigrams in at least ``min_df`` texts (most frequent first, at most
    ``max_terms``); a bigram is kept only when both its words are in the vocabulary (so it can
    be looked up from their ids)."""
    tok = _tokens(texts)
    bi = _bigrams(tok, "tok").select("row", (pl.col("a") + " " + pl.col("b")).alias("tok"))
    t = pl.concat([tok, bi]).unique()
    df = t.group_by("tok").len().filter(pl.col("len") >= min_df).sort(
        ["len", "tok"], descending=[True, False]).head(max_terms)
    terms = df.get_column("tok").to_list()
    uni = {x for x in terms if " " not in x}
    return [x for x in terms if " " not in x or all(w in uni for w in x.split(" "))]


def term_hits(texts: pl.Series, vocab: list[str], *, normalised: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """Unique (row, vocabulary column) pairs: the vocabulary terms present in each text."""
    uni = [(i, v) for i, v in enumerate(vocab) if " " not in v]
    ids = {v: i for i, v in uni}
    tok = _tokens(texts, normalised=normalised).with_columns(
        uid=pl.col("tok").replace_strict(ids, default=None, return_dtype=pl.Int64))
    U = len(vocab) + 1
    bkey = {ids[a] * U + ids[b]: i for i, (a, b) in
            ((i, v.split(" ")) for i, v in enumerate(vocab) if " " in v)}
    bi = (_bigrams(tok.select("row", "uid"), "uid").drop_nulls()
          .select("row", (pl.col("a") * U + pl.col("b")).replace_strict(
              bkey, default=None, return_dtype=pl.Int64).alias("col")).drop_nulls())
    W = len(vocab)
    key = pl.concat([tok.select("row", pl.col("uid").alias("col")).drop_nulls(), bi]).select(
        (pl.col("row") * W + pl.col("col")).alias("k")).get_column("k").unique()
    k = key.to_numpy()
    return k // W, k % W


def cue_matrix(texts: pl.Series, *, normalised: bool = False) -> np.ndarray:
    """(n, C) booleans: which cue groups match each text."""
    t = pl.col("t") if normalised else normalise_expr("t")
    low = pl.DataFrame({"t": texts}).select(t.alias("t"))
    return low.select([pl.col("t").str.contains(rx).alias(k) for k, rx in CUE_GROUPS.items()]
                      ).to_numpy().astype(bool)


def normalised(texts: pl.Series) -> pl.Series:
    return pl.DataFrame({"t": texts}).select(normalise_expr("t")).to_series()


def feature_names(vocab: list[str]) -> list[str]:
    cues = list(CUE_GROUPS)
    names = [f"w:{v}" for v in vocab] + [f"c:{c}" for c in cues]
    names += [f"p:{c}" for c in cues] + [f"n:{c}" for c in cues]
    names += [f"pw:{v}" for v in vocab] + [f"nw:{v}" for v in vocab]
    names += [f"pos:{k}" for k in range(POS_BINS)] + ["pos:first", "pos:last"]
    names += [f"len:{k}" for k in range(5)] + [f"math:{k}" for k in range(4)]
    return names


def _bins(x: np.ndarray, edges: list[float]) -> np.ndarray:
    return np.searchsorted(np.asarray(edges), x, side="right")


def _neighbours(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n = len(group)
    same_prev = np.zeros(n, bool)
    same_prev[1:] = group[1:] == group[:-1]
    same_next = np.zeros(n, bool)
    same_next[:-1] = group[:-1] == group[1:]
    return same_prev, same_next


def shape_columns(text: pl.Series, group: np.ndarray) -> np.ndarray:
    """(n, 3) column offsets (relative to the position block) of each sentence's position bin,
    length bin and math-share bin, plus first/last flags as extra columns (-1 when absent)."""
    n = len(group)
    same_prev, same_next = _neighbours(group)
    idx = np.arange(n)
    trace_start = np.maximum.accumulate(np.where(~same_prev, idx, 0))
    starts, ends = np.where(~same_prev)[0], np.where(~same_next)[0]
    trace_len = np.repeat(ends - starts + 1, ends - starts + 1)
    rel = (idx - trace_start) / np.maximum(trace_len - 1, 1)
    pos = np.minimum((rel * POS_BINS).astype(np.int64), POS_BINS - 1)
    lengths = text.str.len_chars().to_numpy()
    sym = text.str.count_matches(r"[0-9=+\-*/^\\{}()<>]").to_numpy()
    share = sym / np.maximum(lengths, 1)
    return np.stack([pos, np.where(~same_prev, POS_BINS, -1), np.where(~same_next, POS_BINS + 1,
                                                                        -1),
                     POS_BINS + 2 + _bins(lengths, [30, 60, 120, 240]),
                     POS_BINS + 7 + _bins(share, [0.05, 0.15, 0.3])], axis=1)


def featurise(sentences: pl.DataFrame, vocab: list[str]):
    """Sparse binary features (scipy CSR, one row per sentence, columns :func:`feature_names`)
    for a frame with ``group`` (trace key; rows of one trace contiguous and in order) and
    ``text``."""
    from scipy import sparse

    n, V, C = sentences.height, len(vocab), len(CUE_GROUPS)
    width = len(feature_names(vocab))
    if n == 0:
        return sparse.csr_matrix((0, width), dtype=np.float32)
    text = sentences.get_column("text").fill_null("")
    group = sentences.get_column("group").to_numpy()
    same_prev, same_next = _neighbours(group)
    rows_l, cols_l = [], []

    def add(r: np.ndarray, c: np.ndarray, own: int, prev_off: int, next_off: int):
        """Feature c of sentence r at ``own + c``; seen by the next sentence at ``prev_off + c``
        (its previous-sentence context) and by the previous one at ``next_off + c``."""
        rows_l.append(r)
        cols_l.append(c + own)
        m = same_next[r]
        rows_l.append(r[m] + 1)
        cols_l.append(c[m] + prev_off)
        m = same_prev[r]
        rows_l.append(r[m] - 1)
        cols_l.append(c[m] + next_off)

    r, c = term_hits(text, vocab)
    add(r.astype(np.int64), c.astype(np.int64), 0, V + 3 * C, 2 * V + 3 * C)
    r, c = np.nonzero(cue_matrix(text))
    add(r.astype(np.int64), c.astype(np.int64), V, V + C, V + 2 * C)
    shape = shape_columns(text, group)
    base = 3 * V + 3 * C
    for k in range(shape.shape[1]):
        m = shape[:, k] >= 0
        rows_l.append(np.flatnonzero(m))
        cols_l.append(base + shape[m, k])
    rows, cols = np.concatenate(rows_l), np.concatenate(cols_l)
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n, width))
    m.data[:] = 1.0  # binary (duplicates were summed)
    return m


def linear_scores(sentences: pl.DataFrame, vocab: list[str], coef: np.ndarray,
                  intercept: np.ndarray) -> np.ndarray:
    """``featurise(sentences, vocab) @ coef.T + intercept`` without building the matrix: each
    sentence's own word and cue weights are summed once, and a sentence's context terms are its
    neighbours' sums under the context weights. Same numbers, a fraction of the memory."""
    n, V, C = sentences.height, len(vocab), len(CUE_GROUPS)
    k = coef.shape[0]
    if n == 0:
        return np.zeros((0, k))
    text = sentences.get_column("text").fill_null("")
    group = sentences.get_column("group").to_numpy()
    same_prev, same_next = _neighbours(group)
    norm = normalised(text)
    r, c = term_hits(norm, vocab, normalised=True)
    cues = cue_matrix(norm, normalised=True).astype(np.float64)
    shape = shape_columns(text, group)
    base = 3 * V + 3 * C
    z = np.tile(np.asarray(intercept, np.float64), (n, 1))
    for j in range(k):
        w = coef[j]
        own = np.bincount(r, weights=w[c], minlength=n) + cues @ w[V:V + C]
        prev_ctx = np.bincount(r, weights=w[V + 3 * C + c], minlength=n) + cues @ w[V + C:
                                                                                   V + 2 * C]
        next_ctx = np.bincount(r, weights=w[2 * V + 3 * C + c], minlength=n) + cues @ w[
            V + 2 * C:V + 3 * C]
        zj = own
        zj[1:] += np.where(same_prev[1:], prev_ctx[:-1], 0.0)   # the previous sentence's terms
        zj[:-1] += np.where(same_next[:-1], next_ctx[1:], 0.0)  # the next sentence's terms
        for q in range(shape.shape[1]):
            m = shape[:, q] >= 0
            zj[m] += w[base + shape[m, q]]
        z[:, j] += zj
    return z
