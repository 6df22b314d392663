"""Tokenizer adapters for the ban-set builder: the only string -> token-id code in reasonlens.

The builder needs five things from a tokenizer (:class:`BanTokenizer`): ``encode_batch`` (texts to
ids, no special tokens), ``decode`` (ids to text), ``vocab_size``, ``surfaces()`` (the decoded
surface of every id, for the vocabulary scan) and ``fingerprint()`` (a stable hash of the
vocabulary). Two adapters:

- :class:`HFTokenizer`: a local tokenizer directory or file, through the ``tokenizers`` library
  when a ``tokenizer.json`` is there, else ``transformers.AutoTokenizer`` (both imported lazily).
- :class:`EndpointTokenizer`: a served model's tokenize/detokenize endpoints, vLLM
  (``/tokenize``, ``/detokenize`` at the server root) or llama-cpp-python (``/extras/tokenize``,
  ``/extras/detokenize``). The vocabulary scan detokenizes every id, batched (ids interleaved with a
  sentinel, split afterwards; a failing batch is bisected, e.g. llama-cpp-python answers 500 to a
  lone partial UTF-8 byte) and cached on disk under ``$REASONLENS_HOME/cache/tokenizers``.

``fingerprint()`` is the same function of the decoded vocabulary for both adapters (blake2b over
the surfaces); :class:`HFTokenizer` also records ``merges_hash``, a hash of the tokenizer's own
vocabulary/merges JSON.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import orjson

from reasonlens.errors import ConfigError, EndpointError
from reasonlens.home import reasonlens_home
from reasonlens.provenance import content_hash

REPLACEMENT = "\ufffd"


@runtime_checkable
class BanTokenizer(Protocol):
    """What the ban-set builder needs from a tokenizer."""

    name: str
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def surfaces(self) -> list[str]: ...

    def special_ids(self) -> frozenset[int]: ...

    def fingerprint(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...


def surfaces_fingerprint(surfaces: Sequence[str]) -> str:
    """Stable hash of a decoded vocabulary (id order matters)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(len(surfaces)).encode())
    for s in surfaces:
        h.update(b"\x00")
        h.update(s.encode("utf-8", "surrogatepass"))
    return "vocab:b2:" + h.hexdigest()


# --- local HF tokenizer -------------------------------------------------------------------------

