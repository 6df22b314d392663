"""A minimal OpenAI-compatible chat server over a transformers checkpoint, for tiny models on CPU.

It lets a checkpoint trained here go through the same generation path as any served model
(``reasonlens.generate.run_generation``: resume, usage, trace schema). On GPUs use ``vllm serve``
instead. Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (messages, max_tokens,
temperature, top_p, seed, n, stop; a trailing assistant message with ``continue_final_message``
is continued). One request is generated at a time.

    python -m training.serve_hf --checkpoint out/sft_tiny --port 8011
"""

from __future__ import annotations

import http.server
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import click

IGNORED = ("logit_bias", "presence_penalty", "frequency_penalty", "response_format")


@dataclass
class Generated:
    text: str
    finish_reason: str
    completion_tokens: int


class HFChatModel:
    """The checkpoint, its tokenizer and a lock; :meth:`chat` answers one request body."""

    def __init__(self, checkpoint: str, name: str | None = None, device: str = "cpu"):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        self.model = AutoModelForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
        self.model.to(device).eval()
        self.device = device
        self.name = name or checkpoint.rstrip("/").split("/")[-1]
        eos = self.model.generation_config.eos_token_id
        self.eos_ids = [eos] if isinstance(eos, int) else list(eos or [])
        if self.tokenizer.eos_token_id is not None and self.tokenizer.eos_token_id not in \
                self.eos_ids:
            self.eos_ids.append(self.tokenizer.eos_token_id)
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None \
            else self.eos_ids[0]
        self.lock = threading.Lock()

    def _prompt_ids(self, messages: list[dict[str, str]], cont: bool) -> list[int]:
        kwargs: dict[str, Any] = {"tokenize": True, "return_dict": True}
        if cont:
            kwargs["continue_final_message"] = True
        else:
            kwargs["add_generation_prompt"] = True
        return list(self.tokenizer.apply_chat_template(messages, **kwargs)["input_ids"])

    def generate(self, messages, *, max_tokens: int, temperature: float, top_p: float | None,
                 seed: int | None, n: int, stop: list[str], cont: bool
                 ) -> tuple[int, list[Generated]]:
        torch = self.torch
        ids = self._prompt_ids(messages, cont)
        inputs = torch.tensor([ids], device=self.device)
        sample = temperature > 0
        kw: dict[str, Any] = {"max_new_tokens": max_tokens, "do_sample": sample,
                              "num_return_sequences": n, "eos_token_id": self.eos_ids,
                              "pad_token_id": self.pad_id}
        if sample:
            kw["temperature"] = temperature
            kw["top_p"] = top_p if top_p is not None else 1.0
            kw["top_k"] = 0
        with self.lock, torch.no_grad():
            if seed is not None:
                torch.manual_seed(int(seed))
            out = self.model.generate(inputs, attention_mask=torch.ones_like(inputs), **kw)
        results = []
        for row in out[:, len(ids):].tolist():
            toks, finish, used = row, "length", len(row)
            for i, t in enumerate(row):
                if t in self.eos_ids:
                    toks, finish, used = row[:i], "stop", i + 1
                    break
            text = self.tokenizer.decode(toks, skip_special_tokens=False)
            for s in stop:
                cut = text.find(s) if s else -1
                if cut >= 0:
                    text, finish = text[:cut], "stop"
            results.append(Generated(text, finish, used))
        return len(ids), results

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        cont = bool(body.get("continue_final_message")) and messages[-1].get("role") == \
            "assistant"
        stop = body.get("stop") or []
        stop = [stop] if isinstance(stop, str) else list(stop)
        n_prompt, gens = self.generate(
            messages, max_tokens=int(body.get("max_tokens") or 256),
            temperature=float(body.get("temperature", 1.0)), top_p=body.get("top_p"),
            seed=body.get("seed"), n=int(body.get("n") or 1), stop=stop, cont=cont)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion",
            "created": int(time.time()), "model": self.name,
            "choices": [{"index": i, "message": {"role": "assistant", "content": g.text},
                         "finish_reason": g.finish_reason} for i, g in enumerate(gens)],
            "usage": {"prompt_tokens": n_prompt,
                      "completion_tokens": sum(g.completion_tokens for g in gens),
                      "total_tokens": n_prompt + sum(g.completion_tokens for g in gens)},
            "ignored_fields": [k for k in IGNORED if k in body],
        }


class HFServer:
    """Serve an :class:`HFChatModel` on 127.0.0.1 in a background thread."""

    def __init__(self, model: HFChatModel, host: str = "127.0.0.1", port: int = 0):
        handler = _handler(model)
        self.httpd = http.server.ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}/v1"
        self.model = model
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> HFServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(model: HFChatModel):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):  # quiet
            pass

        def _send(self, status: int, obj: dict[str, Any]) -> None:
            data = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [{"id": model.name,
                                                             "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(n) or b"{}")
            except json.JSONDecodeError as exc:
                self._send(400, {"error": {"message": f"bad JSON: {exc}"}})
                return
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            try:
                self._send(200, model.chat(body))
            except (ValueError, TypeError) as exc:
                self._send(400, {"error": {"message": str(exc)}})

    return Handler


@click.command(help="Serve a transformers checkpoint through a minimal OpenAI-compatible chat "
                    "API (for tiny models on CPU; use `vllm serve` on GPUs).")
@click.option("--checkpoint", required=True, type=click.Path(exists=True, file_okay=False),
              help="Model directory (e.g. the output of training.sft).")
@click.option("--name", help="Model name the API reports (default: the directory name).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8011, show_default=True, help="Port.")
def main(checkpoint: str, name: str | None, host: str, port: int) -> None:
    server = HFServer(HFChatModel(checkpoint, name), host, port)
    click.echo(f"serving {server.model.name} at {server.base_url}", err=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
