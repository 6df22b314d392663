"""`reasonlens score`, `diff` and `lexicons` end to end, checked against an independent count."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from reasonlens.cli import cli
from reasonlens.io import parquet_provenance
from reasonlens.lexicon import load_lexicon

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "traces.jsonl"
CATS = ("anthropomorphic", "connectors", "math")


# --- an independent reference count: plain Python `re`, one term at a time -----------------

def _ref_term_regex(term: str) -> re.Pattern:
    if term.startswith("\\"):
        return re.compile(re.escape(term) + r"(?![A-Za-z])")
    body = r"\s+".join(re.escape(w).replace("'", "['’]").replace(r"\-", "[-‐‑]")
                       for w in term.split(" "))
    # whole word: no word character (or word+hyphen) on either side, no LaTeX backslash before
    return re.compile(r"(?<![\w\\])(?<!\w[-‐‑])" + body + r"(?![\w])(?![-‐‑]\w)",
                      re.IGNORECASE | re.ASCII)


def ref_counts(text: str, terms: tuple[str, ...]) -> dict[str, int]:
    out: dict[str, int] = {}
    latex = [t for t in terms if t.startswith("\\")]
    for t in latex:
        n = len(_ref_term_regex(t).findall(text))
        if n:
            out[t] = n
    work = re.sub(r"\\[A-Za-z]+", lambda m: "\\" + "x" * (len(m.group(0)) - 1), text)
    for t in sorted((t for t in terms if not t.startswith("\\")), key=len, reverse=True):
        rx = _ref_term_regex(t)
        n = 0
        while (m := rx.search(work)) is not None:  # count, then blank out (longest first)
            n += 1
            work = work[:m.start()] + "\x00" * (m.end() - m.start()) + work[m.end():]
        if n:
            out[t] = n
    return out


def ref_words(text: str) -> int:
    text = re.sub(r"\\[A-Za-z]+", " ", text)
    return len(re.findall(r"[^\W]+(?:['’\-‐‑][^\W]+)*", text))


def ref_rates(rows: list[tuple[str, str]], lexicon: str) -> dict[str, float]:
    """model -> hits of the lexicon per 1k words, over whole responses minus the think tags."""
    terms = load_lexicon(lexicon).terms
    hits: dict[str, int] = {}
    words: dict[str, int] = {}
    for model, response in rows:
        text = response.replace("<think>", "\n").replace("</think>", "\n")
        hits[model] = hits.get(model, 0) + sum(ref_counts(text, terms).values())
        words[model] = words.get(model, 0) + ref_words(text)
    return {m: 1000.0 * hits[m] / words[m] for m in hits}


def _rows(path: Path) -> list[tuple[str, str]]:
    return [(d["model"], d["response"]) for d in map(json.loads, path.open(encoding="utf-8"))]


def _score(tmp_path: Path, *args: str) -> tuple[Path, dict]:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["score", *args, "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    return out, json.loads((out / "summary.json").read_text())


# --- tests --------------------------------------------------------------------------------

def test_score_example_writes_the_declared_files(tmp_path):
    out, summary = _score(tmp_path, str(EXAMPLE))
    resp = pl.read_parquet(out / "responses.parquet")
    assert len(resp) == 48
    expected = ["id", "model", "benchmark", "problem_id", "sample", "finish_reason",
                "think_closed", "completion_tokens", "step", "words", "words_reasoning",
                "words_answer"]
    for c in CATS:
        expected += [c, f"{c}_reasoning", f"{c}_answer", f"{c}_per_1k"]
    assert resp.columns == expected
    assert (resp["words"] == resp["words_reasoning"] + resp["words_answer"]).all()
    for c in CATS:
        assert (resp[c] == resp[f"{c}_reasoning"] + resp[f"{c}_answer"]).all()
    terms = pl.read_parquet(out / "terms.parquet")
    assert terms.columns == ["id", "model", "benchmark", "problem_id", "category", "term",
                             "part", "count"]
    assert set(terms["part"]) == {"reasoning", "answer"} and (terms["count"] > 0).all()
    # terms add up to the category columns
    per = terms.group_by("id", "category").agg(pl.col("count").sum())
    check = resp.select("id", "anthropomorphic").join(
        per.filter(pl.col("category") == "anthropomorphic"), on="id", how="left")
    assert (check["anthropomorphic"] == check["count"].fill_null(0)).all()

    models = summary["models"]
    assert set(models) == {"distilled-32b-example", "zero-rl-32b-example"}
    for blk in models.values():
        assert blk["n_responses"] == 24 and blk["words"] > 0
        for c in CATS:
            cat = blk["categories"][c]
            assert set(cat) == {"per_1k_words", "mean_per_response", "share_with_any",
                                "median_per_response"}
            assert 0 <= cat["share_with_any"] <= 1
        assert set(blk["terms"]) == set(CATS)
        assert set(blk["terms"]["anthropomorphic"]) == set(load_lexicon("anthropomorphic").terms)
        assert set(blk["benchmarks"]) == {"example"}
        assert blk["benchmarks"]["example"]["n_responses"] == 24
    d, z = models["distilled-32b-example"], models["zero-rl-32b-example"]
    # the two styles come out as written: distilled talks, zero-RL computes
    for c in ("anthropomorphic", "connectors"):
        assert d["categories"][c]["per_1k_words"] > 5 * z["categories"][c]["per_1k_words"]
    assert z["categories"]["math"]["per_1k_words"] > 3 * d["categories"]["math"]["per_1k_words"]
    assert d["terms"]["anthropomorphic"]["wait"]["share_with_any"] == 1.0

    prov = summary["provenance"]
    assert prov["command"] == "score" and prov["reasonlens_version"]
    assert [(f["name"], f["version"], f["sha256"]) for f in prov["data_files"]] == [
        (c, load_lexicon(c).version, load_lexicon(c).sha256) for c in CATS]
    assert all(len(f["sha256"]) == 64 for f in prov["data_files"])
    assert prov["inputs"][0]["path"] == str(EXAMPLE)
    assert prov["inputs"][0]["hash"].startswith("sha256:")
    assert prov["config"]["score"] == {"lexicons": list(CATS), "mode": "fast", "lemma": False,
                                       "parts": "all"}
    assert summary["engine"] == "kernel"        # the compiled kernel counted (make test builds it)
    assert parquet_provenance(out / "responses.parquet")["config_hash"] == prov["config_hash"]
    assert parquet_provenance(out / "terms.parquet")["data_files"] == prov["data_files"]


def test_per_1k_rates_match_an_independent_count_on_the_example(tmp_path):
    _, summary = _score(tmp_path, str(EXAMPLE))
    rows = _rows(EXAMPLE)
    for c in CATS:
        ref = ref_rates(rows, c)
        for model, rate in ref.items():
            got = summary["models"][model]["categories"][c]["per_1k_words"]
            assert got == pytest.approx(rate, rel=1e-12), (c, model)


def test_real_file_300_problems_two_models(tmp_path, shared_data):
    src = shared_data / "simplerl-eval" / "math500" / "test.jsonl"
    recs = []
    for i, d in enumerate(map(json.loads, src.open(encoding="utf-8"))):
        if i == 300:
            break
        recs.append({"model": "solution-terse", "benchmark": "math500",
                     "problem_id": d["unique_id"], "response": d["solution"]})
        recs.append({"model": "solution-thinking", "benchmark": "math500",
                     "problem_id": d["unique_id"],
                     "response": f"<think>\nOkay, let me restate it. {d['problem']}\nHmm, wait. "
                                 f"Maybe I should just solve it.\n{d['solution']}\n</think>\n\n"
                                 f"The answer is $\\boxed{{{d['answer']}}}$."})
    path = tmp_path / "math500_two_models.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    _, summary = _score(tmp_path, str(path), "--lexicon", "anthropomorphic", "--lexicon",
                        "connectors", "--lexicon", "math", "--lexicon", "reflection")
    rows = _rows(path)
    assert {m: b["n_responses"] for m, b in summary["models"].items()} == {
        "solution-terse": 300, "solution-thinking": 300}
    for c in (*CATS, "reflection"):
        for model, rate in ref_rates(rows, c).items():
            got = summary["models"][model]["categories"][c]["per_1k_words"]
            assert got == pytest.approx(rate, rel=1e-12), (c, model)


def test_without_the_kernel_score_writes_the_same_outputs(tmp_path, monkeypatch):
    """The regex and numpy path (no compiled kernel) writes the same frames and summary; the
    summary says which counted."""
    from reasonlens.lexicon import count as count_mod

    out, summary = _score(tmp_path / "k", str(EXAMPLE))
    monkeypatch.setattr(count_mod, "USE_KERNEL", False)
    out_r, summary_r = _score(tmp_path / "r", str(EXAMPLE))
    for name in ("responses.parquet", "terms.parquet"):
        assert pl.read_parquet(out / name).equals(pl.read_parquet(out_r / name))
    assert (summary["engine"], summary_r["engine"]) == ("kernel", "regex")
    strip = ("engine", "provenance")
    assert {k: v for k, v in summary.items() if k not in strip} == \
        {k: v for k, v in summary_r.items() if k not in strip}


def test_exact_mode_parts_and_user_lexicon(tmp_path):
    _, fast = _score(tmp_path / "f", str(EXAMPLE))
    _, exact = _score(tmp_path / "e", str(EXAMPLE), "--mode", "exact")
    for m in fast["models"]:
        assert exact["models"][m]["categories"] == fast["models"][m]["categories"]
    assert exact["provenance"]["config"]["score"]["mode"] == "exact"
    assert exact["engine"] == "spacy"

    lex = tmp_path / "checks.toml"
    lex.write_text('name = "checks"\nversion = "0.1"\nterms = ["double-check", "verify"]\n')
    out, only_answer = _score(tmp_path / "p", str(EXAMPLE), "--lexicon", str(lex), "--parts",
                              "answer")
    resp = pl.read_parquet(out / "responses.parquet")
    assert (resp["checks"] == resp["checks_answer"]).all()
    assert (resp["words"] == resp["words_answer"]).all()
    assert resp["checks_reasoning"].sum() > 0 and resp["checks_answer"].sum() == 0
    assert only_answer["parts"] == "answer"
    assert only_answer["provenance"]["data_files"][0]["path"] == str(lex)
    assert only_answer["models"]["distilled-32b-example"]["terms"]["checks"]["verify"][
        "count"] == 0


def test_lemma_implies_exact_and_bad_options_are_clean_errors(tmp_path):
    _, summary = _score(tmp_path, str(EXAMPLE), "--lemma", "--lexicon", "reflection")
    assert summary["provenance"]["config"]["score"]["mode"] == "exact"
    runner = CliRunner()
    res = runner.invoke(cli, ["score", str(EXAMPLE), "--out", str(tmp_path / "x"), "--lemma",
                              "--mode", "fast"])
    assert "--lemma needs --mode exact" in str(res.exception)
    res = runner.invoke(cli, ["score", str(EXAMPLE), "--out", str(tmp_path / "x"), "--lexicon",
                              "nope"])
    assert "unknown lexicon 'nope'" in str(res.exception) and "anthropomorphic" in str(
        res.exception)


def test_behaviours_flag(tmp_path):
    runner = CliRunner()
    out = tmp_path / "b"
    res = runner.invoke(cli, ["score", str(EXAMPLE), "--out", str(out), "--behaviours"])
    if importlib.util.find_spec("reasonlens.judge.offline") is None:
        assert "offline behaviour detector" in str(res.exception)
        return
    assert res.exit_code == 0, (res.output, res.exception)
    resp = pl.read_parquet(out / "responses.parquet")
    for b in ("multi_perspective", "metacognitive"):
        assert {f"{b}_count", f"{b}_status"} <= set(resp.columns)
    summary = json.loads((out / "summary.json").read_text())
    blk = summary["models"]["distilled-32b-example"]["behaviours"]
    assert set(blk) == {"multi_perspective", "metacognitive"}
    assert summary["behaviour_source"]["source"] == "offline-detector"


def test_lexicons_and_diff_commands(tmp_path):
    runner = CliRunner()
    res = runner.invoke(cli, ["lexicons"])
    assert res.exit_code == 0 and "anthropomorphic" in res.output
    assert load_lexicon("anthropomorphic").version in res.output
    res = runner.invoke(cli, ["lexicons", "connectors", "--json"])
    data = json.loads(res.output)
    assert data["name"] == "connectors" and "alternatively" in data["terms"]
    out = tmp_path / "diff.parquet"
    res = runner.invoke(cli, ["diff", str(EXAMPLE), "--a", "distilled-32b-example", "--b",
                              "zero-rl-32b-example", "--top", "5", "--min-count", "3",
                              "--out", str(out)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "over-used by A" in res.output and "over-used by B" in res.output
    ranked = pl.read_parquet(out)
    top_a = ranked.filter(pl.col("z") > 0)["term"].head(10).to_list()
    top_b = ranked.filter(pl.col("z") < 0).sort("z")["term"].head(10).to_list()
    assert "let me" in top_a and "step" in top_b
    assert parquet_provenance(out)["command"] == "diff"
    # two models in the input: --a/--b may be left out; groups on a metadata column work too
    res = runner.invoke(cli, ["diff", str(EXAMPLE), "--group-a", "finish_reason=length",
                              "--group-b", "finish_reason=stop", "--min-count", "1"])
    assert res.exit_code == 0, (res.output, res.exception)
    res = runner.invoke(cli, ["diff", str(EXAMPLE), "--top", "3", "--min-count", "2"])
    assert res.exit_code == 0 and "model=distilled-32b-example" in res.output


def test_console_script_scores_the_example(tmp_path):
    exe = Path(sys.executable).with_name("reasonlens")
    res = subprocess.run([str(exe), "score", str(EXAMPLE), "--out", str(tmp_path / "o")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "distilled-32b-example" in res.stdout and "Scored 48 responses" in res.stderr


@pytest.mark.server
def test_behaviours_through_the_llm_judge(tmp_path, smollm_server, fault_proxy):
    """The --base-url wiring, end to end over HTTP. The proxy answers every call with a
    well-formed chat completion whose content holds no count (generation by the real model is
    exercised in the judge's own tests and is too slow here): every count must come back
    missing with a failure status, never 0."""
    reply = {"id": "c1", "object": "chat.completion", "model": smollm_server.model,
             "choices": [{"index": 0, "finish_reason": "stop",
                          "message": {"role": "assistant", "content": "Hard to say, really."}}],
             "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
    for _ in range(40):
        fault_proxy.push(("garbage", json.dumps(reply).encode()))
    src = tmp_path / "two.jsonl"
    with open(EXAMPLE, encoding="utf-8") as fh:
        lines = fh.readlines()
    src.write_text(lines[1] + lines[3], encoding="utf-8")  # two short zero-RL-style traces
    out = tmp_path / "j"
    res = CliRunner().invoke(cli, ["score", str(src), "--out", str(out), "--behaviours",
                                   "--base-url", fault_proxy.base_url, "--judge-model",
                                   smollm_server.model, "--judge-max-tokens", "16"])
    # every judgment failed: a non-zero exit, as `judge` (issue 11), the outputs written
    assert res.exit_code == 1 and "4 of 4 behaviour judgments failed" in str(res.exception), (
        res.output, res.exception)
    resp = pl.read_parquet(out / "responses.parquet")
    assert len(resp) == 2 and resp["judge"].to_list() == [f"llm:{smollm_server.model}"] * 2
    for b in ("multi_perspective", "metacognitive"):
        status = resp[f"{b}_status"].to_list()
        assert set(status) <= {"ok", "parse_error", "refusal", "error", "skipped"}
        # a failed judgment is missing, never 0
        assert "ok" not in status
        assert resp[f"{b}_count"].to_list() == [None, None]
    summary = json.loads((out / "summary.json").read_text())
    src_info = summary["behaviour_source"]
    assert src_info["source"] == "llm-judge"
    assert src_info["endpoint"]["base_urls"] == [fault_proxy.base_url]
    assert src_info["judge_config"]["params"]["max_tokens"] == 16
    blk = summary["models"]["zero-rl-32b-example"]["behaviours"]["metacognitive"]
    assert (blk["n_judged"], blk["n_missing"], blk["mean_per_response"]) == (0, 2, None)


def test_score_behaviours_with_failed_judgments_exits_non_zero(tmp_path):
    """score --behaviours with an LLM judge that never answered wrote null counts and exit 0."""
    import polars as pl
    import pytest

    from reasonlens.cli.cmd_score import _fail_on_behaviour_failures
    from reasonlens.judge.stage import JudgeFailures

    p = tmp_path / "responses.parquet"
    pl.DataFrame({"id": ["a", "b"], "metacognitive_status": ["ok", "error"],
                  "multi_perspective_status": ["ok", "ok"]}).write_parquet(p)
    with pytest.raises(JudgeFailures, match=r"1 of 4 behaviour judgments failed \(error: 1\)"):
        _fail_on_behaviour_failures(p)
    pl.DataFrame({"id": ["a"], "metacognitive_status": ["ok"]}).write_parquet(p)
    _fail_on_behaviour_failures(p)  # all ok: nothing raised


def _pool_size(cmd: str, env_threads: str | None) -> int:
    """polars' pool size in a fresh process on (at most) 2 CPUs after the CLI's pre-import hook
    for ``cmd``."""
    import os

    code = ("import os; os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2]); "
            "from reasonlens.cli import before_polars; before_polars(%r); "
            "import polars as pl; print(pl.thread_pool_size())" % cmd)
    env = {k: v for k, v in os.environ.items() if k != "POLARS_MAX_THREADS"}
    if env_threads is not None:
        env["POLARS_MAX_THREADS"] = env_threads
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


def test_score_on_two_cpus_runs_polars_on_one_thread_unless_told_otherwise():
    """On 2 CPUs score's own threads fill the cores (a second polars thread made it 9% slower);
    other commands keep polars' default pool, and POLARS_MAX_THREADS always wins."""
    default = _pool_size("grade", None)
    assert _pool_size("score", None) == 1
    assert _pool_size("score", str(default)) == default
    assert _pool_size("stats", None) == default


def _threads_after_numpy(cmd: str) -> int:
    """Threads of a fresh process on (at most) 2 CPUs once numpy is imported after the CLI's
    pre-import hook for ``cmd``."""
    import os

    code = ("import os; os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:2]); "
            "from reasonlens.cli import before_polars; before_polars(%r); "
            "import numpy; print(len(os.listdir('/proc/self/task')))" % cmd)
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
def test_score_on_two_cpus_starts_no_blas_threads():
    """score makes no BLAS call: on 2 CPUs OpenBLAS gets one thread (its idle threads spun for
    1.9% of score's CPU); other commands keep OpenBLAS' default."""
    assert _threads_after_numpy("score") == 1
    assert _threads_after_numpy("grade") > 1


def _jemalloc_decay(cmd: str, user_conf: str | None) -> str | None:
    """polars' jemalloc ``opt.dirty_decay_ms`` in a fresh process after the CLI's pre-import
    hook for ``cmd`` (jemalloc's own statistics at exit), or None where polars was built
    without jemalloc."""
    import os

    code = ("import os; from reasonlens.cli import before_polars; before_polars(%r); "
            "conf = os.environ.get('_RJEM_MALLOC_CONF'); "
            "os.environ['_RJEM_MALLOC_CONF'] = conf + ',stats_print:true' if conf "
            "else 'stats_print:true'; import polars as pl; pl.DataFrame({'a': [1]}).sum()"
            % cmd)
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if user_conf is not None:
        env["_RJEM_MALLOC_CONF"] = user_conf
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    found = re.search(r"opt\.dirty_decay_ms: (-?\d+)", out.stdout + out.stderr)
    return found.group(1) if found else None


def _malloc_arenas(cmd: str, env_extra: dict[str, str]) -> int:
    """glibc's malloc arenas in a fresh process after the CLI's pre-import hook for ``cmd``
    and three threads that each allocated (``malloc_info``'s heaps)."""
    import os

    code = ("import ctypes, os, re, sys, tempfile, threading; "
            "from reasonlens.cli import before_polars; before_polars(%r); "
            "import numpy as np; "
            "ts = [threading.Thread(target=lambda: [np.ones(1 << 16) for _ in range(50)]) "
            "for _ in range(3)]; [t.start() for t in ts]; [t.join() for t in ts]; "
            "libc = ctypes.CDLL(None); libc.fopen.restype = ctypes.c_void_p; "
            "path = tempfile.mktemp(); fp = ctypes.c_void_p(libc.fopen(path.encode(), b'w')); "
            "libc.malloc_info(0, fp); libc.fclose(fp); info = open(path).read(); "
            "os.remove(path); print(len(re.findall('<heap nr=', info)))" % cmd)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    out = subprocess.run([sys.executable, "-c", code], env={**env, **env_extra},
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_score_keeps_freed_memory_in_one_glibc_arena_unless_told_otherwise():
    """score gives glibc's malloc one arena and fixed thresholds (the 16 MB input chunks are
    reused memory, not fresh pages); other commands, and a user's own malloc settings, keep
    glibc's arena per thread."""
    import os

    if not hasattr(os, "confstr") or not os.confstr("CS_GNU_LIBC_VERSION"):
        pytest.skip("not glibc")
    from reasonlens.allocator import _MALLOC_ENV, keep_freed_memory

    assert _malloc_arenas("score", {}) == 1
    assert _malloc_arenas("grade", {}) > 1
    assert _malloc_arenas("score", {"MALLOC_ARENA_MAX": "4"}) > 1
    assert _malloc_arenas("score", {"GLIBC_TUNABLES": ""}) > 1
    if not any(v in os.environ for v in _MALLOC_ENV):
        assert keep_freed_memory() is True   # glibc took every value (here: harmless)


def test_score_keeps_freed_pages_in_polars_allocator_unless_told_otherwise():
    """score sets polars' jemalloc to keep freed pages for 10 s (5.8% less CPU on 1 GB); jemalloc
    reads the setting (its statistics say so), other commands keep polars' default, and a value
    the user set wins."""
    if _jemalloc_decay("grade", None) is None:
        pytest.skip("this polars build has no jemalloc (no statistics printed)")
    assert _jemalloc_decay("score", None) == "10000"
    assert _jemalloc_decay("grade", None) != "10000"
    assert _jemalloc_decay("score", "dirty_decay_ms:2000") == "2000"
