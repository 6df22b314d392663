"""Build the bad-input corpus: small odd or broken inputs, written into a directory.

Run as ``python tests/corpus/make_corpus.py DIR`` to look at them; ``tests/test_corpus.py`` calls
:func:`build` once per session. Every name a ``file`` of ``manifest.toml`` refers to is made here.
Stage outputs the corpus needs (score and grade directories, mixed ones) are made by running the
stages in-process; nothing here touches the network.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

REC = {"model": "m", "benchmark": "b", "problem_id": "p0", "gold": "2",
       "response": "<think>Wait, maybe 1+1=2.</think> So \\boxed{2}."}


def rec(**kw) -> dict:
    return {**REC, **kw}


def jsonl(*records, raw: bytes | None = None) -> bytes:
    if raw is not None:
        return raw
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def good_records(n: int = 4, model: str = "m", samples: int = 1) -> list[dict]:
    return [rec(model=model, problem_id=f"p{i}", sample=s,
                response=f"<think>Wait, maybe {i}. Hmm.</think> So \\boxed{{{i if s == 0 else 0}}}.",
                gold=str(i)) for i in range(n) for s in range(samples)]


GOOD = jsonl(*good_records())

# name -> bytes (files written as they are)
FILES: dict[str, bytes] = {
    "good.jsonl": GOOD,
    "good_two_models.jsonl": jsonl(*good_records(model="a"), *good_records(model="b")),
    "good_three_models.jsonl": jsonl(*good_records(model="a"), *good_records(model="b"),
                                     *good_records(model="c")),
    "good_two_samples.jsonl": jsonl(*good_records(samples=2)),
    "empty.jsonl": b"",
    "blank_lines.jsonl": b"\n\n   \n\t\n",
    "broken_json.jsonl": jsonl(rec(problem_id="a")) + b'{"model": "m", "response": oops}\n',
    "bad_utf8.jsonl": b'{"model": "m", "response": "caf\xe9 \xff"}\n',
    "array_line.jsonl": b"[1, 2, 3]\n",
    "scalar_line.jsonl": b"42\n",
    "string_line.jsonl": b'"just a string"\n',
    "no_response_field.jsonl": jsonl({"model": "m", "question": "q?", "score": 1}),
    "response_number.jsonl": jsonl(rec(response=12)),
    "response_list.jsonl": jsonl(rec(response=["a", "b"])),
    "response_object.jsonl": jsonl(rec(response={"text": "a"})),
    "response_empty.jsonl": jsonl(rec(response="")),
    "response_whitespace.jsonl": jsonl(rec(response="   \n ")),
    "response_null.jsonl": jsonl(rec(response=None)),
    "model_object.jsonl": jsonl(rec(model={"name": "m"})),
    "model_bool.jsonl": jsonl(rec(model=True)),
    "problem_id_list.jsonl": jsonl(rec(problem_id=[1, 2])),
    "sample_text.jsonl": jsonl(rec(sample="first")),
    "sample_bool.jsonl": jsonl(rec(sample=True)),
    "sample_fraction.jsonl": jsonl(rec(sample=1.5)),
    "tokens_text.jsonl": jsonl(rec(completion_tokens="many")),
    "tokens_bool.jsonl": jsonl(rec(prompt_tokens=False)),
    "finish_reason_object.jsonl": jsonl(rec(finish_reason={"type": "stop"})),
    "reasoning_number.jsonl": jsonl(rec(reasoning_content=3)),
    "dup_ids.jsonl": jsonl(rec(id="x", problem_id="p0"), rec(id="y", problem_id="p1"),
                           rec(id="x", problem_id="p2")),
    "dup_samples.jsonl": jsonl(rec(problem_id="p0", sample=0), rec(problem_id="p0", sample=0)),
    "nan_value.jsonl": b'{"model": "m", "response": "a", "score": NaN}\n',
    "bom.jsonl": b"\xef\xbb\xbf" + GOOD,
    "crlf.jsonl": GOOD.replace(b"\n", b"\r\n"),
    "truncated_last_line.jsonl": GOOD + b'{"model": "m", "resp',
    "all_bad.jsonl": b"{oops\n{still bad\n[1]\n",
    "messages_no_assistant.jsonl": jsonl({"model": "m", "messages": [
        {"role": "user", "content": "hi"}]}),
    "messages_content_list.jsonl": jsonl({"model": "m", "messages": [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": ["a", "b"]}]}),
    "messages_ok.jsonl": jsonl({"model": "m", "messages": [
        {"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "\\boxed{2}"}]}),
    "choices_empty.jsonl": jsonl({"model": "m", "choices": []}),
    "choices_not_list.jsonl": jsonl({"model": "m", "choices": {"text": "a"}}),
    "chat_completion.jsonl": jsonl({"model": "m", "choices": [
        {"message": {"role": "assistant", "content": "so \\boxed{2}"}, "finish_reason": "stop"},
        {"message": {"role": "assistant", "content": "so \\boxed{3}"}, "finish_reason": "stop"}],
        "gold": "2"}),
    "chat_completion_null_content.jsonl": jsonl({"model": "m", "choices": [
        {"message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]}),
    "vllm_text_null.jsonl": jsonl({"model": "m", "outputs": [{"text": None}]}),
    "lm_eval_resps.jsonl": jsonl({"doc_id": 0, "doc": {"problem": "1+1?", "answer": "2"},
                                  "resps": [["\\boxed{2}", "\\boxed{3}"]]}),
    "multi_response_empty.jsonl": jsonl({"model": "m", "responses": []}),
    "answer_field_only.jsonl": jsonl(*[{k: v for k, v in r.items() if k != "gold"}
                                       | {"answer": r["gold"]} for r in good_records()]),
    "gold_object.jsonl": jsonl(*[r | {"gold": {"value": r["gold"]}} for r in good_records()]),
    "gold_list_one.jsonl": jsonl(*[r | {"gold": [r["gold"]]} for r in good_records()]),
    "half_without_gold.jsonl": jsonl(*good_records(),
                                     *[{k: v for k, v in r.items() if k != "gold"}
                                       | {"problem_id": "q" + r["problem_id"]}
                                       for r in good_records()]),
    "gold_bool.jsonl": jsonl(rec(gold=True)),
    "json_pretty_data.json": json.dumps({"data": good_records()}, indent=2).encode(),
    "json_one_line_data.json": json.dumps({"data": good_records()}).encode(),
    "json_array.json": json.dumps(good_records(), indent=1).encode(),
    "json_jsonl_named.json": GOOD,
    "json_broken_document.json": b'{\n  "data": [\n    {"response": "a"},\n    {"response": }\n]}\n',
    "json_scalar.json": b"42\n",
    "json_empty_array.json": b"[]\n",
    "json_array_of_strings.json": b'["a", "b"]\n',
    "json_data_not_records.json": json.dumps({"data": [1, 2, 3]}, indent=2).encode(),
    "json_gz_array.json.gz": gzip.compress(json.dumps(good_records()).encode()),
    "jsonl_gz_good.jsonl.gz": gzip.compress(GOOD),
    "jsonl_gz_plain_text.jsonl.gz": GOOD,
    "jsonl_gz_truncated.jsonl.gz": gzip.compress(jsonl(*good_records(400)))[:600],
    "jsonl_gz_empty_file.jsonl.gz": b"",
    "traces.txt": GOOD,
    "traces.csv": b"model,response\nm,hello\n",
    "parquet_garbage.parquet": b"this is not parquet at all",
    "parquet_json_inside.parquet": GOOD,
    "mapping_broken.toml": b"[fields\nresponse = \n",
    "mapping_not_strings.toml": b"[fields]\nresponse = 3\n",
    "mapping_unknown_field.toml": b'[fields]\nanswerz = "x"\n',
    "mapping_ok.toml": b'[fields]\nresponse = "gen.text"\nmodel = "who"\n',
    "nested.jsonl": jsonl({"who": "m", "gen": {"text": "\\boxed{2}"}}),
    "lexicon_broken.toml": b"name = 'x'\nversion = [\n",
    "lexicon_no_terms.toml": b'name = "x"\nversion = "1"\n',
    "eval_garbage.eval": b"PK not really a zip",
    "eval_no_header.eval": b"",  # replaced below by a zip without header.json
    "dataset_dir_broken/dataset_info.json": b"{not json",
    "judge_garbage/judgments.parquet": b"garbage, not parquet",
    "judge_json_as_parquet/judgments.parquet": GOOD,
    "hidden_only/.out.tmp-dead/responses.parquet": b"half",
    "no_traces_dir/readme.md": b"nothing here",
}


def _eval_zip_without_header(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("samples/1_epoch_1.json", json.dumps({"id": 1, "epoch": 1}))


def _parquet(path: Path, columns: dict) -> None:
    import polars as pl

    pl.DataFrame(columns).write_parquet(path)


def _parquet_truncated(path: Path) -> None:
    import io

    import polars as pl

    buf = io.BytesIO()
    pl.DataFrame({"model": ["m"] * 50, "response": ["x" * 200] * 50}).write_parquet(buf)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def _score(src: Path, out: Path) -> None:
    from reasonlens.lexcount.engine import ScoreConfig
    from reasonlens.lexcount.run import run_score

    run_score([str(src)], out, ScoreConfig())


def _grade(src: Path, out: Path) -> None:
    from reasonlens.grade.run import GradeRunConfig, run_grade

    run_grade([str(src)], out, GradeRunConfig(n_boot=0))


def _stage_outputs(d: Path) -> None:
    """Score / grade outputs: good ones, mixed ones, broken ones."""
    good, other = d / "good.jsonl", d / "good_two_models.jsonl"
    _score(good, d / "score_good")
    _score(other, d / "score_other")
    _score(other, d / "score_rerun")  # rerun into by a case (score_other stays as it is)
    _grade(good, d / "grade_good")
    # a directory mixing two runs (what a kill between renames used to leave)
    mixed = d / "score_mixed"
    shutil.copytree(d / "score_good", mixed)
    shutil.copy(d / "score_other" / "responses.parquet", mixed / "responses.parquet")
    legacy_mixed = d / "score_mixed_no_manifest"
    shutil.copytree(mixed, legacy_mixed)
    (legacy_mixed / "reasonlens-manifest.json").unlink()
    missing = d / "score_missing_file"
    shutil.copytree(d / "score_good", missing)
    (missing / "terms.parquet").unlink()
    garbage = d / "score_garbage_parquet"
    shutil.copytree(d / "score_good", garbage)
    (garbage / "reasonlens-manifest.json").unlink()
    (garbage / "responses.parquet").write_bytes(b"garbage")
    broken_json = d / "score_broken_summary"
    shutil.copytree(d / "score_good", broken_json)
    (broken_json / "reasonlens-manifest.json").unlink()
    (broken_json / "summary.json").write_text("{broken")
    nocol = d / "score_missing_column"
    nocol.mkdir()
    _parquet(nocol / "responses.parquet", {"id": ["a"], "model": ["m"]})
    (nocol / "summary.json").write_text("{}")
    # a directory holding traces and an earlier grade output of them
    both = d / "traces_and_grade"
    both.mkdir()
    shutil.copy(good, both / "traces.jsonl")
    _grade(both / "traces.jsonl", both / "grade")
    # an --out that is not a stage output
    foreign = d / "foreign_out"
    foreign.mkdir()
    (foreign / "my_notes.txt").write_text("keep me")
    (d / "a_file").write_text("a file where a directory should be")


def _lighteval_and_inspect(d: Path) -> None:
    lt = d / "lighteval" / "org" / "model-x" / "2025-01-01T00-00-00.000"
    lt.mkdir(parents=True)
    _parquet(lt / "details_lighteval|math_500|0_2025-01-01T00-00-00.parquet", {
        "example": ["1+1?"], "predictions": [["\\boxed{2}"]], "gold": [["2"]]})
    _parquet(lt / "details_lighteval|aime24|0_2025-01-01T00-00-00.parquet", {
        "doc": [{"query": "1+1?", "choices": ["2"], "gold_index": 0, "id": "1"}],
        "model_response": [{"text": ["\\boxed{2}"]}]})
    sample = {"id": 1, "epoch": 1, "input": "1+1?", "target": "2",
              "output": {"model": "x", "choices": [{"message": {"role": "assistant",
                                                                "content": "\\boxed{2}"}}]}}
    (d / "inspect_log.json").write_text(json.dumps(
        {"version": 2, "eval": {"task": "t", "model": "x"}, "samples": [sample]}, indent=2))
    with zipfile.ZipFile(d / "inspect_log.eval", "w") as zf:
        zf.writestr("header.json", json.dumps({"eval": {"task": "t", "model": "x"}}))
        zf.writestr("samples/1_epoch_1.json", json.dumps(sample))


# helper G's adversarial pass (issue 11 review): numbers, paths and special files
FILES.update({
    "int_beyond_64_bits.jsonl": jsonl(rec(sample=2**70)),
    "tokens_negative.jsonl": jsonl(rec(completion_tokens=-5)),
    "ids_beyond_64_bits.jsonl": jsonl(rec(id=2**70, problem_id="a"), rec(id=2**70 + 1,
                                                                         problem_id="b")),
    "gold_beyond_64_bits.jsonl": jsonl(rec(gold=10**30,
                                           response="So \\boxed{1000000000000000000000000000000}.")),
    "nan_literal_gold.jsonl": jsonl(rec(gold=None)).replace(b'"gold": null', b'"gold": NaN'),
    "mapping_json_list.json": b'["response", "gen.text"]\n',
    "cache_not_sqlite.sqlite": b"garbage, not an SQLite file\n",
    "chat_cut_off_while_thinking.jsonl": jsonl({"model": "m", "choices": [
        {"message": {"role": "assistant", "content": None,
                     "reasoning_content": "Wait, maybe two."}, "finish_reason": "length"}]}),
    "ids_empty.jsonl": jsonl(rec(id="", problem_id="a"), rec(id="", problem_id="b")),
    "ids_are_problems_a.jsonl": jsonl(*[rec(id=i, model="a", problem_id=None) for i in range(3)]),
    "ids_are_problems_b.jsonl": jsonl(*[rec(id=i, model="b", problem_id=None) for i in range(3)]),
    "ids_one_as_number_and_text.jsonl": jsonl(rec(id=1, problem_id="a"), rec(id="1",
                                                                              problem_id="b")),
    "labels.jsonl": jsonl({"trace_id": "t1", "sentence": 1, "text": "Wait, let me check.",
                           "labels": ["metacognitive"]}),
})


def _special_files(d: Path) -> None:
    os.mkfifo(d / "fifo.jsonl")  # reading it would wait forever for a writer
    os.symlink(d / "no_such_target.jsonl", d / "broken_link.jsonl")
    _parquet(d / "parquet_sample_u64.parquet", {"model": ["m"], "response": ["a"],
                                                "sample": pl_u64(2**63)})


def _tampered_outputs(d: Path) -> None:
    """Stage outputs edited by hand (no manifest): wrong types, wrong shapes, no rows."""
    import polars as pl

    for name, edit in {
        "grade_correct_text": lambda df: df.with_columns(pl.col("correct").cast(pl.String)),
        "grade_zero_rows": lambda df: df.head(0),
    }.items():
        shutil.copytree(d / "grade_good", d / name)
        (d / name / "reasonlens-manifest.json").unlink()
        edit(pl.read_parquet(d / name / "graded.parquet")).write_parquet(d / name / "graded.parquet")
    bad = d / "grade_metrics_not_tables"
    shutil.copytree(d / "grade_good", bad)
    (bad / "reasonlens-manifest.json").unlink()
    (bad / "metrics.json").write_text('{"models": 3}')
    shutil.copy(d / "good.jsonl", d / "report_target.jsonl")
    pl.read_ndjson(d / "good_two_models.jsonl").write_parquet(d / "diff_target.parquet")


def _mismatched_ids(d: Path) -> None:
    """A score and a grade of the same file, the grade with --field problem_id=id."""
    from reasonlens.grade.run import GradeRunConfig, run_grade
    from reasonlens.traces.load import LoadOptions

    _score(d / "ids_are_problems_a.jsonl", d / "score_ids_as_given")
    run_grade([str(d / "ids_are_problems_a.jsonl")], d / "grade_ids_made", GradeRunConfig(
        n_boot=0), LoadOptions(fields={"problem_id": "id"}))


def _truncated_think(d: Path) -> None:
    """Traces with a reply cut off while thinking (no </think>), scored and graded."""
    src = d / "cut_off_think.jsonl"
    src.write_bytes(jsonl(rec(problem_id="a"), rec(problem_id="b", finish_reason="length",
                                                   response="<think>Wait, maybe 1+1 is")))
    _score(src, d / "score_cut_off")
    _grade(src, d / "grade_cut_off")


def _judge_output(d: Path) -> None:
    """An offline-detector judge output of good.jsonl (not of any labelled corpus)."""
    from reasonlens.cli import main

    try:
        main(["judge", str(d / "good.jsonl"), "--out", str(d / "judge_good")])
    except SystemExit as exc:
        assert not exc.code, exc.code


def pl_u64(v: int):
    import polars as pl

    return pl.Series([v], dtype=pl.UInt64)


BUILDERS: list[Callable[[Path], None]] = [_lighteval_and_inspect, _stage_outputs, _special_files,
                                          _tampered_outputs, _judge_output, _mismatched_ids,
                                          _truncated_think]


def build(d: str | os.PathLike) -> Path:
    """Write every corpus file into ``d`` (created); returns it."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    for name, data in FILES.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    shutil.copy(d / "good.jsonl", d / "good_copy.jsonl")
    _eval_zip_without_header(d / "eval_no_header.eval")
    _parquet(d / "parquet_no_response.parquet", {"model": ["m"], "question": ["q"]})
    _parquet(d / "parquet_response_int.parquet", {"model": ["m"], "response": [3]})
    _parquet_truncated(d / "parquet_truncated.parquet")
    for b in BUILDERS:
        b(d)
    return d


if __name__ == "__main__":  # pragma: no cover
    print(build(sys.argv[1] if len(sys.argv) > 1 else "corpus-out"))
