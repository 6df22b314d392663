"""The shared OpenAI-compatible client: pure request/parse parts, retry policy, multi-URL pool."""

from __future__ import annotations

import asyncio
import http.server
import json
import random
import threading

import pytest

from reasonlens.endpoint import (EndpointConfig, EndpointPool, backoff_delay, build_chat_request,
                                 parse_chat_response, retry_after_seconds, validate_logit_bias)
from reasonlens.errors import ConfigError, EndpointError
from reasonlens.devtools.servers import FaultProxy


def test_build_chat_request_exact():
    body = build_chat_request("m", [{"role": "user", "content": "hi"}], temperature=0.6,
                              top_p=0.95, max_tokens=32, seed=3, logit_bias={42: -100})
    assert body == {"model": "m", "messages": [{"role": "user", "content": "hi"}],
                    "temperature": 0.6, "top_p": 0.95, "max_tokens": 32, "seed": 3,
                    "logit_bias": {"42": -100.0}}


def test_build_chat_request_rejects_empty_and_bad_bias():
    with pytest.raises(ConfigError):
        build_chat_request("m", [])
    with pytest.raises(ConfigError, match="outside"):
        validate_logit_bias({1: -101})
    with pytest.raises(ConfigError, match="not a token id"):
        validate_logit_bias({"wait": -100})


