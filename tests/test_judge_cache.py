"""SQLite judge cache: named migrations, WAL, immediate commits (kill -9 safe), location."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

from reasonlens.judge.cache import MIGRATIONS, JudgeCache, cache_key, default_cache_path

MATERIAL = {"model": "m", "messages": [{"role": "user", "content": "x"}],
            "rubric": {"name": "r", "version": "1", "sha256": "abc"},
            "template": {"name": "t", "version": "2", "sha256": "def"},
            "params": {"temperature": 0.0}, "structured": "auto", "reply_schema": "1"}


def test_key_is_stable_and_sensitive():
    k = cache_key(MATERIAL)
    assert k.startswith("b2:") and k == cache_key(dict(reversed(list(MATERIAL.items()))))
    for field, value in [("model", "m2"), ("structured", "none"),
                         ("rubric", {"name": "r", "version": "1.1", "sha256": "abc"}),
                         ("template", {"name": "t", "version": "3", "sha256": "def"}),
                         ("params", {"temperature": 0.5})]:
        assert cache_key({**MATERIAL, field: value}) != k, field


def test_default_location_under_reasonlens_home(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONLENS_HOME", str(tmp_path / "home"))
    assert default_cache_path() == tmp_path / "home" / "judge-cache.sqlite"
    with JudgeCache() as c:
        assert c.path.exists()


def test_migrations_put_get_and_settings(tmp_path):
    path = tmp_path / "c.sqlite"
    with JudgeCache(path) as c:
        assert c.migrations() == [name for name, _ in MIGRATIONS]
        assert c.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.get("b2:none") is None
        body = {"model": "m", "messages": MATERIAL["messages"],
                "response_format": {"type": "json_object"}}
        c.put("b2:k", material=MATERIAL, body=body, reply='{"count": 0}', finish_reason="stop",
              refusal=None, usage={"prompt_tokens": 11, "completion_tokens": 4}, latency_s=0.1)
        c.set_setting("structured:m@u", "json_object")
        assert c.stats.as_dict() == {"hits": 0, "misses": 1, "writes": 1, "bypassed": 0}
    with JudgeCache(path) as c:  # reopen: nothing re-applied, everything kept
        assert c.migrate() == []
        hit = c.get("b2:k")
        assert (hit.reply, hit.finish_reason, hit.response_format, hit.prompt_tokens,
                hit.completion_tokens) == ('{"count": 0}', "stop", '{"type":"json_object"}', 11, 4)
        assert c.request("b2:k") == body
        assert c.get_setting("structured:m@u") == "json_object"
        assert len(c) == 1 and c.stats.hits == 1


def test_partial_migration_history_is_completed(tmp_path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_utc TEXT NOT NULL)")
    MIGRATIONS[0][1](db)
    db.execute("INSERT INTO _migrations VALUES ('m001_judgments', 'then')")
    db.commit()
    db.close()
    with JudgeCache(path) as c:
        assert c.migrations() == ["m001_judgments", "m002_settings"]


def test_finished_judgment_survives_kill_9(tmp_path):
    path = tmp_path / "k.sqlite"
    code = textwrap.dedent(f"""
        import sys, time
        from reasonlens.judge.cache import JudgeCache
        c = JudgeCache({str(path)!r})
        c.put("b2:done", material={{"model": "m"}}, body={{"model": "m"}}, reply="R",
              finish_reason="stop", refusal=None, usage={{}})
        print("stored", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ})
    assert proc.stdout.readline().strip() == "stored"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    with JudgeCache(path) as c:
        assert c.get("b2:done").reply == "R"


def test_cache_holding_trace_text_is_owner_only(tmp_path):
    import os
    import stat

    from reasonlens.judge.cache import JudgeCache

    old = os.umask(0o022)
    try:
        c = JudgeCache(tmp_path / "c.sqlite")
        c.set_setting("x", "y")
        c.close()
    finally:
        os.umask(old)
    for f in tmp_path.glob("c.sqlite*"):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
