"""A Math-Verify worker process: ``python -m reasonlens.grade._worker [--mem-mb N]``.

Protocol (one JSON array per line): it writes ``["ready", pid]`` once Math-Verify is imported,
then answers each task ``[idx, gold, pred, raw]`` read from stdin with
``[idx, correct, shown, reason, detail]`` on the original stdout. Started as a plain subprocess
(not multiprocessing), so nothing re-imports the caller's ``__main__`` module; the parent kills it
on a timeout. Every Math-Verify call runs with its own signal-based timeouts switched off.
"""

from __future__ import annotations

import logging
import os
import sys


def _wrap(s: str) -> str:
    s = s.strip()
    if "\\boxed" in s or s.startswith("$"):
        return s
    return "\\boxed{" + s + "}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    mem_mb = int(argv[argv.index("--mem-mb") + 1]) if "--mem-mb" in argv else 0
    if mem_mb > 0:
        try:
            import resource

            limit = mem_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ImportError, ValueError, OSError):
            pass
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    sys.stdout = sys.stderr          # stray prints must not corrupt the protocol
    logging.disable(logging.WARNING)
    from functools import lru_cache

    import orjson
    from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

    cfg = [LatexExtractionConfig(boxed_match_priority=0), ExprExtractionConfig()]

    def send(obj) -> None:
        out.write(orjson.dumps(obj) + b"\n")

    @lru_cache(maxsize=4096)
    def parse_gold(g: str):
        got = parse(_wrap(g), extraction_config=cfg, parsing_timeout=None)
        if not got:
            got = parse(g, extraction_config=cfg, parsing_timeout=None)
        return got

    verify(parse_gold("1"), parse_gold("1"), timeout_seconds=None)   # warm up
    send(["ready", os.getpid()])
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        idx, gold, pred, raw = orjson.loads(line)
        try:
            g = parse_gold(gold)
            if not g:
                send([idx, None, None, "parse_error", "gold answer does not parse"])
                continue
            if raw:
                p = parse(pred, extraction_config=cfg, parsing_timeout=None)
                if not p:
                    send([idx, None, None, "no_answer", "nothing parseable in the text"])
                    continue
            else:
                p = parse(_wrap(pred), extraction_config=cfg, parsing_timeout=None)
                if not p:
                    p = parse(pred, extraction_config=cfg, parsing_timeout=None)
                if not p:
                    send([idx, None, None, "parse_error", "answer does not parse"])
                    continue
            ok = bool(verify(g, p, timeout_seconds=None))
            shown = str(p[-1]) if len(p) > 1 else str(p[0])
            send([idx, ok, shown[:500], "ok", ""])
        except MemoryError:
            send([idx, None, None, "parse_error", "memory limit reached"])
        except BaseException as exc:  # noqa: BLE001 - report and keep serving
            send([idx, None, None, "parse_error", f"{type(exc).__name__}: {exc}"[:300]])
    return 0


if __name__ == "__main__":
    sys.exit(main())
