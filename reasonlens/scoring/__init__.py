"""SCORE: lexicon counts per response and aggregates per model (``reasonlens score``).

- :mod:`reasonlens.scoring.engine`: pure ``score_batch(traces, matcher, config)``;
- :mod:`reasonlens.scoring.aggregate`: ``summarize(responses, terms, lexicons)``;
- :mod:`reasonlens.scoring.run`: streaming ``run_score(sources, out_dir, config)``.
"""

from reasonlens.scoring.aggregate import summarize
from reasonlens.scoring.engine import ScoreConfig, score_batch
from reasonlens.scoring.run import ScoreResult, run_score

__all__ = ["ScoreConfig", "ScoreResult", "run_score", "score_batch", "summarize"]
