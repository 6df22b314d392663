"""The one redaction helper: keep API keys and URL credentials out of outputs, caches and logs.

- :func:`redact_url` replaces the ``user:password@`` part of a URL with ``***@``.
- :class:`Redactor` replaces known secret values (an API key read from the environment, the
  user names and passwords inside base URLs) in any text, and applies :func:`redact_url` to URLs.
- :func:`install_log_redaction` adds a logging filter that passes every log record through a
  :class:`Redactor` (a server may echo a key or a URL in an error).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

MASK = "***"
_CRED = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<cred>[^/@\s]+)@")


def redact_url(url: str) -> str:
    """``http://user:pw@host/v1`` -> ``http://***@host/v1``; other URLs unchanged."""
    return _CRED.sub(lambda m: f"{m.group('scheme')}{MASK}@", url)


def url_secrets(url: str) -> list[str]:
    """The user name and password of a URL (raw and percent-decoded), if any."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    out = []
    for v in (parts.username, parts.password):
        if v:
            out += [v, unquote(v)]
    return out


class Redactor:
    """Callable: ``redactor(text)`` with every secret replaced by ``***`` (None stays None)."""

    def __init__(self, secrets: Iterable[str] = ()):
        # only secrets long enough not to hit ordinary words; longest first
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    @classmethod
    def for_endpoint(cls, base_urls: Iterable[str] = (), api_key_env: str | None = None
                     ) -> Redactor:
        secrets = [os.environ.get(api_key_env) or ""] if api_key_env else []
        for u in base_urls:
            secrets += url_secrets(u)
        return cls(secrets)

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        text = redact_url(text)
        for s in self.secrets:
            if s in text:
                text = text.replace(s, MASK)
        return text

    def record(self, obj: Any) -> Any:
        """``obj`` (dicts, lists, strings) with every string redacted."""
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {k: self.record(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.record(v) for v in obj]
        return obj


class _LogFilter(logging.Filter):
    def __init__(self, redactor: Redactor):
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        red = self.redactor(msg)
        if red != msg:
            record.msg, record.args = red, ()
        return True


def install_log_redaction(redactor: Redactor) -> None:
    """Redact every record that reaches the root handlers (and logging's last resort)."""
    for h in [*logging.getLogger().handlers, logging.lastResort]:
        if h is None:
            continue
        for f in [f for f in h.filters if isinstance(f, _LogFilter)]:
            h.removeFilter(f)
        h.addFilter(_LogFilter(redactor))