class HFTokenizer:
    """A local tokenizer: ``tokenizers.Tokenizer`` (tokenizer.json) or ``AutoTokenizer``."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        p = Path(self.path)
        tj = p / "tokenizer.json" if p.is_dir() else p
        self._tok = None   # tokenizers.Tokenizer
        self._hf = None    # transformers tokenizer without a fast backend
        if tj.is_file() and tj.suffix == ".json":
            from reasonlens._optional import import_optional

            tokenizers = import_optional("tokenizers")
            try:
                self._tok = tokenizers.Tokenizer.from_file(str(tj))
            except Exception as exc:  # noqa: BLE001 - any parse failure is a config problem
                raise ConfigError(f"{tj}: cannot load tokenizer: {exc}") from exc
        else:
            from reasonlens._optional import import_transformers

            transformers = import_transformers()
            try:
                hf = transformers.AutoTokenizer.from_pretrained(self.path)
            except Exception as exc:  # noqa: BLE001
                raise ConfigError(f"cannot load a tokenizer from {self.path!r}: {exc}") from exc
            backend = getattr(hf, "backend_tokenizer", None)
            if backend is not None:
                self._tok = backend
            else:
                self._hf = hf
        self.name = p.name if p.name != "tokenizer.json" else p.parent.name
        if self._tok is not None:
            self.vocab_size = int(self._tok.get_vocab_size(with_added_tokens=True))
        else:
            self.vocab_size = int(len(self._hf))
        self._surfaces: list[str] | None = None
        self._fp: str | None = None

    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        if self._tok is not None:
            return [list(e.ids) for e in self._tok.encode_batch(list(texts),
                                                              add_special_tokens=False)]
        return [list(self._hf.encode(t, add_special_tokens=False)) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        if self._tok is not None:
            return self._tok.decode(list(ids), skip_special_tokens=False)
        return self._hf.decode(list(ids), skip_special_tokens=False,
                               clean_up_tokenization_spaces=False)

    def surfaces(self) -> list[str]:
        if self._surfaces is None:
            ids = [[i] for i in range(self.vocab_size)]
            if self._tok is not None:
                self._surfaces = list(self._tok.decode_batch(ids, skip_special_tokens=False))
            else:
                self._surfaces = [self.decode(i) for i in ids]
        return self._surfaces

    def special_ids(self) -> frozenset[int]:
        if self._tok is not None:
            return frozenset(i for i, t in self._tok.get_added_tokens_decoder().items()
                             if getattr(t, "special", False))
        return frozenset(int(i) for i in getattr(self._hf, "all_special_ids", []))

    def merges_hash(self) -> str:
        if self._tok is not None:
            model = orjson.loads(self._tok.to_str()).get("model", {})
            return content_hash({"vocab": model.get("vocab"), "merges": model.get("merges")})
        return content_hash(sorted(self._hf.get_vocab().items()))

    def fingerprint(self) -> str:
        if self._fp is None:
            self._fp = surfaces_fingerprint(self.surfaces())
        return self._fp

    def describe(self) -> dict[str, Any]:
        return {"kind": "hf", "name": self.name, "path": self.path, "vocab_size": self.vocab_size,
                "fingerprint": self.fingerprint(), "merges_hash": self.merges_hash()}


# --- served model's endpoint ------------------------------------------------------------------

_SENTINEL = "\u27e6rl\u00a7sep\u27e7"   # unusual text, several tokens in any vocabulary


class EndpointTokenizer:
    """Tokenize/detokenize through a served model (vLLM or llama-cpp-python).

    ``vocab_size`` must be given (no server reports it; probing ids past the vocabulary can crash
    llama.cpp, and vLLM decodes unknown ids to "" without an error).
    """

    def __init__(self, base_url: str, model: str, *, flavour: str = "auto",
                 vocab_size: int | None = None, batch: int = 256, concurrency: int = 4,
                 cache: bool = True, api_key_env: str = "OPENAI_API_KEY"):
        from reasonlens.endpoint import EndpointConfig

        root = base_url.rstrip("/")
        self.root = root[:-3] if root.endswith("/v1") else root
        self.model = model
        self.name = f"endpoint:{model}"
        self.batch = max(1, int(batch))
        self.cache = cache
        self._config = EndpointConfig(base_urls=(self.root,), model=model, max_retries=1,
                                      backoff_base=0.05, backoff_max=0.5, timeout=120.0,
                                      concurrency=concurrency, api_key_env=api_key_env)
        self.flavour = self._detect(flavour)
        self._prefix = self._tokenize_many([""])[0] if self.flavour == "llamacpp" else []
        if vocab_size is None:
            raise ConfigError("--vocab-size is required to scan a served model's vocabulary "
                              "(neither vLLM nor llama-cpp-python reports it, and probing past "
                              "its end can crash llama.cpp; see the model's config.json), or "
                              "pass --tokenizer DIR with the model's tokenizer")
        self.vocab_size = int(vocab_size)
        self._enc_cache: dict[str, list[int]] = {}
        self._surfaces: list[str] | None = None
        self.requests = 0

    # -- transport
    def _run(self, coro_fn):
        from reasonlens.endpoint import EndpointPool

        async def go():
            async with EndpointPool(self._config) as pool:
                return await coro_fn(pool)
        return asyncio.run(go())

    def _detect(self, flavour: str) -> str:
        if flavour in ("vllm", "llamacpp"):
            return flavour
        if flavour != "auto":
            raise ConfigError(f"tokenizer endpoint flavour must be auto, vllm or llamacpp, "
                              f"got {flavour!r}")
        for fl in ("vllm", "llamacpp"):
            try:
                self.flavour = fl
                self._tokenize_many(["hi"])
                return fl
            except EndpointError:
                continue
        raise ConfigError(f"{self.root} offers neither vLLM's /tokenize nor llama-cpp-python's "
                          "/extras/tokenize; pass --tokenizer DIR with the model's tokenizer")

    def _tok_body(self, text: str) -> tuple[str, dict[str, Any]]:
        if self.flavour == "vllm":
            return "/tokenize", {"model": self.model, "prompt": text, "add_special_tokens": False}
        return "/extras/tokenize", {"model": self.model, "input": text}

    def _detok_body(self, ids: Sequence[int]) -> tuple[str, dict[str, Any]]:
        path = "/detokenize" if self.flavour == "vllm" else "/extras/detokenize"
        return path, {"model": self.model, "tokens": [int(i) for i in ids]}

    def _tokenize_many(self, texts: Sequence[str]) -> list[list[int]]:
        async def go(pool):
            async def one(t):
                path, body = self._tok_body(t)
                data, _ = await pool.post_json(path, body)
                toks = data.get("tokens")
                if not isinstance(toks, list):
                    raise EndpointError(f"{self.root}{path}: no 'tokens' list in {str(data)[:200]}")
                return [int(x) for x in toks]
            return await asyncio.gather(*(one(t) for t in texts))
        out = self._run(go)
        self.requests = getattr(self, "requests", 0) + len(texts)
        pre = getattr(self, "_prefix", [])
        if pre:
            out = [o[len(pre):] if o[:len(pre)] == pre else o for o in out]
        return out

    def _detokenize_many(self, id_lists: Sequence[Sequence[int]]) -> list[str | None]:
        """Detokenize each list; None where the server failed on that list."""
        async def go(pool):
            async def one(ids):
                path, body = self._detok_body(ids)
                try:
                    data, _ = await pool.post_json(path, body)
                except EndpointError:
                    return None
                text = data.get("prompt") if self.flavour == "vllm" else data.get("text")
                return text if isinstance(text, str) else None
            return await asyncio.gather(*(one(ids) for ids in id_lists))
        self.requests += len(id_lists)
        return self._run(go)

    # -- protocol
    def encode(self, text: str) -> list[int]:
        return self.encode_batch([text])[0]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._enc_cache]
        for start in range(0, len(todo), 512):
            chunk = todo[start:start + 512]
            for t, ids in zip(chunk, self._tokenize_many(chunk)):
                self._enc_cache[t] = ids
        return [list(self._enc_cache[t]) for t in texts]

    def decode(self, ids: Sequence[int]) -> str:
        out = self._detokenize_many([list(ids)])[0]
        if out is None:
            raise EndpointError(f"{self.root}: detokenize failed for {list(ids)[:20]}")
        return out

    def special_ids(self) -> frozenset[int]:
        """Ids the server detokenizes to nothing (llama.cpp renders control tokens as "")."""
        return frozenset(i for i, s in enumerate(self.surfaces()) if s == "")

    def _cache_path(self) -> Path:
        key = content_hash({"root": self.root, "model": self.model, "flavour": self.flavour,
                            "vocab_size": self.vocab_size})[3:]
        return reasonlens_home() / "cache" / "tokenizers" / f"{key}.json"

    def surfaces(self, progress=None) -> list[str]:
        if self._surfaces is not None:
            return self._surfaces
        path = self._cache_path()
        if self.cache and path.is_file():
            cached = orjson.loads(path.read_bytes())
            surf = cached.get("surfaces")
            if isinstance(surf, list) and len(surf) == self.vocab_size and self._probe_ok(surf):
                self._surfaces = surf
                return surf
        self._surfaces = self._scan(progress)
        if self.cache:
            from reasonlens.io import atomic_write_bytes

            atomic_write_bytes(path, orjson.dumps({"root": self.root, "model": self.model,
                                                   "flavour": self.flavour,
                                                   "vocab_size": self.vocab_size,
                                                   "surfaces": self._surfaces}))
        return self._surfaces

    def _probe_ok(self, surf: list[str]) -> bool:
        """A cached scan is reused only if a few spread-out ids still decode the same."""
        step = max(1, self.vocab_size // 7)
        probe = [i for i in range(0, self.vocab_size, step) if surf[i] != REPLACEMENT][:8]
        got = self._detokenize_many([[i] for i in probe])
        return all(g == surf[i] for g, i in zip(got, probe))

    def _scan(self, progress=None) -> list[str]:
        return self.scan_range(0, self.vocab_size, progress=progress)

    def scan_range(self, start: int, stop: int, progress=None) -> list[str]:
        """Surfaces of ids ``start..stop-1``: batches of ids between sentinels, one request
        each; a batch that fails or does not split cleanly is bisected down to single ids (a
        lone partial UTF-8 byte becomes U+FFFD)."""
        sep_ids = self.encode(_SENTINEL)
        sep = self.decode(sep_ids)
        if not sep or sep not in self.decode(sep_ids + [0] + sep_ids):
            raise EndpointError(f"{self.root}: the detokenize endpoint does not round-trip a "
                                "sentinel; cannot scan the vocabulary")
        out: dict[int, str] = {}
        batches = [list(range(s, min(s + self.batch, stop))) for s in range(start, stop,
                                                                          self.batch)]
        pending = batches
        while pending:
            chunk, pending = pending[:8], pending[8:]
            texts = self._detokenize_many([self._interleave(b, sep_ids) for b in chunk])
            for b, text in zip(chunk, texts):
                parts = text.split(sep) if text is not None else []
                if text is not None and len(parts) == len(b) + 2 and not parts[0] \
                        and not parts[-1]:
                    for i, s in zip(b, parts[1:-1]):
                        out[i] = s
                    if progress:
                        progress(len(b))
                elif len(b) == 1:
                    single = self._detokenize_many([b])[0]
                    out[b[0]] = single if single is not None else REPLACEMENT
                    if progress:
                        progress(1)
                else:
                    half = len(b) // 2
                    pending = [b[:half], b[half:]] + pending
        return [out.get(i, REPLACEMENT) for i in range(start, stop)]

    @staticmethod
    def _interleave(ids: list[int], sep_ids: list[int]) -> list[int]:
        seq = list(sep_ids)
        for i in ids:
            seq.append(i)
            seq.extend(sep_ids)
        return seq

    def fingerprint(self) -> str:
        return surfaces_fingerprint(self.surfaces())

    def describe(self) -> dict[str, Any]:
        return {"kind": f"endpoint:{self.flavour}", "name": self.name, "url": self.root,
                "vocab_size": self.vocab_size, "fingerprint": self.fingerprint()}


def load_tokenizer(*, tokenizer: str | None = None, base_url: str | None = None,
                   model: str | None = None, vocab_size: int | None = None,
                   flavour: str = "auto") -> BanTokenizer:
    """A local tokenizer when ``tokenizer`` is given, else the endpoint's."""
    if tokenizer:
        return HFTokenizer(tokenizer)
    if base_url and model:
        return EndpointTokenizer(base_url, model, flavour=flavour, vocab_size=vocab_size)
    raise ConfigError("a tokenizer is needed: pass --tokenizer DIR (or --model-path) or a "
                      "--base-url serving a tokenize endpoint")
