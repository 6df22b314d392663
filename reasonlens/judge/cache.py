"""SQLite cache of judge replies, keyed by a content hash of the canonical request.

The key (:func:`cache_key`) hashes the model, the rubric's name, version and file hash, the
template's version and hash, the messages (which hold the chunk text), the sampling parameters and
the configured structured-output mode (see :func:`reasonlens.judge.request.cache_key_material`).
The value is the judge's raw reply with its finish reason and token usage; replies are parsed
again when served, so a parser fix applies to cached replies too.

Durability: WAL journal, one transaction per finished judgment (``put`` commits at once), so a
``kill -9`` loses nothing already finished and a rerun of the same command serves those replies.
Only successful HTTP replies are stored (a failed request is retried on the next run); the request
body is stored compressed for audit. Request headers (where an API key travels) are never passed
to the cache, so no key can reach it.

The schema is managed by named migrations recorded in ``_migrations`` (in the style of
simonw/llm's ``migrations.py``); add a new function to ``MIGRATIONS``, never edit an applied one.
Permissions: the cache file (and SQLite's -wal/-shm files) is created 0600, owner only, whatever
the umask, because it holds full trace text and replies; stage outputs follow the umask.
Default location: ``$REASONLENS_HOME/judge-cache.sqlite`` (``REASONLENS_HOME`` defaults to
``~/.cache/reasonlens``).
"""

from __future__ import annotations

import datetime as _dt
import os
import sqlite3
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from reasonlens.errors import ConfigError
from reasonlens.home import reasonlens_home
from reasonlens.provenance import canonical_json, content_hash


def default_cache_path() -> Path:
    return reasonlens_home() / "judge-cache.sqlite"


def cache_key(material: dict[str, Any]) -> str:
    """``b2:`` + blake2b-128 of the canonical JSON of the request material."""
    return content_hash(material)


def _m001_judgments(db: sqlite3.Connection) -> None:
    db.execute("""CREATE TABLE judgments (
        key TEXT PRIMARY KEY,
        created_utc TEXT NOT NULL,
        model TEXT NOT NULL,
        rubric_name TEXT, rubric_version TEXT, rubric_sha256 TEXT,
        template_version TEXT,
        request_z BLOB,
        reply TEXT,
        finish_reason TEXT,
        refusal TEXT,
        response_format TEXT,
        prompt_tokens INTEGER, completion_tokens INTEGER,
        latency_s REAL
    )""")


def _m002_settings(db: sqlite3.Connection) -> None:
    """Remembered endpoint facts, e.g. that a model's server rejects json_schema."""
    db.execute("CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT, updated_utc TEXT)")


MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("m001_judgments", _m001_judgments),
    ("m002_settings", _m002_settings),
]


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    writes: int = 0
    bypassed: int = 0   # sampled requests not served from the cache

    def as_dict(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "writes": self.writes,
                "bypassed": self.bypassed}


@dataclass(frozen=True)
class CachedReply:
    reply: str | None
    finish_reason: str | None
    refusal: str | None
    response_format: str | None
    prompt_tokens: int
    completion_tokens: int


CACHE_MODE = 0o600


def _private(path: Path) -> None:
    """Create the cache file readable by its owner only (it holds full trace text and replies);
    SQLite gives its -wal and -shm files the same permissions. An existing file is tightened."""
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            os.chmod(p, CACHE_MODE)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, CACHE_MODE))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class JudgeCache:
    """A judge cache file. Not shared between threads; one process may hold it open while
    others read and write the same file (SQLite WAL; writers wait up to 30 s)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _private(self.path)
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")  # a file that is not SQLite fails here
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL+NORMAL: durable across kill
            self.stats = CacheStats()
            self.migrate()
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the judge cache {self.path}: {exc} (--cache must "
                              "be a judge cache file, or a new path)") from exc

    # -- schema ----------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply pending migrations; returns the names applied now."""
        db = self.db
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
                   "applied_utc TEXT NOT NULL)")
        done = {r[0] for r in db.execute("SELECT name FROM _migrations")}
        applied = []
        for name, fn in MIGRATIONS:
            if name in done:
                continue
            db.execute("BEGIN IMMEDIATE")
            try:
                if not db.execute("SELECT 1 FROM _migrations WHERE name=?", (name,)).fetchone():
                    fn(db)
                    db.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _now()))
                    applied.append(name)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        return applied

    def migrations(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT name FROM _migrations ORDER BY rowid")]

    # -- judgments ---------------------------------------------------------------------------
    def get(self, key: str) -> CachedReply | None:
        row = self.db.execute(
            "SELECT reply, finish_reason, refusal, response_format, prompt_tokens, "
            "completion_tokens FROM judgments WHERE key=?", (key,)).fetchone()
        if row is None:
            self.stats.misses += 1
            return None
        self.stats.hits += 1
        return CachedReply(row[0], row[1], row[2], row[3], row[4] or 0, row[5] or 0)

    def put(self, key: str, *, material: dict[str, Any], body: dict[str, Any],
            reply: str | None, finish_reason: str | None, refusal: str | None,
            usage: dict[str, int], latency_s: float | None = None) -> None:
        """Store one finished judgment and commit at once."""
        rubric = material.get("rubric", {})
        rf = body.get("response_format")
        self.db.execute(
            "INSERT OR REPLACE INTO judgments VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (key, _now(), material.get("model", ""), rubric.get("name"), rubric.get("version"),
             rubric.get("sha256"), material.get("template", {}).get("version"),
             zlib.compress(canonical_json(body), 6), reply, finish_reason, refusal,
             orjson.dumps(rf).decode() if rf is not None else None,
             int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0)),
             latency_s))
        self.stats.writes += 1

    def request(self, key: str) -> dict[str, Any] | None:
        """The stored request body (for audit)."""
        row = self.db.execute("SELECT request_z FROM judgments WHERE key=?", (key,)).fetchone()
        return orjson.loads(zlib.decompress(row[0])) if row and row[0] else None

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM judgments").fetchone()[0]

    # -- settings ----------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        row = self.db.execute("SELECT value FROM settings WHERE name=?", (name,)).fetchone()
        return row[0] if row else None

    def set_setting(self, name: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO settings VALUES (?,?,?)", (name, value, _now()))

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> JudgeCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
