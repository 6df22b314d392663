"""``reasonlens env``: versions, extras (found without importing them), caches, endpoints."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reasonlens import environment as envmod
from reasonlens.cli import main


class _Models(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's API
        body = json.dumps({"data": [{"id": "judge-model"}]}).encode() \
            if self.path == "/v1/models" else b"{}"
        self.send_response(200 if self.path == "/v1/models" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def models_server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Models)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    srv.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_env_json_reports_everything(models_server, capsys):
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    main(["env", "--json", "--base-url", models_server, "--base-url", dead, "--timeout", "1"])
    rep = json.loads(capsys.readouterr().out)
    import reasonlens

    assert rep["reasonlens"]["version"] == reasonlens.__version__
    assert rep["packages"]["polars"] and rep["packages"]["altair"]
    assert {"train", "gpu", "scale"} <= set(rep["extras"])
    for st in rep["extras"].values():
        assert st["ok"] == (st["missing"] == [])
    assert rep["caches"]["judge cache"].endswith("judge-cache.sqlite")
    live, down = rep["endpoints"]
    assert live["reachable"] and live["status"] == 200 and live["models"] == ["judge-model"]
    assert not down["reachable"] and "Connect" in down["error"]
    assert "not checked" in str(rep["cuda"]["torch"]) or "not installed" in str(
        rep["cuda"]["torch"])


def test_env_text_output(models_server, capsys):
    main(["env", "--base-url", models_server])
    out = capsys.readouterr().out
    assert out.startswith("reasonlens ") and "[train]" in out and "[scale]" in out
    assert f"{models_server}: HTTP 200" in out and "judge-model" in out


def test_extras_are_found_without_importing_them():
    from tests.test_imports import _loaded

    body = ("from reasonlens.environment import environment\n"
            "rep = environment()\n"
            "assert rep.extras['train']['versions']['torch'] or not rep.extras['train']['ok']")
    assert _loaded(body) == []   # torch, transformers, trl, vllm, datasets: none imported
    train = envmod.extras_status()["train"]
    assert train["ok"] == all(v is not None for v in train["versions"].values()) or \
        train["missing"]


def test_extras_without_installed_metadata(monkeypatch):
    # a fresh clone on PYTHONPATH has no reasonlens distribution: the expected extras still show
    def missing(_name):
        raise envmod.md.PackageNotFoundError("reasonlens")

    monkeypatch.setattr(envmod.md, "requires", missing)
    st = envmod.extras_status()
    assert set(st) == set(envmod.EXPECTED_EXTRAS)
    assert all(not s["declared"] for s in st.values())
    fake = envmod.extras_status({"x": ["surely-not-installed-pkg"]})
    assert fake["x"] == {"ok": False, "missing": ["surely-not-installed-pkg"], "declared": True,
                         "versions": {"surely-not-installed-pkg": None}}
