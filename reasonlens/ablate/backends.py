"""Ban enforcement on servers: OpenAI-compatible ``logit_bias`` and vLLM offline.

**OpenAI-compatible** (vLLM/SGLang/llama.cpp servers, OpenAI): every unconditional id of the ban
set (single ids, then pieces; see :mod:`reasonlens.ablate.bans`) gets a bias of -100. Multi-token
sequences cannot be expressed in ``logit_bias``; they are blocked only through their pieces and
otherwise leak (measured by the audit). Servers cap the number of entries: api.openai.com accepts
about 300 (``--max-bias-entries``, default 300 there and unlimited elsewhere). Over the cap the
run is refused with the numbers, or with ``--over-limit truncate`` cut to the first entries (most
common forms first) with a warning, and the dropped ids are recorded. Reasoning models on the
OpenAI API reject ``logit_bias`` altogether.

Some clients and proxies drop ``logit_bias`` silently, so :func:`check_ban` tests it before the
run: a prompt that asks the model to repeat a banned word, sent without and with the bias
(optionally with logprobs, comparing the sampled tokens with the banned surfaces). The result
("passed", "inconclusive" when the model does not say the word even unbanned, "failed") is
recorded; "failed" stops the run.

**vLLM offline**: the same unconditional ids as ``SamplingParams(logit_bias=...)``
(:func:`vllm_sampling`); the engine runs through ``reasonlens.generate.run_generation_vllm``
behind ``reasonlens._optional.import_vllm`` (needs a CUDA GPU and ``pip install
'reasonlens[gpu]'``; elsewhere a clean MissingDependencyError).
"""

from __future__ import annotations

import logging
from typing import Any

from reasonlens.ablate.audit import LeakageMatcher
from reasonlens.errors import AblationError, ConfigError

log = logging.getLogger(__name__)

OPENAI_MAX_BIAS_ENTRIES = 300


def default_bias_limit(base_urls: tuple[str, ...] | list[str]) -> int | None:
    """300 for api.openai.com, unlimited (None) for other servers."""
    return OPENAI_MAX_BIAS_ENTRIES if any("api.openai.com" in u for u in base_urls) else None


def limited_bias(banset, *, limit: int | None, over_limit: str = "refuse",
                 sequences_supported: bool = False) -> tuple[dict[int, float], dict[str, Any]]:
    """The ``logit_bias`` dict of ``banset`` under an entry limit, and what happened.

    ``over_limit``: "refuse" raises :class:`AblationError` naming the numbers; "truncate" keeps
    the first ``limit`` ids (bare/space/newline lower and Title forms first, pieces last).
    """
    if over_limit not in ("refuse", "truncate"):
        raise ConfigError(f"--over-limit must be refuse or truncate, got {over_limit!r}")
    ids = banset.bias_ids(sequences_supported=sequences_supported)
    info: dict[str, Any] = {"n_entries": len(ids), "limit": limit, "truncated": False,
                            "dropped_ids": []}
    if limit is not None and len(ids) > limit:
        if over_limit == "refuse":
            raise AblationError(
                f"ban set {banset.name!r} needs {len(ids)} logit_bias entries but the server "
                f"accepts at most {limit} (--max-bias-entries). Ban fewer categories or words, "
                "drop sub-word pieces with --no-collateral-pieces, raise the limit if the "
                "server allows more, or pass --over-limit truncate to keep the first "
                f"{limit} ids (most common forms first) and record the rest as not banned")
        info.update(truncated=True, dropped_ids=ids[limit:], n_entries=limit)
        log.warning("ban set %s: %d logit_bias entries exceed the limit %d; keeping the first "
                    "%d, %d ids are NOT banned", banset.name, len(ids), limit, limit,
                    len(ids) - limit)
        ids = ids[:limit]
    return {int(i): float(banset.config.bias) for i in ids}, info


def _probe_lexeme(banset) -> str:
    single = banset.single_token_lexemes()
    for pref in ("wait", "but", "maybe", "alternatively", "so"):
        if pref in single:
            return pref
    return single[0] if single else banset.lexemes[0]


def check_ban(endpoint, banset, bias: dict[int, float], *, surfaces=None,
              max_tokens: int = 12, logprobs: bool = False) -> dict[str, Any]:
    """Ask the server to repeat a banned word with and without the bias; see module doc.

    With ``logprobs`` (slow on llama-cpp-python) the sampled tokens are also compared with the
    banned ids' surfaces."""
    from reasonlens.endpoint import EndpointPool, build_chat_request, run_async

    word = _probe_lexeme(banset)
    shown = word[:1].upper() + word[1:]
    messages = [{"role": "user", "content": f'Repeat exactly: "{shown} {word} {word}"'}]
    matcher = LeakageMatcher.build([word])
    banned_surfaces = {surfaces[i] for i in bias} if surfaces is not None else set()

    async def go():
        async with EndpointPool(endpoint) as pool:
            out = {}
            for name, b in (("control", None), ("banned", bias)):
                body = build_chat_request(endpoint.model, messages, temperature=0.0,
                                          max_tokens=max_tokens, seed=0, logit_bias=b,
                                          logprobs=logprobs or None)
                resp = await pool.chat(body)
                ch = resp.choices[0]
                text = (ch.reasoning or "") + (ch.text or "")
                toks = _logprob_tokens(resp.raw)
                out[name] = {"text": text, "mentions": sum(a + b for a, b in
                                                          matcher.scan(text).values()),
                             "banned_tokens_sampled": sorted({t for t in toks
                                                              if t in banned_surfaces})}
            return out

    try:
        res = run_async(go())
    except Exception as exc:  # noqa: BLE001 - the check must never hide the real error
        from reasonlens.errors import EndpointError

        if isinstance(exc, EndpointError) and "logit_bias" in str(exc):
            raise AblationError(f"the server rejected logit_bias ({exc}); reasoning models on "
                                "the OpenAI API do not accept it") from exc
        raise
    ctrl, ban = res["control"], res["banned"]
    if ban["mentions"] or ban["banned_tokens_sampled"]:
        status = "failed"
    elif ctrl["mentions"]:
        status = "passed"
    else:
        status = "inconclusive"
    return {"status": status, "probe_word": word, "n_entries": len(bias),
            "control_mentions": ctrl["mentions"], "banned_mentions": ban["mentions"],
            "banned_tokens_sampled": ban["banned_tokens_sampled"],
            "control_text": ctrl["text"][:200], "banned_text": ban["text"][:200]}


def _logprob_tokens(raw: dict[str, Any]) -> list[str]:
    """Sampled token strings from an OpenAI-style chat ``logprobs`` block, if any."""
    out = []
    for ch in raw.get("choices") or []:
        lp = (ch or {}).get("logprobs") or {}
        for item in lp.get("content") or []:
            if isinstance(item, dict) and isinstance(item.get("token"), str):
                out.append(item["token"])
    return out


def vllm_sampling(sampling, banset):
    """``sampling`` with the ban's ``logit_bias`` for vLLM offline (pure). The generation
    module turns it into ``SamplingParams(logit_bias=...)``; vLLM's offline constructor does not
    clamp, -100 is passed as is. Sequences are blocked through their pieces (vLLM's
    ``bad_words`` misses space-prefixed forms; see docs/ablation.md)."""
    import dataclasses

    bias = banset.logit_bias(sequences_supported=False) if banset is not None else None
    return dataclasses.replace(sampling, logit_bias=bias or None)
