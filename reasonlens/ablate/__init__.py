"""Token-restriction ablation: ban words while a model generates, re-grade, audit leaks.

Modules (heavy packages are imported inside functions only):

- :mod:`reasonlens.ablate.tokenizers` adapters over a local HF tokenizer or a served model's
  tokenize/detokenize endpoints (the only string -> token-id code).
- :mod:`reasonlens.ablate.bans` the pure ban-set builder (variants, vocabulary scan, multi-token
  sequences, collateral report, stable hash) and named ban-list presets.
- :mod:`reasonlens.ablate.hf_backend` transformers ``generate`` with a logits processor that
  blocks single tokens and multi-token sequences (CPU).
- :mod:`reasonlens.ablate.backends` OpenAI-compatible ``logit_bias`` (entry limit, first-request
  check) and vLLM offline ``SamplingParams(logit_bias=...)``.
- :mod:`reasonlens.ablate.audit` leakage, substitution, length/clip/repetition, paired deltas.
- :mod:`reasonlens.ablate.run` the ``reasonlens ablate`` orchestration.
- :mod:`reasonlens.ablate.rewrite` the style-vs-strategy rewrite hook.
"""
