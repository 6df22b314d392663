"""Statistics over stage outputs, as tidy polars frames (statsmodels/scipy imported inside).

- :mod:`reasonlens.stats.rates`: per model x benchmark rates (per 1k words, mean per response,
  share with any) with problem-clustered bootstrap CIs; stratified by correctness and length.
- :mod:`reasonlens.stats.models`: negative-binomial / Poisson GLM rate ratios with log(words)
  exposure and problem-clustered SEs (mixed-model option), logistic correctness model, many-term
  tests with Holm and Benjamini-Hochberg adjustment, weighted log-odds of lexicon terms.
- :mod:`reasonlens.stats.logodds`: the weighted log-odds estimator with its one informative
  Dirichlet prior (used by :mod:`~reasonlens.stats.models` and by ``reasonlens diff``).
- :mod:`reasonlens.stats.ngrams`: n-gram counts of raw texts and their log-odds (``diff``).
- :mod:`reasonlens.stats.bootstrap`: the problem-clustered bootstrap every CI uses.
- :mod:`reasonlens.stats.accuracy`: accuracy, pass@k and lengths with CIs (grade uses them too).
- :mod:`reasonlens.stats.inputs`: detect and load stage outputs; :func:`analyse` runs them all.
"""

from reasonlens.stats.analysis import analyse
from reasonlens.stats.bootstrap import StatsConfig, bootstrap_ratios
from reasonlens.stats.inputs import Inputs, load_inputs
from reasonlens.stats.logodds import log_odds
from reasonlens.stats.models import (adjust_pvalues, compare_models, correctness_model,
                                     term_log_odds, term_tests)
from reasonlens.stats.rates import behaviour_rates, category_rates, stratified_rates, term_rates

__all__ = ["analyse", "StatsConfig", "bootstrap_ratios", "Inputs", "load_inputs",
           "adjust_pvalues", "compare_models", "correctness_model", "log_odds", "term_log_odds", "term_tests",
           "behaviour_rates", "category_rates", "stratified_rates", "term_rates"]
