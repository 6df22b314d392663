"""OpenAI-compatible client shared by generation, the judge, the ablation and rewriting.

Split as in lm-evaluation-harness: :func:`build_chat_request` and :func:`parse_chat_response` are
pure and tested without a network; :class:`EndpointPool` only sends. The pool spreads requests over
one or more base URLs (least in-flight first), bounds concurrency, retries 429/5xx/timeouts/
connection errors/unparseable bodies with exponential backoff and full jitter, honours
``Retry-After`` up to ``backoff_max`` (saying so on stderr when it caps a wait), refuses reply
bodies over ``max_response_bytes``, and accounts token usage. API keys come from the environment only and are never
returned, logged or stored.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from reasonlens.errors import ConfigError, EndpointError

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524})


@dataclass(frozen=True)
class EndpointConfig:
    """Where and how to send. ``api_key_env`` names the variable holding the key (never the key)."""

    base_urls: tuple[str, ...]
    model: str
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 600.0
    connect_timeout: float = 10.0
    max_retries: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    concurrency: int = 8
    max_response_bytes: int = 16 << 20  # a larger reply body is refused, never parsed or cached

    def __post_init__(self):
        if not self.base_urls:
            raise ConfigError("at least one --base-url is required")
        for u in self.base_urls:
            if not u.startswith(("http://", "https://")):
                raise ConfigError(f"--base-url must start with http:// or https://, got {u!r}")
        if self.concurrency < 1:
            raise ConfigError("--concurrency must be >= 1")

    def public(self) -> dict[str, Any]:
        """What may go into provenance: no key, no credentials inside a base URL."""
        from reasonlens.redact import redact_url

        return {"base_urls": [redact_url(u) for u in self.base_urls], "model": self.model,
                "api_key_env": self.api_key_env, "timeout": self.timeout,
                "max_retries": self.max_retries, "concurrency": self.concurrency}


# --- pure parts -------------------------------------------------------------------------------

def build_chat_request(model: str, messages: list[dict[str, str]], *, temperature: float = 0.0,
                       top_p: float | None = None, max_tokens: int | None = None,
                       seed: int | None = None, n: int = 1, stop: list[str] | None = None,
                       logit_bias: dict[int, float] | None = None,
                       response_format: dict[str, Any] | None = None,
                       logprobs: bool | None = None, top_logprobs: int | None = None,
                       extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of a ``/chat/completions`` request. Pure; only set fields are included."""
    if not messages:
        raise ConfigError("a chat request needs at least one message")
    body: dict[str, Any] = {"model": model, "messages": messages, "temperature": temperature}
    if top_p is not None:
        body["top_p"] = top_p
    if max_tokens is not None:
        body["max_tokens"] = int(max_tokens)
    if seed is not None:
        body["seed"] = int(seed)
    if n != 1:
        body["n"] = int(n)
    if stop:
        body["stop"] = list(stop)
    if logit_bias:
        body["logit_bias"] = validate_logit_bias(logit_bias)
    if response_format is not None:
        body["response_format"] = response_format
    if logprobs:
        body["logprobs"] = True
        if top_logprobs:
            body["top_logprobs"] = int(top_logprobs)
    if extra:
        body.update(extra)
    return body


def validate_logit_bias(bias: dict[Any, Any]) -> dict[str, float]:
    """Keys to str(int id) (the wire format), values checked to lie in [-100, 100]."""
    out: dict[str, float] = {}
    for k, v in bias.items():
        try:
            tid = int(k)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"logit_bias key {k!r} is not a token id") from exc
        if tid < 0:
            raise ConfigError(f"logit_bias token id {tid} is negative")
        fv = float(v)
        if not -100.0 <= fv <= 100.0:
            raise ConfigError(f"logit_bias value {fv} for token {tid} is outside [-100, 100]")
        out[str(tid)] = fv
    return out


@dataclass(frozen=True)
class Choice:
    index: int
    text: str | None           # message content (None when the server sent none)
    reasoning: str | None      # reasoning_content / reasoning, when the server splits it
    finish_reason: str | None


@dataclass(frozen=True)
class ChatResponse:
    choices: tuple[Choice, ...]
    usage: dict[str, int]
    model: str | None
    raw: dict[str, Any]


