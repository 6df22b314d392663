"""Trace model and loaders (see :mod:`reasonlens.traces.load`)."""

from reasonlens.traces.layouts import FieldMapping, detect_layout, parse_field_options
from reasonlens.traces.load import (LoadOptions, LoadReport, iter_trace_batches, load_traces,
                                    read_trace_table)
from reasonlens.traces.model import Split, split_reasoning

__all__ = ["FieldMapping", "LoadOptions", "LoadReport", "Split", "detect_layout",
           "iter_trace_batches", "load_traces", "parse_field_options", "read_trace_table",
           "split_reasoning"]
