"""transformers ``generate`` with a logits processor that enforces a ban set (runs on CPU).

:class:`BanLogitsProcessor` sets ``-inf`` on every single banned id at every step, and on the last
id of each banned multi-token sequence when the ids generated so far end with that sequence's
prefix (every multi-token variant: " hmm" = "Ġh"+"mm" blocks "mm" right after "Ġh"). Pieces are
not needed here: sequences are blocked exactly.

:func:`generate_traces` writes the same append-only, resumable JSONL records as
``reasonlens.generate.run_generation`` (trace fields plus ``condition`` and ``answer_type``), so
the ablation grades and audits every backend alike. torch and transformers are imported inside
functions only.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from reasonlens.errors import AblationError, ConfigError

_MODELS: dict[str, tuple[Any, Any]] = {}


class BanLogitsProcessor:
    """Blocks single ids always and the last id of each sequence after its prefix."""

    def __init__(self, single_ids: Iterable[int] = (), sequences: Iterable[Sequence[int]] = ()):
        self.single_ids = sorted({int(i) for i in single_ids})
        by_prefix: dict[tuple[int, ...], set[int]] = {}
        for seq in sequences:
            seq = tuple(int(i) for i in seq)
            if len(seq) == 1:
                self.single_ids.append(seq[0])
            elif len(seq) > 1:
                by_prefix.setdefault(seq[:-1], set()).add(seq[-1])
        self.single_ids = sorted(set(self.single_ids))
        self.by_prefix = {k: sorted(v) for k, v in by_prefix.items()}
        self.prefix_lengths = sorted({len(k) for k in self.by_prefix})
        self._single_t = None

    def blocked_after(self, history: Sequence[int]) -> set[int]:
        """Ids blocked as the next token after ``history`` (pure; used by tests and __call__)."""
        out = set(self.single_ids)
        for n in self.prefix_lengths:
            if len(history) >= n:
                out.update(self.by_prefix.get(tuple(history[-n:]), ()))
        return out

    def __call__(self, input_ids, scores):
        import torch

        if self.single_ids:
            if self._single_t is None or self._single_t.device != scores.device:
                ids = [i for i in self.single_ids if i < scores.shape[-1]]
                self._single_t = torch.tensor(ids, dtype=torch.long, device=scores.device)
            scores[:, self._single_t] = float("-inf")
        if self.prefix_lengths:
            maxn = self.prefix_lengths[-1]
            tails = input_ids[:, -maxn:].tolist()
            for row, tail in enumerate(tails):
                for n in self.prefix_lengths:
                    if len(tail) >= n:
                        last = self.by_prefix.get(tuple(tail[-n:]))
                        if last:
                            scores[row, last] = float("-inf")
        return scores


def set_threads(threads: int | None) -> None:
    """Set torch's intra-op threads (None: leave torch's default). On a shared CPU, 1 thread is
    often much faster than oversubscribed cores (measured: 4 s vs 70 s for 24 tokens)."""
    if threads:
        import torch

        torch.set_num_threads(int(threads))


def resolve_device(device: str | None) -> str:
    """``auto`` (or None): ``cuda`` when torch sees a GPU, else ``cpu``; otherwise as given."""
    if device in (None, "auto"):
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def load_model(model_path: str | Path, device: str | None = "cpu"):
    """(model, tokenizer) from a transformers directory, cached per process and device, eval
    mode, on ``device`` (``auto``: the GPU when there is one)."""
    dev = resolve_device(device)
    key = f"{model_path}@{dev}"
    if key not in _MODELS:
        from reasonlens._optional import import_torch, import_transformers

        import_torch()
        transformers = import_transformers()
        p = Path(model_path)
        if not p.exists():
            raise ConfigError(f"--model-path {p} does not exist")
        try:
            tok = transformers.AutoTokenizer.from_pretrained(str(model_path))
            model = transformers.AutoModelForCausalLM.from_pretrained(str(model_path))
        except Exception as exc:  # noqa: BLE001 - report any load failure cleanly
            raise AblationError(f"cannot load a transformers model from {p}: {exc}") from exc
        model.to(dev)
        model.eval()
        _MODELS[key] = (model, tok)
    return _MODELS[key]


def _prompt_ids(tok, messages: list[dict[str, str]]) -> list[int]:
    cont = bool(messages) and messages[-1].get("role") == "assistant"
    if getattr(tok, "chat_template", None):
        out = tok.apply_chat_template(messages, add_generation_prompt=not cont,
                                      continue_final_message=cont, tokenize=True)
        if isinstance(out, dict) or hasattr(out, "keys"):
            out = out["input_ids"]
        return [int(i) for i in out]
    text = "\n\n".join(m["content"] for m in messages)
    return [int(i) for i in tok(text, add_special_tokens=True)["input_ids"]]


def generate_ids(model, tok, prompt_ids: list[int], *, max_new_tokens: int,
                 temperature: float = 0.0, top_p: float | None = None, n: int = 1,
                 seed: int | None = None, processor: BanLogitsProcessor | None = None
                 ) -> list[list[int]]:
    """Generate ``n`` continuations of ``prompt_ids``; returns only the new ids of each."""
    import torch
    from transformers import LogitsProcessorList

    if seed is not None:
        torch.manual_seed(int(seed))
    inp = torch.tensor([prompt_ids], dtype=torch.long, device=model.device)
    kwargs: dict[str, Any] = {"max_new_tokens": int(max_new_tokens), "num_return_sequences": n,
                              "attention_mask": torch.ones_like(inp)}
    if temperature and temperature > 0:
        kwargs.update(do_sample=True, temperature=float(temperature))
        if top_p is not None:
            kwargs["top_p"] = float(top_p)
    else:
        kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if n > 1:
            raise ConfigError("n > 1 needs temperature > 0 (greedy samples are identical)")
    if tok.pad_token_id is None:
        kwargs["pad_token_id"] = tok.eos_token_id
    if processor is not None:
        kwargs["logits_processor"] = LogitsProcessorList([processor])
    with torch.no_grad():
        out = model.generate(inp, **kwargs)
    return [row[len(prompt_ids):].tolist() for row in out.cpu()]


def _eos_ids(model, tok) -> set[int]:
    ids = set()
    for src in (getattr(model, "generation_config", None), tok):
        e = getattr(src, "eos_token_id", None)
        if isinstance(e, int):
            ids.add(e)
        elif isinstance(e, (list, tuple)):
            ids.update(int(x) for x in e)
    return ids


def _finish(tok, new_ids: list[int], eos: set[int], stop: Sequence[str] | None
            ) -> tuple[str, str, int]:
    """(text, finish_reason, completion_tokens): cut at the first EOS (padding after it in
    multi-sample output) and at the first stop string."""
    ids = list(new_ids)
    finish, n_tok = "length", len(ids)
    for k, t in enumerate(ids):
        if t in eos:
            ids, finish, n_tok = ids[:k], "stop", k + 1
            break
    text = tok.decode(ids, skip_special_tokens=True)
    for s in stop or ():
        pos = text.find(s)
        if s and pos >= 0:
            text, finish = text[:pos], "stop"
    return text, finish, n_tok


def generate_traces(problems: pl.DataFrame, *, model_path: str | Path, sampling, out_path,
                    model_name: str, ban_ids: Iterable[int] = (),
                    ban_sequences: Iterable[Sequence[int]] = (), condition: dict | None = None,
                    progress: bool = True, threads: int | None = None,
                    device: str | None = "cpu") -> dict[str, Any]:
    """Generate every (problem, sample) not yet in ``out_path`` and append its record.

    ``sampling`` is a :class:`reasonlens.generate.SamplingConfig` (temperature, top_p,
    max_tokens, n, seed, stop, template; sample ``s`` uses ``seed + s`` as there). ``ban_ids``
    are blocked always, ``ban_sequences`` after their prefix (a BanSet's ``single_ids`` and
    ``sequences``). Records are built and written by the
    generation module's own helpers (same fields, same resume and torn-line repair).
    """
    from reasonlens.problems import load_template, render_prompt
    from reasonlens.generate.config import build_record, plan_work, response_text
    from reasonlens.generate.progress import GenProgress
    from reasonlens.generate.run import check_resume, fingerprint_of, sidecar_path
    from reasonlens.generate.store import JsonlAppender, repair_and_scan
    from reasonlens.io import write_json
    from reasonlens.provenance import provenance

    set_threads(threads)
    model, tok = load_model(model_path, device)
    ban_ids, ban_sequences = list(ban_ids), list(ban_sequences)
    processor = BanLogitsProcessor(ban_ids, ban_sequences) if ban_ids or ban_sequences else None
    eos = _eos_ids(model, tok)
    template = load_template(sampling.template)
    temperature = float(sampling.temperature or 0.0)
    out_path = Path(out_path)
    fingerprint = fingerprint_of(model_name, str(model_path), sampling, template, condition)
    check_resume(out_path, fingerprint)
    done, info = repair_and_scan(out_path)
    side = {"fingerprint": fingerprint, "status": "running", "provenance": provenance(
        command="ablate --backend hf", config={"sampling": sampling.as_dict(),
                                               "model_path": str(model_path),
                                               "condition": condition},
        data_files=[template.record()], extra_packages=("torch", "transformers"))}
    write_json(sidecar_path(out_path), side)
    units, skipped = plan_work(problems, sampling.n, done)
    written = new_tokens = 0
    t0 = time.perf_counter()
    todo = sum(len(u.samples) for u in units)
    with JsonlAppender(out_path) as out, GenProgress(todo, enabled=progress,
                                                     description="generate (hf)") as bar:
        for unit in units:
            messages = render_prompt(unit.row, template)
            prompt_ids = _prompt_ids(tok, messages)
            user = next(m["content"] for m in messages if m["role"] == "user")
            # greedy: one generation serves every sample; sampling: one call per sample so that
            # sample s is reproducible from seed + s whatever else was already done
            batches = [unit.samples] if temperature <= 0 else [(s,) for s in unit.samples]
            for samples in batches:
                seed = sampling.seed_for(samples[0])
                gens = generate_ids(model, tok, prompt_ids, max_new_tokens=sampling.max_tokens,
                                    temperature=temperature, top_p=sampling.top_p, n=1,
                                    seed=seed, processor=processor)
                for s in samples:
                    text, finish, ntok = _finish(tok, gens[0], eos, sampling.stop)
                    text = response_text(text, None, template.assistant_prefix)
                    new_tokens += ntok
                    out.write(build_record(
                        unit.row, s, model=model_name, prompt=user, response=text,
                        finish_reason=finish, prompt_tokens=len(prompt_ids),
                        completion_tokens=ntok, condition=condition,
                        extra={"template": f"{template.name}@{template.version}", "seed": seed,
                               "backend": "transformers",
                               "generated_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                              time.gmtime())}))
                    written += 1
                    bar.advance(1, ntok)
    secs = time.perf_counter() - t0
    side["status"] = "complete"
    write_json(sidecar_path(out_path), side)
    return {"output": str(out_path), "written": written, "skipped_existing": skipped,
            "repaired_bytes": info["repaired_bytes"], "seconds": round(secs, 3),
            "completion_tokens": new_tokens,
            "tokens_per_s": round(new_tokens / secs, 2) if secs > 0 else None,
            "backend": "transformers", "device": str(model.device)}
