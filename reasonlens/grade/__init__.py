"""Grading: answer extraction, verification (strict integers, letters, Math-Verify in worker
processes with a hard timeout) and accuracy metrics (avg@k, pass@k, maj@k, bootstrap CIs).

Public API: :class:`GradeConfig`, :class:`GradeResult`, :func:`grade_one`, :func:`grade_frame`,
:func:`grade_values`, :func:`compute_metrics`, :func:`pass_at_k`.
"""

from reasonlens.grade.core import (ANSWER_TYPES, REASONS, GradeConfig, GradeResult,
                                   grade_frame, grade_one, grade_values, infer_answer_type)
from reasonlens.grade.metrics import compute_metrics
from reasonlens.stats.accuracy import pass_at_k

__all__ = ["ANSWER_TYPES", "REASONS", "GradeConfig", "GradeResult", "compute_metrics",
           "grade_frame", "grade_one", "grade_values", "infer_answer_type", "pass_at_k"]
