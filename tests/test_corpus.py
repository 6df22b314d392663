"""The bad-input corpus (issue 11): every case of tests/corpus/manifest.toml, in-process.

Each case runs ``reasonlens.cli.main`` as a user would (no REASONLENS_RAISE_ERRORS) and must end
with the expected exit status, the expected message fragment, no traceback, an error in one
line, and (``check``) the right numbers. Figures: N cases tried, 0 tracebacks, 0 silently wrong.
"""

from __future__ import annotations

import fcntl
import os
import sys
import tomllib
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent / "corpus"
CASES = tomllib.loads((HERE / "manifest.toml").read_text())["case"]
sys.path.insert(0, str(HERE))

import checks  # noqa: E402
import make_corpus  # noqa: E402


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return make_corpus.build(tmp_path_factory.mktemp("corpus"))


def _unwritable(tmp_path: Path) -> Path:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if not os.access(ro, os.W_OK):
        return ro
    return Path("/sys")  # root ignores permissions; sysfs refuses mkdir even to root


def test_manifest_ids_are_unique_and_cover_the_issue():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 101


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_corpus_case(case, corpus, tmp_path, monkeypatch, capsys):
    from reasonlens.cli import main

    monkeypatch.delenv("REASONLENS_RAISE_ERRORS", raising=False)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out"
    subs = {"{d}": str(corpus), "{out}": str(out), "{ro}": str(_unwritable(tmp_path)),
            "{locked}": str(tmp_path / "locked")}
    args = []
    for a in case["args"]:
        for k, v in subs.items():
            a = a.replace(k, v)
        args.append(a)
    thread_errors: list = []
    monkeypatch.setattr("threading.excepthook", thread_errors.append)
    lock_fd = None
    if "{locked}" in " ".join(case["args"]):
        lock_fd = os.open(tmp_path / ".locked.lock", os.O_RDWR | os.O_CREAT)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        os.write(lock_fd, b"pid 1, score, since then\n")
    try:
        with pytest.raises(SystemExit) as ended:
            main(args)
            sys.exit(0)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    code = ended.value.code or 0
    cap = capsys.readouterr()
    text = cap.out + cap.err
    assert "Traceback" not in text and not thread_errors, (text, thread_errors)
    assert "failed unexpectedly" not in text, text
    assert code == case["exit"], text
    assert case["message"] in text, text
    if code != 0:
        errors = [ln for ln in cap.err.splitlines() if ln.startswith("Error")]
        assert len(errors) <= 1 and all(ln.strip() for ln in errors), cap.err
    if case.get("check"):
        getattr(checks, case["check"])(out, text, corpus)
