"""Past one machine: the stages as functions over Arrow batches, run under Ray Data.

- :mod:`reasonlens.scale.batches`: pure ``pyarrow.Table -> pyarrow.Table`` stage functions
  (traces from raw records, score, grade, offline detector, partial counts);
- :mod:`reasonlens.scale.ray_run`: ``run_score_ray`` (read -> map_batches -> write_parquet, the
  summary merged from per-batch partial counts) and ``consolidate``.

Ray is optional (``pip install 'reasonlens[scale]'``) and imported only inside the functions that
use it. See docs/scale.md.
"""
