"""The loader's columnar path (reasonlens.traces.columnar) gives exactly the record-by-record rows.

Each input is loaded twice, once as it is (chunks the columnar path can take go through it) and
once with the columnar path switched off; frames, load reports and errors must be equal. Inputs:
random files of flat records mixing the odd values the row path treats specially (numbers where
text is expected, nulls, missing keys, think tags, other scripts, blank lines, big integers,
escaped surrogates, floats, metadata), the bad-input corpus, and real trace files.
"""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import polars as pl
import pytest

from reasonlens.errors import InputError
from reasonlens.traces import columnar
from reasonlens.traces.load import LoadOptions, LoadReport, load_traces

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = Path(__file__).parent / "corpus"


def _load(paths, options: LoadOptions, *, fast: bool, monkeypatch, chunk: int | None = None
          ) -> tuple:
    with monkeypatch.context() as m:
        if chunk:  # many small chunks: prepared ahead in threads, finished in order
            m.setattr(columnar._ChunkSize, "next", lambda self: chunk)
        if not fast:
            m.setattr(columnar, "eligible", lambda builder: False)
        calls = []
        real = columnar.finish_chunk
        m.setattr(columnar, "finish_chunk", lambda *a: calls.append(1) or real(*a))
        report = LoadReport()
        try:
            frame = load_traces(paths, options, report)
            err = None
        except InputError as exc:
            frame, err = None, (str(exc), exc.path, exc.line, exc.field)
        summary = report.summary()
        return frame, err, summary, len(calls)


def assert_same(paths, options=None, *, monkeypatch, chunk: int | None = None) -> int:
    """Load both ways and compare; returns how many chunks the columnar path was offered."""
    options = options or LoadOptions()
    fast, fast_err, fast_rep, calls = _load(paths, options, fast=True, monkeypatch=monkeypatch,
                                            chunk=chunk)
    slow, slow_err, slow_rep, _ = _load(paths, options, fast=False, monkeypatch=monkeypatch)
    assert fast_err == slow_err
    assert fast_rep == slow_rep
    if slow is None:
        assert fast is None
    else:
        assert fast.schema == slow.schema
        for col in slow.columns:
            assert fast[col].to_list() == slow[col].to_list(), col
    return calls


def load_columnar(path: Path, monkeypatch) -> tuple[pl.DataFrame, bool]:
    """Load ``path``; also whether every chunk went through the columnar path."""
    with monkeypatch.context() as m:
        got = []
        real = columnar.finish_chunk
        m.setattr(columnar, "finish_chunk", lambda *a: got.append(real(*a)) or got[-1])
        frame = load_traces(str(path))
    return frame, bool(got) and all(f is not None for f in got)


WORDS = ["wait", "maybe", "but", "so", "résumé", "所以wait我们", "let me", "x", "\\frac{1}{2}",
         "’", "-", "\t", "\n", " ", "\u00a0", "\x1c", "\u3000", "<think>", "</think>", "ok."]


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) + rng.choice(["", " "]) for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random, kind: str):
    r = rng.random()
    if r < 0.08:
        return None
    if r < 0.12:
        return rng.choice([5, 5.0, 1e-7, 1e20, 3.21, -0.0, True, False, [1, 2], ["one"],
                           {"a": 1}, 2**65, 12345678901234567, "5", "5.0", "0.0000001", "-0",
                           "", "  ", "[x]", "{y}", "true", "12345678901234567"])
    if kind == "text":
        return _text(rng)
    if kind == "label":
        return rng.choice(["m1", "m2", "b", "p1", "p2", 7, 8])
    if kind == "int":
        return rng.choice([0, 1, 2, 3, 17])
    return rng.choice(["27", "025", " 7 ", "080 or 081 (both were accepted)", 27, 27.0, 0.5])


FIELDS = {"model": "label", "benchmark": "label", "problem_id": "label", "prompt": "text",
          "response": "text", "reasoning_content": "text", "gold": "gold", "sample": "int",
          "completion_tokens": "int", "finish_reason": "label", "id": "label", "step": "int",
          "level": "label", "temperature": "gold", "note": "text"}


