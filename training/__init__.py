"""Training recipes that produce the distilled and zero-RL model pair (not shipped in the wheel).

Run from the repository root, e.g.
``python -m training.sft --config training/configs/sft_tiny.yaml``.
Modules import ``reasonlens``; ``reasonlens`` never imports ``training``. Heavy packages (torch,
transformers, trl, datasets) are imported inside the functions that need them. See
``training/README.md`` for the full recipe.
"""