def parse_chat_response(body: Any) -> ChatResponse:
    """Parse a chat-completions body. Raises EndpointError when it is not one."""
    if not isinstance(body, dict):
        raise EndpointError(f"response is not a JSON object: {str(body)[:200]!r}")
    if "error" in body and "choices" not in body:
        raise EndpointError(f"server error: {str(body['error'])[:500]}")
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise EndpointError(f"response has no choices: {str(body)[:300]!r}")
    parsed = []
    for i, c in enumerate(choices):
        if not isinstance(c, dict):
            raise EndpointError(f"choice {i} is not an object")
        msg = c.get("message") or {}
        text = msg.get("content") if isinstance(msg, dict) else None
        if text is None and isinstance(c.get("text"), str):
            text = c["text"]  # completions-style
        reasoning = None
        if isinstance(msg, dict):
            reasoning = msg.get("reasoning_content") or msg.get("reasoning")
        parsed.append(Choice(index=int(c.get("index", i)), text=text,
                             reasoning=reasoning if isinstance(reasoning, str) else None,
                             finish_reason=c.get("finish_reason")))
    usage = body.get("usage") or {}
    usage = {k: int(v) for k, v in usage.items() if isinstance(v, (int, float))
             and not isinstance(v, bool)}
    return ChatResponse(choices=tuple(parsed), usage=usage, model=body.get("model"), raw=body)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None,
                  rng: random.Random) -> float:
    """Full-jitter exponential backoff; honours the server's Retry-After up to ``cap``.

    Never longer than ``cap`` (``backoff_max``): a ``Retry-After: 3600`` or an HTTP date in 2099
    would otherwise stall the run for hours (the caller says so when it caps a wait)."""
    delay = rng.uniform(0, min(cap, base * (2 ** attempt)))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return min(delay, cap)


# --- sending ----------------------------------------------------------------------------------

class _TooLarge(Exception):
    """A reply body over ``EndpointConfig.max_response_bytes``."""


@dataclass
class Usage:
    requests: int = 0
    retries: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    per_url: dict[str, int] = field(default_factory=dict)

    def add(self, usage: dict[str, int]) -> None:
        self.prompt_tokens += usage.get("prompt_tokens", 0)
        self.completion_tokens += usage.get("completion_tokens", 0)

    def cost(self, price_in_per_mtok: float = 0.0, price_out_per_mtok: float = 0.0) -> float:
        return (self.prompt_tokens * price_in_per_mtok
                + self.completion_tokens * price_out_per_mtok) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "retries": self.retries, "failures": self.failures,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "per_url": dict(self.per_url)}