def _record(rng: random.Random, i: int, plain: float) -> dict:
    rec = {}
    for key, kind in FIELDS.items():
        if key in ("id", "reasoning_content", "step", "sample") and rng.random() < 0.7:
            continue
        if rng.random() < plain:  # a well-formed value
            rec[key] = {"label": f"v{rng.randint(0, 3)}", "text": _text(rng) + " wait",
                        "int": rng.randint(0, 3), "gold": str(rng.randint(0, 99))}[kind]
        elif rng.random() < 0.9:
            rec[key] = _value(rng, kind)
    if "id" in rec and isinstance(rec["id"], str):
        rec["id"] = f"{rec['id']}-{i}"
    rec.setdefault("response", _text(rng) + " x")
    return rec


def _write(path: Path, rng: random.Random, n: int, plain: float) -> None:
    lines = []
    for i in range(n):
        line = json.dumps(_record(rng, i, plain), ensure_ascii=rng.random() < 0.5)
        if rng.random() < 0.01:
            line = rng.choice(["", "   ", "{broken", "[1, 2]", '{"response": NaN}',
                               '{"response": "a\\ud83d b"}', '{"response": "\\ud83d\\ude00 x"}'])
        lines.append(line)
    path.write_text("\n".join(lines) + ("\n" if rng.random() < 0.5 else ""), encoding="utf-8")


@pytest.mark.parametrize("seed", range(40))
def test_random_files_load_the_same_both_ways(tmp_path, monkeypatch, seed):
    rng = random.Random(seed)
    path = tmp_path / "t.jsonl"
    _write(path, rng, rng.choice([1, 5, 40, 300]), plain=rng.choice([0.5, 0.9, 0.99, 1.0]))
    for options in (LoadOptions(), LoadOptions(on_error="skip", on_duplicate="keep-first"),
                    LoadOptions(batch_rows=7, allow_empty=True, on_error="skip",
                                on_duplicate="keep-first")):
        assert_same([str(path)], options, monkeypatch=monkeypatch)
        assert_same([str(path)], options, monkeypatch=monkeypatch, chunk=rng.choice([300, 2000]))
    gz = tmp_path / "t.jsonl.gz"   # the same lines gzip-compressed: the same rows
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert_same([str(gz)], LoadOptions(on_error="skip", on_duplicate="keep-first"),
                monkeypatch=monkeypatch, chunk=500)


def _odd_or(rng: random.Random, plain: float, value, kind: str):
    return value if rng.random() < plain else _value(rng, kind)


def _nested_record(rng: random.Random, i: int, plain: float, layout: str) -> dict:
    """One record of an OpenAI chat / completion, vLLM or multi-response dump: 1-3 responses,
    odd values anywhere (numbers for texts, null or empty lists, a message that is text, ...)."""
    n = rng.choice([1, 1, 2, 3])

    def text():
        return _odd_or(rng, plain, _text(rng) + " wait", "text")

    rec: dict = {"model": _odd_or(rng, plain, f"m{rng.randint(0, 1)}", "label"),
                 "problem_id": _odd_or(rng, plain, f"p{rng.randint(0, 4)}", "label"),
                 "prompt": text()}
    if rng.random() < 0.3:
        rec["id"] = _odd_or(rng, plain, f"r{i}", "label")
    if layout == "chat":
        def choice(k):
            msg = {"role": "assistant", "content": text()}
            if rng.random() < 0.3:
                msg["reasoning_content"] = text()
            return {"index": k, "message": msg if rng.random() < plain else
                    rng.choice([None, "text", {"content": 5}]),
                    "finish_reason": _odd_or(rng, plain, "stop", "label")}
        rec["choices"] = [choice(k) for k in range(n)]
        rec["object"], rec["created"] = "chat.completion", 1700000000 + i
        if rng.random() < 0.8:
            rec["usage"] = {"prompt_tokens": _odd_or(rng, plain, 12, "int"),
                            "completion_tokens": _odd_or(rng, plain, 30 + i, "int")}
    elif layout == "completion":
        rec["choices"] = [{"text": text(), "finish_reason": "length"} for _ in range(n)]
    elif layout == "vllm":
        rec["outputs"] = [{"text": text(), "finish_reason": "stop",
                           "token_ids": _odd_or(rng, plain, list(range(rng.randint(0, 5))),
                                                "int")} for _ in range(n)]
    elif layout == "lm-eval":  # lm-eval-harness samples: the doc, one list of repeats
        rec = {"doc_id": _odd_or(rng, plain, rng.randint(0, 4), "label"),
               "doc": {"problem": text(), "answer": _odd_or(rng, plain, "7", "gold")},
               "resps": [[text() for _ in range(n)]], "filtered_resps": ["7"] * n}
    elif layout == "messages":
        def turn(role):
            m = {"role": _odd_or(rng, plain, role, "label"), "content": text()}
            for k in ("reasoning_content", "reasoning", "thinking"):
                if rng.random() < 0.25:
                    m[k] = rng.choice(["", "r " + _text(rng)]) if rng.random() < plain \
                        else rng.choice([False, 0, 5, None, "5", ["x"]])
            return m if rng.random() < plain else rng.choice([None, "text", {"role": "user"}])
        roles = ["system", "user", "assistant", "user", "assistant"][rng.choice([0, 1]):]
        ends = [i + 1 for i, r in enumerate(roles) if r == "assistant"]  # an answer last
        rec["messages"] = [turn(r) for r in roles[:rng.choice(ends) if rng.random() < plain
                                                  else rng.randint(1, len(roles))]]
    else:
        rec["responses"] = [text() for _ in range(n)]
    axis = {"chat": "choices", "completion": "choices", "vllm": "outputs",
            "messages": "messages", "lm-eval": "resps"}.get(layout, "responses")
    if rng.random() > plain:
        rec[axis] = rng.choice([None, [], "x", [None], [1, 2]])
    return rec


