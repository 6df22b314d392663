"""Lexicons and counting: ``load_lexicon``, ``count_frame``, ``word_count``; discovery in
:mod:`reasonlens.stats.ngrams` (``text_log_odds``)."""

from reasonlens.lexicon.count import (Matcher, build_pattern, compile_lexicons, count_frame,
                                      count_long, word_count)
from reasonlens.lexicon.lexicons import (DEFAULT_LEXICONS, Lexicon, list_lexicons, load_lexicon,
                                         load_lexicons, normalize_term)

__all__ = ["DEFAULT_LEXICONS", "Lexicon", "Matcher", "build_pattern", "compile_lexicons",
           "count_frame", "count_long", "list_lexicons", "load_lexicon", "load_lexicons",
           "normalize_term", "word_count"]
