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
