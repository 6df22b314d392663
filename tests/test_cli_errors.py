"""The CLI's last-resort handler: any unexpected exception is one line, never a traceback."""

from __future__ import annotations

import pytest

from reasonlens.cli import main


def _run(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code, capsys.readouterr().err


def test_unexpected_exception_is_one_line_naming_command_and_input(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.delenv("REASONLENS_RAISE_ERRORS", raising=False)
    traces = tmp_path / "t.jsonl"
    traces.write_text('{"response": "Wait."}\n')

    def boom(*a, **k):
        raise ValueError("something nobody anticipated")

    monkeypatch.setattr("reasonlens.lexcount.run.score_batch", boom)
    code, err = _run(["score", str(traces), "--out", str(tmp_path / "o")], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"score failed unexpectedly on {traces}" in err
    assert "ValueError: something nobody anticipated" in err and "reasonlens -v score" in err
    code, err = _run(["-v", "score", str(traces), "--out", str(tmp_path / "o")], capsys)
    assert code == 1 and "Traceback" in err and "failed unexpectedly" in err


def test_raise_errors_lets_unexpected_exceptions_propagate(tmp_path, monkeypatch):
    monkeypatch.setenv("REASONLENS_RAISE_ERRORS", "1")
    traces = tmp_path / "t.jsonl"
    traces.write_text('{"response": "Wait."}\n')
    monkeypatch.setattr("reasonlens.lexcount.run.score_batch",
                        lambda *a, **k: (_ for _ in ()).throw(ValueError("x")))
    with pytest.raises(ValueError):
        main(["score", str(traces), "--out", str(tmp_path / "o")])


def test_os_error_naming_a_file_is_one_clear_line(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("REASONLENS_RAISE_ERRORS", raising=False)
    traces = tmp_path / "t.jsonl"
    traces.write_text('{"response": "Wait."}\n')

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied", str(traces))

    monkeypatch.setattr("reasonlens.lexcount.run.score_batch", denied)
    code, err = _run(["score", str(traces), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.strip() == f"Error: score: Permission denied: {traces}"


def test_diff_with_an_unknown_model_lists_the_models_present(capsys, monkeypatch):
    from pathlib import Path

    monkeypatch.delenv("REASONLENS_RAISE_ERRORS", raising=False)
    example = Path(__file__).resolve().parent.parent / "examples" / "traces.jsonl"
    code, err = _run(["diff", str(example), "--a", "distiled-32b", "--b",
                      "zero-rl-32b-example"], capsys)
    assert code == 2 and "no response matches group A (model=distiled-32b)" in err
    assert "model values present: distilled-32b-example, zero-rl-32b-example" in err


@pytest.mark.parametrize("argv, code, out, err", [
    (["score", "/no/such/traces.jsonl", "--out", "OUT"], 2, "", "Error: input not found"),
    (["--version"], 0, "reasonlens, version", ""),
    (["score", "--no-such-option"], 2, "", "No such option"),
])
def test_console_script_exits_fast_with_the_same_codes_and_output(argv, code, out, err, tmp_path):
    """``reasonlens.cli.run`` (the console script) skips the interpreter's teardown: the exit
    code, the buffered output (piped, so not flushed line by line) and the atexit handlers
    (here one that writes a file, as coverage or tempfile cleanup would) are kept."""
    import subprocess
    import sys

    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    mark = tmp_path / "atexit-ran"
    script = ("import atexit, pathlib, sys; from reasonlens.cli import run; "
              f"atexit.register(pathlib.Path({str(mark)!r}).write_text, 'yes'); "
              f"sys.argv = ['reasonlens'] + {argv!r}; run()")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == code, proc.stderr
    assert out in proc.stdout and err in proc.stderr
    assert mark.read_text() == "yes"