@pytest.mark.parametrize("seed", range(36))
def test_random_nested_layouts_load_the_same_both_ways(tmp_path, monkeypatch, seed):
    """OpenAI chat and completion, vLLM and multi-response dumps (one row per element of the
    list) and chat messages (the last assistant turn) give the record-by-record path's rows,
    reports and errors."""
    rng = random.Random(1000 + seed)
    layout = ["chat", "completion", "vllm", "multi", "messages", "lm-eval"][seed % 6]
    path = tmp_path / f"{layout}.jsonl"
    plain = rng.choice([0.9, 0.97, 1.0])
    recs = [_nested_record(rng, i, plain, layout) for i in range(rng.choice([5, 60, 300]))]
    if layout == "chat":  # the first record decides the mapping: give it reasoning_content
        recs[0] = {**recs[0], "choices": [{"message": {"content": "a", "reasoning_content": "b"},
                                           "finish_reason": "stop"}]}
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    for options in (LoadOptions(), LoadOptions(on_error="skip", on_duplicate="keep-first")):
        assert_same([str(path)], options, monkeypatch=monkeypatch)
        assert_same([str(path)], options, monkeypatch=monkeypatch, chunk=rng.choice([300, 2000]))


def test_clean_nested_layouts_go_through_the_columnar_path(tmp_path, monkeypatch):
    rng = random.Random(7)
    for layout in ("chat", "completion", "vllm", "multi", "messages", "lm-eval"):
        path = tmp_path / f"{layout}.jsonl"
        recs = [_nested_record(rng, i, 1.0, layout) for i in range(200)]
        for r in recs:  # one key set (an id first seen later is mapped by the row path)
            r.pop("id", None)
        path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
        frame, all_columnar = load_columnar(path, monkeypatch)
        assert all_columnar, layout
        n_rows = 200 if layout == "messages" else sum(len(r["resps"][0]) for r in recs) \
            if layout == "lm-eval" else sum(
            len(r[{"vllm": "outputs", "multi": "responses"}.get(layout, "choices")])
            for r in recs)
        assert len(frame) == n_rows >= 200
        assert assert_same([str(path)], monkeypatch=monkeypatch) >= 1


def test_chat_messages_number_like_texts_and_odd_reasoning_fields(tmp_path, monkeypatch):
    """Chat messages: an answer "42" (a string) stays on the columnar path; a number 42, a
    False reasoning_content before a string reasoning, or a nearest user turn that is a number
    are read as the row path reads them (there: 42 is refused, False is skipped)."""
    def rec(i, content="42", rc="", user="q"):
        return {"problem_id": f"p{i}", "messages": [
            {"role": "user", "content": user},
            {"role": "assistant", "content": content, "reasoning_content": rc,
             "reasoning": "think"}]}

    good = tmp_path / "good.jsonl"
    good.write_text("".join(json.dumps(rec(i, user=str(i))) + "\n" for i in range(50)),
                    encoding="utf-8")
    frame, all_columnar = load_columnar(good, monkeypatch)
    assert all_columnar and frame["answer"][0] == "42" and frame["prompt"][3] == "3"
    assert frame["reasoning"][0] == "think"  # "" is skipped, as by the row path's `or`
    for odd in (rec(99, content=42), rec(99, rc=False), rec(99, user=7), rec(99, rc=0)):
        path = tmp_path / "odd.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in [rec(i) for i in range(9)]
                                + [odd]), encoding="utf-8")
        assert assert_same([str(path)], LoadOptions(on_error="skip"),
                           monkeypatch=monkeypatch) >= 1