class EndpointPool:
    """Async sender over one or more OpenAI-compatible base URLs.

    Use as ``async with EndpointPool(cfg) as pool: resp = await pool.chat(body)``.
    """

    def __init__(self, config: EndpointConfig, *, seed: int | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.usage = Usage()
        self._rng = random.Random(seed)
        self._sem = asyncio.Semaphore(config.concurrency)
        self._inflight = {u.rstrip("/"): 0 for u in config.base_urls}
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._answered: set[str] = set()  # base URLs that gave an HTTP reply in this run
        self._unreachable: dict[str, str] = {}  # never answered; a request's retries all failed

    def _all_unreachable(self) -> str | None:
        """Why every base URL is given up on, or None. A URL is given up on when it has never
        answered in this run and one request's every attempt failed to connect: the remaining
        requests then fail at once instead of each waiting through the whole backoff."""
        if len(self._unreachable) < len(self._inflight):
            return None
        url, err = next(iter(self._unreachable.items()))
        return (f"{url} could not be reached ({err}) and has not answered in this run; not "
                "retrying the remaining requests")

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.config.api_key_env)
        h = {"Content-Type": "application/json"}
        if key:
            h["Authorization"] = f"Bearer {key}"
        return h

    async def __aenter__(self) -> EndpointPool:
        limits = httpx.Limits(max_connections=self.config.concurrency * 2,
                              max_keepalive_connections=self.config.concurrency * 2)
        timeout = httpx.Timeout(self.config.timeout, connect=self.config.connect_timeout)
        self._client = httpx.AsyncClient(timeout=timeout, limits=limits,
                                         transport=self._transport)
        return self

    async def __aexit__(self, *exc) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _pick(self, avoid: str | None) -> str:
        urls = sorted(self._inflight, key=lambda u: (u in self._unreachable, u == avoid,
                                                     self._inflight[u], self._rng.random()))
        return urls[0]

    async def post_json(self, path: str, body: dict[str, Any], *,
                        max_retries: int | None = None) -> tuple[dict[str, Any], str]:
        """POST ``body`` to ``path`` (e.g. ``/chat/completions``) with retries.

        Returns (parsed JSON, base URL that answered). Raises EndpointError after the last retry
        or at once on a non-retryable 4xx. ``max_retries`` overrides the config for this call
        (e.g. 0 to probe a server feature without waiting through backoff).
        """
        assert self._client is not None, "use EndpointPool as an async context manager"
        retries = self.config.max_retries if max_retries is None else max(0, int(max_retries))
        payload = orjson.dumps(body)
        last_err = "no attempt made"
        avoid: str | None = None
        refused: set[str] = set()  # URLs this request could not connect to
        for attempt in range(retries + 1):
            dead = self._all_unreachable()
            if dead is not None:
                self.usage.failures += 1
                raise EndpointError(f"{path}: {dead}")
            url = self._pick(avoid)
            retry_after = None
            async with self._sem:
                self._inflight[url] += 1
                try:
                    self.usage.requests += 1
                    r = await self._post(url + path, payload)
                except (httpx.TimeoutException, httpx.TransportError) as exc:
                    last_err = f"{type(exc).__name__}: {exc}"
                    r = None
                    if isinstance(exc, httpx.ConnectError):
                        refused.add(url)
                except _TooLarge as exc:
                    self.usage.failures += 1
                    raise EndpointError(f"{url}{path}: {exc}") from exc
                finally:
                    self._inflight[url] -= 1
            if r is not None:
                self._answered.add(url)
                if r.status_code == 200:
                    try:
                        data = orjson.loads(r.content)
                        if not isinstance(data, dict):
                            raise ValueError("not a JSON object")
                        self.usage.per_url[url] = self.usage.per_url.get(url, 0) + 1
                        return data, url
                    except ValueError as exc:
                        last_err = f"unparseable 200 body ({exc}): {r.content[:200]!r}"
                elif r.status_code in RETRY_STATUS:
                    last_err = f"HTTP {r.status_code}: {r.text[:300]}"
                    retry_after = retry_after_seconds(r.headers.get("Retry-After"))
                else:
                    self.usage.failures += 1
                    raise EndpointError(f"{url}{path} answered HTTP {r.status_code}: "
                                        f"{r.text[:500]}")
            if attempt == retries:
                break
            self.usage.retries += 1
            avoid = url if len(self._inflight) > 1 else None
            delay = backoff_delay(attempt, self.config.backoff_base, self.config.backoff_max,
                                  retry_after, self._rng)
            if retry_after is not None and retry_after > self.config.backoff_max:
                log.warning("%s asked to wait %.0f s (Retry-After); waiting %.1f s instead (the "
                            "backoff cap), attempt %d of %d", url, retry_after, delay,
                            attempt + 1, retries + 1)
            elif delay >= 10:
                log.warning("retrying %s after %s (attempt %d, sleeping %.1f s)", path,
                            last_err[:200], attempt + 1, delay)
            else:
                log.info("retrying %s after %s (attempt %d, sleeping %.2fs)", path, last_err,
                         attempt + 1, delay)
            await asyncio.sleep(delay)
        if retries >= self.config.max_retries:  # a full retry sequence, not a quick probe
            for u in refused - self._answered:
                self._unreachable.setdefault(u, last_err[:200])
        self.usage.failures += 1
        raise EndpointError(f"{path} failed after {retries + 1} attempts: {last_err}")

    async def _post(self, url: str, payload: bytes) -> httpx.Response:
        """POST and read the body, refusing one larger than ``max_response_bytes`` (checked on
        Content-Length and while reading, so a huge body is never held, parsed or cached)."""
        limit = self.config.max_response_bytes
        assert self._client is not None
        async with self._client.stream("POST", url, content=payload,
                                       headers=self._headers()) as r:
            length = r.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > limit:
                raise _TooLarge(f"reply body of {int(length)} bytes exceeds the limit of {limit}")
            chunks, size = [], 0
            async for chunk in r.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(f"reply body exceeds the limit of {limit} bytes")
                chunks.append(chunk)
        return httpx.Response(r.status_code, headers=r.headers, content=b"".join(chunks),
                              request=r.request)

    async def chat(self, body: dict[str, Any], *, max_retries: int | None = None) -> ChatResponse:
        data, _ = await self.post_json("/chat/completions", body, max_retries=max_retries)
        resp = parse_chat_response(data)
        self.usage.add(resp.usage)
        return resp

    async def get_json(self, path: str) -> dict[str, Any]:
        assert self._client is not None
        url = self._pick(None)
        r = await self._client.get(url + path, headers=self._headers())
        if r.status_code != 200:
            raise EndpointError(f"{url}{path} answered HTTP {r.status_code}: {r.text[:300]}")
        return orjson.loads(r.content)


def run_async(coro):
    """Run a coroutine from synchronous code (the CLI)."""
    return asyncio.run(coro)
