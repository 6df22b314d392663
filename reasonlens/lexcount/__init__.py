"""SCORE: lexicon counts per response and aggregates per model (``reasonlens score``).

- :mod:`reasonlens.lexcount.engine`: pure ``score_batch(traces, matcher, config)``;
- :mod:`reasonlens.lexcount.aggregate`: ``summarise(responses, terms, lexicons)``;
- :mod:`reasonlens.lexcount.run`: streaming ``run_score(sources, out_dir, config)``.
"""

from reasonlens.lexcount.aggregate import summarise
from reasonlens.lexcount.engine import ScoreConfig, score_batch
from reasonlens.lexcount.run import ScoreResult, run_score

__all__ = ["ScoreConfig", "ScoreResult", "run_score", "score_batch", "summarise"]