def test_parse_chat_response_variants():
    r = parse_chat_response({"choices": [{"index": 0, "message": {"content": "A",
                                                                   "reasoning_content": "R"},
                                          "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 3, "completion_tokens": 5}})
    assert r.choices[0].text == "A" and r.choices[0].reasoning == "R"
    assert r.usage == {"prompt_tokens": 3, "completion_tokens": 5}
    with pytest.raises(EndpointError):
        parse_chat_response({"error": {"message": "boom"}})
    with pytest.raises(EndpointError):
        parse_chat_response(["not", "an", "object"])


def test_retry_after_and_backoff():
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("garbage") is None
    rng = random.Random(0)
    for attempt in range(6):
        d = backoff_delay(attempt, 1.0, 8.0, None, rng)
        assert 0 <= d <= min(8.0, 2 ** attempt)
    assert backoff_delay(0, 1.0, 8.0, 5.0, rng) >= 5.0


def test_config_validation_and_public_view(monkeypatch):
    with pytest.raises(ConfigError):
        EndpointConfig(base_urls=(), model="m")
    with pytest.raises(ConfigError):
        EndpointConfig(base_urls=("localhost:8000",), model="m")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    cfg = EndpointConfig(base_urls=("http://127.0.0.1:1/v1",), model="m")
    assert "sk-secret-value" not in json.dumps(cfg.public())
    # credentials inside a base URL stay out of every stage's provenance (generate, rewrite)
    cfg = EndpointConfig(base_urls=("http://alice:hunter22@127.0.0.1:1/v1",), model="m")
    assert cfg.public()["base_urls"] == ["http://***@127.0.0.1:1/v1"]
    assert "hunter22" not in json.dumps(cfg.public())


class _Canned(http.server.BaseHTTPRequestHandler):
    """A minimal OpenAI-shaped HTTP server for pool mechanics (no model: the real-model tests use
    the smollm_server fixture)."""

    protocol_version = "HTTP/1.1"
    hits: list[str] = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(n)
        type(self).hits.append(f"{self.server.server_address[1]} {self.headers.get('Authorization')}")
        body = json.dumps({"choices": [{"index": 0, "message": {"content": "ok"},
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def canned_servers():
    servers = []
    for _ in range(2):
        s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Canned)
        threading.Thread(target=s.serve_forever, daemon=True).start()
        servers.append(s)
    _Canned.hits = []
    yield [f"http://127.0.0.1:{s.server_address[1]}/v1" for s in servers]
    for s in servers:
        s.shutdown()
        s.server_close()


def test_pool_spreads_over_urls_and_sends_key(canned_servers, monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-test")
    cfg = EndpointConfig(base_urls=tuple(canned_servers), model="m", concurrency=4,
                         api_key_env="MY_KEY")

    async def go():
        async with EndpointPool(cfg, seed=0) as pool:
            body = build_chat_request("m", [{"role": "user", "content": "x"}])
            return await asyncio.gather(*[pool.chat(body) for _ in range(20)]), pool.usage

    results, usage = asyncio.run(go())
    assert all(r.choices[0].text == "ok" for r in results)
    ports = {h.split()[0] for h in _Canned.hits}
    assert len(ports) == 2, "requests must be spread over both base URLs"
    assert all(h.endswith("Bearer sk-test") for h in _Canned.hits)
    assert usage.requests == 20 and usage.completion_tokens == 20
    assert sum(usage.per_url.values()) == 20


def test_pool_retries_faults_then_succeeds(canned_servers):
    proxy = FaultProxy(canned_servers[0])
    try:
        proxy.push(("status", 429, {"Retry-After": "0"}), ("status", 503, {}),
                   ("garbage", b"{not json"), ("drop",))
        cfg = EndpointConfig(base_urls=(proxy.base_url,), model="m", backoff_base=0.01,
                             backoff_max=0.05, max_retries=5, timeout=5)

        async def go():
            async with EndpointPool(cfg, seed=0) as pool:
                r = await pool.chat(build_chat_request("m", [{"role": "user", "content": "x"}]))
                return r, pool.usage

        r, usage = asyncio.run(go())
        assert r.choices[0].text == "ok"
        assert usage.retries == 4 and usage.requests == 5
    finally:
        proxy.close()


def test_pool_gives_up_with_clear_error(canned_servers):
    proxy = FaultProxy(canned_servers[0])
    try:
        proxy.push(*[("status", 500, {})] * 3)
        cfg = EndpointConfig(base_urls=(proxy.base_url,), model="m", backoff_base=0.01,
                             backoff_max=0.02, max_retries=2)

        async def go():
            async with EndpointPool(cfg) as pool:
                await pool.chat(build_chat_request("m", [{"role": "user", "content": "x"}]))

        with pytest.raises(EndpointError, match="failed after 3 attempts: HTTP 500"):
            asyncio.run(go())
        proxy.push(("status", 401, {}))

        async def go401():
            async with EndpointPool(cfg) as pool:
                await pool.chat(build_chat_request("m", [{"role": "user", "content": "x"}]))

        with pytest.raises(EndpointError, match="HTTP 401"):
            asyncio.run(go401())
    finally:
        proxy.close()


def test_retry_after_is_capped_and_said_at_normal_verbosity(caplog):
    """Issue 11: Retry-After 3600 or a date in 2099 slept for that long, silently."""
    import logging

    import httpx

    rng = random.Random(0)
    assert backoff_delay(0, 1.0, 8.0, 3600.0, rng) == 8.0
    far = retry_after_seconds("Thu, 01 Jan 2099 00:00:00 GMT")
    assert far > 1e9 and backoff_delay(3, 1.0, 0.05, far, rng) == 0.05
    calls = []

    def handler(request):
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"Retry-After": "3600"})
        return httpx.Response(200, json={"choices": [{"message": {"content": "ok"}}]})

    cfg = EndpointConfig(base_urls=("http://judge.test/v1",), model="m", backoff_max=0.05)

    async def go():
        async with EndpointPool(cfg, seed=0, transport=httpx.MockTransport(handler)) as pool:
            return await pool.chat(build_chat_request("m", [{"role": "user", "content": "x"}]))

    with caplog.at_level(logging.WARNING, logger="reasonlens.endpoint"):
        r = asyncio.run(go())
    assert r.choices[0].text == "ok" and len(calls) == 2
    assert any("asked to wait 3600 s" in m and "waiting 0.1 s instead" in m
               for m in caplog.messages)


def test_oversized_reply_body_is_refused_before_it_is_parsed():
    import httpx

    big = b'{"choices": [{"message": {"content": "' + b"x" * 5000 + b'"}}]}'
    async def chunks():  # no Content-Length: the limit is enforced while reading
        yield big[:2000]
        yield big[2000:]

    for body in (big, "chunks"):
        def handler(request, body=body):
            return httpx.Response(200, content=chunks() if body == "chunks" else body)

        cfg = EndpointConfig(base_urls=("http://judge.test/v1",), model="m",
                             max_response_bytes=4096)

        async def go():
            async with EndpointPool(cfg, transport=httpx.MockTransport(handler)) as pool:
                return await pool.chat(build_chat_request("m", [{"role": "user",
                                                                 "content": "x"}]))

        with pytest.raises(EndpointError, match="exceeds the limit of 4096"):
            asyncio.run(go())


def test_an_endpoint_that_never_answers_fails_the_rest_at_once():
    """Connection refused on every attempt: after one request has used its retries, the other
    requests fail at once (they each waited through the whole backoff: minutes per request)."""
    import httpx

    calls: dict[str, int] = {}

    def handler(request):
        calls[request.url.host] = calls.get(request.url.host, 0) + 1
        if request.url.host == "down.test":
            raise httpx.ConnectError("Connection refused", request=request)
        return httpx.Response(500, text="busy")

    body = build_chat_request("m", [{"role": "user", "content": "x"}])

    async def go(urls):
        cfg = EndpointConfig(base_urls=urls, model="m", max_retries=2, backoff_base=0.001)
        errors = []
        async with EndpointPool(cfg, seed=0, transport=httpx.MockTransport(handler)) as pool:
            for _ in range(5):
                try:
                    await pool.chat(body)
                except EndpointError as exc:
                    errors.append(str(exc))
        return errors

    errors = asyncio.run(go(("http://down.test/v1",)))
    assert calls == {"down.test": 3} and len(errors) == 5
    assert "could not be reached" in errors[-1] and "not retrying" in errors[-1]
    calls.clear()  # a server that answers (even 500) is never given up on
    errors = asyncio.run(go(("http://down.test/v1", "http://busy.test/v1")))
    assert len(errors) == 5 and calls["busy.test"] >= 5 and calls["down.test"] <= 3
