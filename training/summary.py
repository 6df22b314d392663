"""The run summary of a training command: logged curves and ``run_summary.json`` with
provenance."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def loss_curve(log_history: list[dict[str, Any]], key: str = "loss") -> list[tuple[int, float]]:
    """(step, value) pairs of a logged scalar from ``trainer.state.log_history``."""
    return [(int(r.get("step", 0)), float(r[key])) for r in log_history if key in r]


def write_summary(path: str | Path, *, command: str, recipe: dict[str, Any],
                  body: dict[str, Any]) -> dict[str, Any]:
    from reasonlens.io import write_json
    from reasonlens.provenance import provenance

    out = dict(body)
    out["provenance"] = provenance(command=command, config=recipe,
                                   extra_packages=("torch", "transformers", "trl", "datasets",
                                                   "accelerate"))
    write_json(path, out)
    return out


def device_info(trainer) -> dict[str, Any]:
    """Where training ran and, on a GPU, its peak allocated memory (for the GPU check)."""
    import torch

    out: dict[str, Any] = {"device": str(trainer.args.device)}
    if torch.cuda.is_available():
        out["cuda_device"] = torch.cuda.get_device_name(0)
        out["cuda_peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
    return out


def finish_run(trainer, output_dir: str | Path, *, command: str, recipe,
               body: dict[str, Any]) -> dict[str, Any]:
    """The run summary: recipe name, output dir and model, then ``body``, then where it ran
    (:func:`device_info`); written as ``run_summary.json`` by the main process; returns it."""
    body = {"recipe": recipe.name, "output_dir": str(output_dir),
            "model": recipe.model.name_or_path, **body, **device_info(trainer)}
    if trainer.is_world_process_zero():
        write_summary(Path(output_dir) / "run_summary.json", command=command,
                      recipe=recipe.record(), body=body)
    return body