def test_a_bad_first_record_gets_the_same_error_however_the_file_is_chunked(tmp_path,
                                                                          monkeypatch):
    """The mapping comes from the first good record in input order: a chunk read ahead while
    the first chunk (whose first record has no response anywhere) is still pending does not
    lend it its mapping, so the error (or, skipped, the rejection) does not depend on chunking."""
    path = tmp_path / "bad_first.jsonl"
    lines = [json.dumps({"outputs": [1, 2], "pad": "x" * 200})]
    lines += [json.dumps({"outputs": [{"text": f"so wait {i}"}], "problem_id": f"p{i}"})
              for i in range(40)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for chunk in (None, 300, 2000):
        for options in (LoadOptions(), LoadOptions(on_error="skip")):
            assert_same([str(path)], options, monkeypatch=monkeypatch, chunk=chunk)
    _, err, _, _ = _load([str(path)], LoadOptions(), fast=True, monkeypatch=monkeypatch,
                         chunk=300)
    assert "cannot find the response text" in err[0] and err[2] == 1  # not a vLLM error


def test_clean_files_go_through_the_columnar_path(tmp_path, monkeypatch):
    """Not only equal: well-formed files really take the columnar path (and still match)."""
    rng = random.Random(1)
    path = tmp_path / "clean.jsonl"
    recs = [{"model": f"m{i % 2}", "benchmark": "b", "problem_id": f"p{i % 7}",
             "prompt": _text(rng), "response": _text(rng) + " x", "gold": str(i % 9),
             "finish_reason": "stop", "completion_tokens": i, "level": i % 3,
             "temperature": 0.6} for i in range(500)]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    frame = load_traces(str(path))
    assert len(frame) == 500
    assert load_columnar(path, monkeypatch)[1]
    assert assert_same([str(path)], monkeypatch=monkeypatch) >= 1


def test_rl_rollouts_with_whole_number_rewards_take_the_columnar_path(tmp_path, monkeypatch):
    """Rewards of 0.0 / 1.0 (and a 1 among them) are metadata both paths write as integers:
    such files no longer fall back to the record-by-record path (3x slower), and an integer
    beyond 2**53 next to floats, which polars may have rounded, still does."""
    path = tmp_path / "rollouts.jsonl"
    recs = [{"model": "grpo", "problem_id": f"p{i % 5}", "response": "so wait x",
             "reward": [1.0, 0.0, 1][i % 3], "advantage": [0.25, -1.5, 2.0][i % 3],
             "temperature": 0.6, "run": "seed1"} for i in range(300)]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    frame, all_columnar = load_columnar(path, monkeypatch)
    assert all_columnar
    assert json.loads(frame["metadata"][0]) == {"advantage": 0.25, "reward": 1, "run": "seed1",
                                                "temperature": 0.6}
    assert frame["metadata"][1] == '{"advantage":-1.5,"reward":0,"run":"seed1","temperature":0.6}'
    assert json.loads(frame["metadata"][2])["advantage"] == 2
    assert assert_same([str(path)], monkeypatch=monkeypatch) >= 1
    big = tmp_path / "big.jsonl"
    big.write_text('{"response": "a", "x": 0.5}\n{"response": "b", "x": 9007199254740993}\n',
                   encoding="utf-8")
    assert json.loads(load_traces(str(big))["metadata"][1]) == {"x": 9007199254740993}
    assert assert_same([str(big)], monkeypatch=monkeypatch) >= 1


def test_metadata_json_is_built_by_columns_as_orjson_writes_it(tmp_path, monkeypatch):
    """Every character orjson escapes, quotes, backslashes, other scripts, long strings (left
    out), empty strings, booleans, large and small numbers, nulls and absent keys."""
    rng = random.Random(3)
    chars = [chr(c) for c in range(1, 32)] + [  # (a NUL sends a chunk to the row path)
        '"', "\\", "é", "所", "\u2028", "\x7f", "😀", "a"]
    recs = []
    for i in range(400):
        rec = {"response": "so wait", "problem_id": f"p{i}"}
        for key, make in (("note", lambda: "".join(rng.choice(chars) for _ in range(5))),
                          ("empty", lambda: ""), ("long", lambda: "x" * rng.choice([3, 600])),
                          ("flag", lambda: rng.random() < 0.5), ("n", lambda: rng.randint(-9, 9)),
                          ("x", lambda: rng.choice([1e-7, -2.5, 0.1, 3.0, 1e15, 123456.789])),
                          ('q"k\\', lambda: "v")):
            if rng.random() < 0.8:
                rec[key] = make() if rng.random() < 0.9 else None
        recs.append(rec)
    path = tmp_path / "meta.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    for r in recs:
        r.pop("problem_id"), r.pop("response")
        for k in [k for k, v in r.items() if v is None or (isinstance(v, str) and len(v) > 512)]:
            r.pop(k)
    frame, all_columnar = load_columnar(path, monkeypatch)
    assert all_columnar
    def typed(d):  # values with their JSON types (1 and 1.0 compare equal in Python)
        return None if not d else sorted((k, type(v).__name__, v) for k, v in d.items())

    want = [typed({k: int(v) if isinstance(v, float) and v.is_integer() else v
                   for k, v in r.items()}) for r in recs]
    assert [typed(json.loads(m) if m else None) for m in frame["metadata"].to_list()] == want
    assert assert_same([str(path)], monkeypatch=monkeypatch) >= 1


def test_number_like_strings_are_told_from_numbers_by_their_tokens(tmp_path, monkeypatch):
    """A column of strings such as vLLM's request ids "17" stays on the columnar path (the key's
    token shows a quote, no line is parsed again); a number among them, a nested key of the same
    name or a key whose name ends in it are still told apart, as the row path does."""
    ids = tmp_path / "ids.jsonl"
    ids.write_text("".join(json.dumps({"request_id": str(i), "response": "so wait"}) + "\n"
                           for i in range(300)), encoding="utf-8")
    parsed = []
    with monkeypatch.context() as m:
        m.setattr(columnar, "loads", lambda raw: parsed.append(raw) or json.loads(raw))
        frame, all_columnar = load_columnar(ids, monkeypatch)
    assert all_columnar and json.loads(frame["metadata"][7]) == {"request_id": "7"}
    assert parsed == []  # no line parsed again (there were 300 before)
    odd = ['{"request_id": 5, "response": "a"}', '{"request_id": "6", "response": "b"}',
           '{"meta": {"request_id": "5"}, "request_id": "6", "response": "c"}',
           '{"x\\"request_id": "1", "request_id" : 7, "response": "d"}',
           '{"note": "\\"request_id\\": 5", "request_id": "8", "response": "e"}']
    for i in range(len(odd)):
        path = tmp_path / f"odd{i}.jsonl"
        path.write_text("\n".join(odd[i:] + odd[:i]) + "\n", encoding="utf-8")
        assert assert_same([str(path)], monkeypatch=monkeypatch) >= 1
        frame = load_traces(str(path))
        meta = {r: json.loads(m) for r, m in zip(frame["response"], frame["metadata"])}
        assert meta["a"]["request_id"] == 5 and meta["b"]["request_id"] == "6"
        assert meta["d"]["request_id"] == 7 and meta["e"]["request_id"] == "8"


def test_numbers_where_text_is_expected_go_to_the_row_path(tmp_path, monkeypatch):
    """polars would read 5 as "5" in a column of strings; the row path names the field."""
    path = tmp_path / "num.jsonl"
    path.write_text('{"response": "a wait"}\n{"response": 5}\n', encoding="utf-8")
    assert_same([str(path)], monkeypatch=monkeypatch)
    with pytest.raises(InputError, match="expected a string") as e:
        load_traces(str(path))
    assert (e.value.line, e.value.field) == (2, "response")


@pytest.mark.parametrize("nested", [False, True])
def test_a_key_given_twice_counts_its_last_value_on_both_paths(tmp_path, monkeypatch, nested):
    """polars keeps a duplicate key's first value, orjson (the row path) its last: the chunk
    goes to the row path, so the last value counts however the file is read."""
    from reasonlens.traces import jsonkeys

    path = tmp_path / "dup.jsonl"
    clean = [json.dumps({"model": "m", "response": f"<think>so {i}</think> {i}"}) + "\n"
             for i in range(50)]
    twice = ('{"model": "m", "messages": [{"role": "assistant", "content": "first wait", '
             '"content": "last maybe"}]}\n' if nested else
             '{"model": "m", "response": "<think>first wait</think> a", '
             '"response": "<think>last maybe</think> b"}\n')
    if nested:
        clean = [json.dumps({"model": "m", "messages": [{"role": "assistant",
                                                         "content": f"so {i}"}]}) + "\n"
                 for i in range(50)]
    path.write_text("".join(clean[:20]) + twice + "".join(clean[20:]), encoding="utf-8")
    frame = load_traces(str(path))
    want = "last maybe" if nested else "b"
    got = frame["response" if nested else "answer"][20]
    if jsonkeys.key_count(b"{}") is not None:  # the compiled scanner sees the repeated key
        assert want in got
        assert_same([str(path)], monkeypatch=monkeypatch)
        assert assert_same([str(path)], monkeypatch=monkeypatch, chunk=2000) > 1
        with pytest.raises(jsonkeys.KeysLost):
            jsonkeys.read_lines(twice.encode())


def test_field_first_carried_by_a_later_record_is_read(tmp_path, monkeypatch):
    """gold null in the first record, a value later (same keys): read from then on."""
    path = tmp_path / "late.jsonl"
    recs = [{"response": "a", "gold": None}, {"response": "b", "gold": "7"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    assert load_traces(str(path))["gold"].to_list() == [None, "7"]
    assert_same([str(path)], monkeypatch=monkeypatch)


def test_later_chunks_read_with_an_earlier_chunks_schema_load_the_same(tmp_path, monkeypatch):
    """Each chunk is parsed once with the schema of the chunk before where no key is lost
    (reasonlens.traces.jsonkeys). Later chunks here type the fields otherwise: golds as
    numbers after texts, whole-number scores after fractions, rounds after nulls, keys first
    carried there (at the top and nested); the rows are the row path's."""
    recs = [{"response": f"r{i}", "gold": "7", "score": 0.5, "round": None, "detail": {"n": i}}
            for i in range(40)]
    recs += [{"response": f"s{i}", "gold": 7 + i, "score": 2, "round": i,
              "detail": {"n": i, **({"cached": 1} if i % 5 == 0 else {})},
              **({"extra": True} if i % 7 == 0 else {})} for i in range(40)]
    path = tmp_path / "retyped.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    for chunk in (600, 1500):
        assert assert_same([str(path)], monkeypatch=monkeypatch, chunk=chunk) >= 4


def test_a_key_that_could_map_a_field_but_does_not_keeps_the_columnar_path(tmp_path,
                                                                          monkeypatch):
    """``usage`` could carry ``prompt_tokens``; records whose usage holds only other counts map
    nothing more and stay on the columnar path; a later record carrying it is read by the
    row path, which maps it from there on."""
    recs = [{"response": f"r{i}", "usage": {"total_tokens": i}} for i in range(60)]
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    frame, columnar_only = load_columnar(path, monkeypatch)
    assert columnar_only and frame["prompt_tokens"].null_count() == 60
    recs[45]["usage"]["prompt_tokens"] = 7
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    assert load_traces(str(path))["prompt_tokens"].to_list()[44:47] == [None, 7, None]
    assert_same([str(path)], monkeypatch=monkeypatch, chunk=300)


def test_bad_input_corpus_loads_the_same_both_ways(tmp_path, monkeypatch):
    import sys

    sys.path.insert(0, str(CORPUS))
    import make_corpus

    d = make_corpus.build(tmp_path / "corpus")
    files = sorted(p for p in d.rglob("*") if p.is_file() and p.name.endswith(
        (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")) and ".partial" not in str(p))
    assert len(files) > 20, "the bad-input corpus has JSONL files"
    for f in files:
        for options in (LoadOptions(), LoadOptions(on_error="skip")):
            assert_same([str(f)], options, monkeypatch=monkeypatch)


@pytest.mark.skipif(not (SHARED / "schoenfeld-dev").is_dir(),
                    reason="../shared/data/schoenfeld-dev is absent (real R1 traces)")
def test_real_traces_load_the_same_both_ways(tmp_path, monkeypatch):
    """Real R1 traces and MATH-500 solutions as score_bench.py builds them (3 MB), plus the
    real benchmark files of ../shared/data read as traces (their solutions as responses)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "score_bench", Path(__file__).parents[1] / "benchmarks" / "score_bench.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    path = tmp_path / "real.jsonl"
    bench.build(path, 3)
    assert assert_same([str(path)], LoadOptions(batch_rows=300), monkeypatch=monkeypatch) >= 3
    for f in sorted(SHARED.rglob("*.jsonl")):
        assert_same([str(f)], LoadOptions(fields={"response": "solution"}
                                          if "solution" in f.read_text()[:5000] else {},
                                          on_error="skip"), monkeypatch=monkeypatch)


def test_chunks_prepared_ahead_with_a_mapping_changed_by_an_earlier_chunk(tmp_path, monkeypatch):
    """Chunk 2 is read record by record and maps a field first carried there (gold); chunks
    prepared ahead in threads with the old mapping are prepared again, so gold is read from
    then on, as by the row path."""
    rows = [{"response": f"r{i} wait", "problem_id": f"p{i}"} for i in range(40)]
    rows[12]["response"] = 5          # sends its chunk to the row path
    for r in rows[12:]:
        r["gold"] = "7"               # first carried in that chunk
    path = tmp_path / "late.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    opts = LoadOptions(on_error="skip")
    calls = assert_same([str(path)], opts, monkeypatch=monkeypatch, chunk=120)
    assert calls >= 3
    with monkeypatch.context() as m:
        m.setattr(columnar._ChunkSize, "next", lambda self: 120)
        frame = load_traces(str(path), opts)
    assert frame["gold"].to_list()[-5:] == ["7"] * 5 and frame["gold"][0] is None


def test_batch_slices_are_equal_parts():
    from reasonlens.traces.model import batch_slices

    assert batch_slices(4099, 4096) == [(0, 2050), (2050, 2049)]
    assert batch_slices(4096, 4096) == [(0, 4096)]
    assert batch_slices(10, 3) == [(0, 3), (3, 3), (6, 2), (8, 2)]
    for n in (1, 7, 100, 8193):
        for b in (1, 2, 7, 4096):
            parts = batch_slices(n, b)
            assert sum(k for _, k in parts) == n and max(k for _, k in parts) <= b
            assert max(k for _, k in parts) - min(k for _, k in parts) <= 1


def test_chunk_size_is_fixed_by_the_first_chunk():
    from reasonlens.traces.columnar import _ChunkSize

    size = _ChunkSize(4096)
    assert size.next() == 16 << 20
    size.seen(4_000_000, 1000)          # 4,000 bytes per row -> 4096 rows = 16,384,000 bytes
    first = size.next()
    size.seen(100, 1000)                # later chunks do not move it
    assert size.next() == first == 16_384_000
    big = _ChunkSize(4096)
    big.seen(30_000_000, 1000)          # 30 KB traces: capped at 16 MiB (fewer rows a batch)
    assert big.next() == 16 << 20


def test_batch_cuts_do_not_depend_on_timing(tmp_path, monkeypatch):
    """Chunks prepared ahead in threads finish at any time; the batches are the same."""
    import time

    from reasonlens.traces.load import iter_trace_batches

    rng = random.Random(5)
    path = tmp_path / "t.jsonl"
    recs = [{"response": _text(rng) + " x", "problem_id": f"p{i % 13}"} for i in range(3000)]
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    opts = LoadOptions(batch_rows=256)
    monkeypatch.setattr(columnar._ChunkSize, "_clamp", staticmethod(lambda n: 20_000))

    def cuts() -> list[int]:
        return [len(b) for b in iter_trace_batches(str(path), opts)]

    plain = cuts()
    real = columnar.prepare_chunk
    delays = iter([rng.random() / 50 for _ in range(10_000)])
    monkeypatch.setattr(columnar, "prepare_chunk",
                        lambda *a: time.sleep(next(delays)) or real(*a))
    assert cuts() == plain and sum(plain) == 3000 and len(plain) > 8
