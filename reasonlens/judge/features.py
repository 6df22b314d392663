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


def tokens(texts: pl.Series) -> pl.DataFrame:
    """(row, term) pairs: unigrams and bigrams of every text (duplicates kept)."""
    df = pl.DataFrame({"t": texts}).with_row_index("row").select(
        "row", normalise_expr("t").str.extract_all(_WORD).alias("tok"))
    ex = df.explode("tok").drop_nulls("tok")
    uni = ex.select("row", pl.col("tok").alias("term"))
    bi = (ex.with_columns(pl.col("tok").shift(-1).alias("nxt"), pl.col("row").shift(-1)
                          .alias("nrow"))
          .filter(pl.col("nrow") == pl.col("row"))
          .select("row", (pl.col("tok") + " " + pl.col("nxt")).alias("term")))
    return pl.concat([uni, bi])


def build_vocab(texts: pl.Series, min_df: int = 2, max_terms: int = 20000) -> list[str]:
    """Terms in at least ``min_df`` texts (most frequent first, at most ``max_terms``)."""
    t = tokens(texts).unique()
    df = t.group_by("term").len().filter(pl.col("len") >= min_df).sort(["len", "term"],
                                                                      descending=[True, False])
    return df.head(max_terms).get_column("term").to_list()


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


def featurise(sentences: pl.DataFrame, vocab: list[str]):
    """Sparse binary features (scipy CSR, one row per sentence) for a frame with ``group``
    (trace key, rows of one trace contiguous and in order) and ``text``."""
    from scipy import sparse

    n = sentences.height
    V, C = len(vocab), len(CUE_GROUPS)
    text = sentences.get_column("text").fill_null("")
    group = sentences.get_column("group").to_numpy()
    rows_l: list[np.ndarray] = []
    cols_l: list[np.ndarray] = []
    if n == 0:
        return sparse.csr_matrix((0, len(feature_names(vocab))), dtype=np.float32)
    same_prev = np.zeros(n, bool)
    same_prev[1:] = group[1:] == group[:-1]
    same_next = np.zeros(n, bool)
    same_next[:-1] = group[:-1] == group[1:]

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

    # words
    tok = tokens(text)
    vmap = pl.DataFrame({"term": vocab, "col": np.arange(V, dtype=np.int64)})
    hit = tok.join(vmap, on="term", how="inner")
    add(hit.get_column("row").to_numpy().astype(np.int64),
        hit.get_column("col").to_numpy(), 0, V + 3 * C, 2 * V + 3 * C)
    # cue groups
    low = pl.DataFrame({"t": text}).select(normalise_expr("t").alias("t"))
    cue = low.select([pl.col("t").str.contains(rx).alias(k) for k, rx in CUE_GROUPS.items()]
                     ).to_numpy()
    r, c = np.nonzero(cue)
    add(r.astype(np.int64), c.astype(np.int64), V, V + C, V + 2 * C)
    # position, length, math share
    base = 3 * V + 3 * C
    idx = np.arange(n)
    start = np.where(~same_prev)[0]
    trace_start = np.maximum.accumulate(np.where(~same_prev, idx, 0))
    ends = np.where(~same_next)[0]
    trace_len = np.repeat(ends - start + 1, ends - start + 1)
    rel = (idx - trace_start) / np.maximum(trace_len - 1, 1)
    pos = np.minimum((rel * POS_BINS).astype(np.int64), POS_BINS - 1)
    rows_l += [idx, np.where(~same_prev)[0], np.where(~same_next)[0]]
    cols_l += [base + pos, np.full(len(start), base + POS_BINS), np.full(len(ends),
                                                                         base + POS_BINS + 1)]
    lengths = text.str.len_chars().to_numpy()
    rows_l.append(idx)
    cols_l.append(base + POS_BINS + 2 + _bins(lengths, [30, 60, 120, 240]))
    sym = text.str.count_matches(r"[0-9=+\-*/^\\{}()<>]").to_numpy()
    share = sym / np.maximum(lengths, 1)
    rows_l.append(idx)
    cols_l.append(base + POS_BINS + 7 + _bins(share, [0.05, 0.15, 0.3]))
    rows = np.concatenate(rows_l)
    cols = np.concatenate(cols_l)
    m = sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                          shape=(n, len(feature_names(vocab))))
    m.data[:] = 1.0  # binary (duplicates were summed)
    return m

