"""Behaviour judge: LLM judge over an OpenAI-compatible endpoint, offline detector, validation.

Behaviour keys: ``multi_perspective`` and ``metacognitive``. Submodules are imported on demand.
"""
