"""Benchmarks: registry, loaders (local files and the hub) and prompt templates.

Public API: :func:`list_benchmarks`, :func:`load_benchmark`, :func:`render_prompt`,
:func:`load_template`, :func:`get_spec`, :func:`choice_permutation`.
"""

from reasonlens.problems.gpqa import choice_permutation
from reasonlens.problems.load import PROBLEM_SCHEMA, load_benchmark
from reasonlens.problems.prompts import Template, list_templates, load_template, render_prompt
from reasonlens.problems.registry import BENCHMARKS, BenchmarkSpec, get_spec, list_benchmarks, spec_for

__all__ = ["BENCHMARKS", "PROBLEM_SCHEMA", "BenchmarkSpec", "Template", "choice_permutation",
           "get_spec", "list_benchmarks", "list_templates", "load_benchmark", "load_template",
           "render_prompt", "spec_for"]
