"""The trace viewer and the training curves: data (sample, spans) and the page in Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import reasonlens as rl
from reasonlens.api import inputs_of
from reasonlens.report.browser import check_report
from reasonlens.report.viewer import TermFinder, ViewerConfig, collect, draw, fetch_texts

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "traces.jsonl"
CHECKPOINTS = REPO / "examples" / "checkpoints.jsonl"
FAST = rl.ReportConfig(stats=rl.StatsConfig(n_boot=50))


@pytest.fixture(scope="module")
def example():
    t = rl.load_traces(EXAMPLE)
    return t, rl.score(t), rl.grade(t, n_boot=20), rl.judge(t)


def _span_counts(payload: dict) -> list[tuple[str, str, int, int]]:
    out = []
    for r in payload["responses"]:
        for ci, cat in enumerate(payload["categories"]):
            n = sum(1 for p in r["parts"].values() for x in p["terms"] if x[2] == ci)
            out.append((r["id"], cat, n, r["counts"][cat]))
    return out


@pytest.mark.parametrize("path", [EXAMPLE, CHECKPOINTS], ids=["example", "checkpoints"])
def test_highlighted_terms_add_up_to_the_scored_counts(path):
    t = rl.load_traces(path)
    payload = collect(inputs_of([rl.score(t)]), ViewerConfig(per_model=50), [t])
    rows = _span_counts(payload)
    assert len(rows) == 3 * len(payload["responses"]) > 0
    assert [r for r in rows if r[2] != r[3]] == []
    r0 = payload["responses"][0]["parts"]["reasoning"]
    words = {r0["text"][a:b].lower() for a, b, _c, _t in r0["terms"]}
    assert {"wait", "let me"} & words      # real terms, at the right offsets


def test_spans_are_utf16_offsets_and_respect_word_edges():
    from reasonlens.lexicon.lexicons import load_lexicons

    finder = TermFinder.for_lexicons(load_lexicons(["anthropomorphic"]))
    text = "😀 Wait, let me see: awaited waitress. 𝑥 wait"
    t = rl.load_traces(pl.DataFrame({"response": [text], "model": ["m"], "id": ["a"]}))
    payload = collect(inputs_of([rl.score(t)]), ViewerConfig(), [t])
    part = payload["responses"][0]["parts"]["answer"]
    u16 = part["text"].encode("utf-16-le")
    got = [u16[2 * a:2 * b].decode("utf-16-le") for a, b, _c, _t in part["terms"]]
    assert [g.lower() for g in got] == ["wait", "let me", "wait"]
    assert [m[2:] for m in finder.spans(text)] == [("anthropomorphic", "wait"),
                                                   ("anthropomorphic", "let me"),
                                                   ("anthropomorphic", "wait")]


def test_sample_is_bounded_disagreements_first_and_said(example):
    t, scored, graded, judged = example
    inputs = inputs_of([scored, graded, judged])
    cfg = ViewerConfig(per_model=5, per_problem=2)
    payload = collect(inputs, cfg, [graded.graded])
    from collections import Counter

    per_model = Counter(r["model"] for r in payload["responses"])
    assert per_model == {"distilled-32b-example": 5, "zero-rl-32b-example": 5}
    acc = graded.graded.group_by("problem_id", "model").agg(pl.col("correct").mean())
    disagree = set(acc.group_by("problem_id").agg(pl.col("correct").n_unique() > 1)
                   .filter(pl.col("correct"))["problem_id"])
    first = payload["responses"][0]["problem"].split("\u241f")[1]
    assert first in disagree
    assert "distilled-32b-example 5 of 24" in payload["note"]
    assert payload["behaviours"] == ["metacognitive", "multi_perspective"]
    assert any(p["beh"] for r in payload["responses"] for p in r["parts"].values())


def test_behaviour_counts_are_the_judges_and_shared_sentences_are_located(example):
    """The card's behaviour counts are the judge's recorded counts (episodes, as in the charts),
    not its instance rows (sentences); a sentence that is evidence for both behaviours is
    underlined for both (it was listed as "not located" for the second)."""
    t, scored, graded, judged = example
    payload = collect(inputs_of([scored, graded, judged]), ViewerConfig(per_model=50),
                      [graded.graded])
    assert payload["behaviour_unit"] == "episodes"
    want = {r["id"]: r for r in judged.judgments.iter_rows(named=True)}
    for r in payload["responses"]:
        for b in payload["behaviours"]:
            assert r["behaviours"].get(b) == want[r["id"]][f"{b}_count"]
    assert [r["unlocated"] for r in payload["responses"] if r["unlocated"]] == []
    inst = judged.instances
    shared = inst.group_by("id", "sentence").agg(pl.col("behaviour").n_unique()).filter(
        pl.col("behaviour") > 1)
    assert shared.height > 0           # the example has such sentences: the check bites
    assert any(r["behaviours"] != {} and sum(len(p["beh"]) for p in r["parts"].values())
               > sum(r["behaviours"].values()) for r in payload["responses"])


def test_texts_are_read_only_for_the_drawn_ids(tmp_path, example):
    t, scored, *_ = example
    p = tmp_path / "big.parquet"
    t.write_parquet(p)
    ids = t["id"].head(3).to_list()
    got, used = fetch_texts(ids, [("parquet", p)])
    assert sorted(got["id"].to_list()) == sorted(ids) and used == [str(p)]
    got2, used2 = fetch_texts(ids, [("traces", EXAMPLE)])
    assert got2.sort("id").select("reasoning", "answer").equals(
        got.sort("id").select("reasoning", "answer")) and used2 == [str(EXAMPLE)]
    drawn = draw(inputs_of([scored]).responses, ViewerConfig(per_model=0))
    assert drawn.height == 0


def test_no_viewer_when_no_text_or_turned_off(tmp_path, example):
    _, scored, *_ = example
    assert collect(inputs_of([scored]), ViewerConfig()) is None       # no text anywhere
    assert collect(inputs_of([scored]), ViewerConfig(per_model=0), [example[0]]) is None


VIEWER_PROBE = """
(() => {
  const root = document.getElementById('rv-root'), $ = (id) => document.getElementById(id);
  const out = {ready: root.getAttribute('data-ready'), shown: +root.getAttribute('data-shown')};
  out.cards = document.querySelectorAll('.rv-card').length;
  out.cats = [0, 1, 2].map(i => document.querySelectorAll('#rv-root .rv-c' + i).length);
  out.behs = [0, 1].map(i => document.querySelectorAll('#rv-root .rv-b' + i).length);
  const bg = () => getComputedStyle(document.querySelector('#rv-root .rv-c0')).backgroundColor;
  out.bgOn = bg(); $('rv-toggle-c0').click(); out.bgOff = bg(); $('rv-toggle-c0').click();
  const cmp = $('rv-compare'); cmp.checked = true; cmp.dispatchEvent(new Event('change'));
  out.pairs = Array.from(document.querySelectorAll('.rv-pair')).map(
    p => Array.from(p.querySelectorAll('h4')).map(h => h.textContent));
  $('rv-reset').click();
  const bars = document.querySelectorAll('#fig-category-rates svg path[role="graphics-symbol"]');
  out.bars = bars.length;
  if (bars.length) { bars[bars.length - 1].dispatchEvent(new MouseEvent('click', {bubbles: true})); }
  out.afterClick = {model: $('rv-model').value, sort: $('rv-sort').value,
                    shown: +root.getAttribute('data-shown'),
                    models: Array.from(new Set(Array.from(document.querySelectorAll(
                      '.rv-card .rv-head b')).map(b => b.textContent)))};
  $('rv-reset').click();
  window.rlViewer.focus({model: 'zero-rl-32b-example', category: 'connectors',
                         term: 'alternatively'});
  out.afterTerm = {shown: +root.getAttribute('data-shown'),
                   focus: document.querySelectorAll('.rv-focus').length};
  $('rv-reset').click();
  const cmp2 = $('rv-compare'); cmp2.checked = true; cmp2.dispatchEvent(new Event('change'));
  const t = document.getElementById('traces').getBoundingClientRect();
  out.top = t.top + window.scrollY;
  return JSON.stringify(out);
})()
"""


@pytest.mark.browser
@pytest.mark.slow
def test_viewer_in_chromium(tmp_path, chromium, artifacts_dir, example):
    t, scored, graded, judged = example
    built = rl.report(scored, graded, judged, path=tmp_path / "r.html", config=FAST)
    r = check_report(built.path, chromium=chromium, probe=VIEWER_PROBE)
    p = r.probe
    assert r.console_errors == [] and r.exceptions == [] and r.dialogs == []
    assert [u for u in r.requests if not u.startswith("file:")] == []
    assert p["ready"] == "1" and p["cards"] == p["shown"] == 24
    assert all(n > 0 for n in p["cats"]) and all(n > 0 for n in p["behs"])
    assert p["bgOn"] != p["bgOff"] and p["bgOff"] in ("rgba(0, 0, 0, 0)", "transparent")
    assert p["pairs"] and all(x == ["distilled-32b-example", "zero-rl-32b-example"]
                              for x in p["pairs"])
    assert p["bars"] >= 6
    click = p["afterClick"]                           # a bar opened its model's responses
    assert click["model"] in ("distilled-32b-example", "zero-rl-32b-example")
    assert click["models"] == [click["model"]] and click["shown"] == 12
    assert click["sort"].startswith("c")
    assert 0 < p["afterTerm"]["shown"] < 12 or p["afterTerm"]["focus"] == 0
    shot = artifacts_dir / "viewer.png"
    check_report(built.path, chromium=chromium, probe=VIEWER_PROBE, screenshot=shot,
                 region=(int(p["top"]), 1400))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 40_000


CURVES_PROBE = """
(() => JSON.stringify({
  curves: Array.from(document.querySelectorAll('#curves .chart')).map(c => [c.id,
    c.querySelectorAll('svg path, svg line').length]),
  steps: Array.from(document.querySelectorAll('#rv-step option')).map(o => o.textContent),
  cards: document.querySelectorAll('.rv-card').length,
  top: document.getElementById('curves').getBoundingClientRect().top + window.scrollY,
}))()
"""


@pytest.mark.browser
@pytest.mark.slow
def test_two_models_two_checkpoints_in_chromium(tmp_path, chromium, artifacts_dir):
    t = rl.load_traces(CHECKPOINTS)
    built = rl.report(t, rl.grade(t, n_boot=20), rl.judge(t), path=tmp_path / "c.html",
                      config=FAST)
    r = check_report(built.path, chromium=chromium, probe=CURVES_PROBE)
    p = r.probe
    assert r.console_errors == [] and r.exceptions == [] and r.dialogs == []
    assert [u for u in r.requests if not u.startswith("file:")] == []
    not_drawn = [c["id"] for c in r.charts if not (c["svg"] or c["canvas"]) or c["error"]]
    assert not_drawn == []
    assert [c[0] for c in p["curves"]] == ["fig-curves-categories", "fig-curves-behaviours",
                                           "fig-curves-accuracy"]
    assert all(n > 10 for _id, n in p["curves"])
    assert p["steps"] == ["all steps", "step 100", "step 200"] and p["cards"] > 0
    html = built.path.read_text(encoding="utf-8")
    assert json.loads(html.split('id="rl-traces-data">')[1].split("</script>")[0])["steps"] \
        == [100, 200]
    shot = artifacts_dir / "curves.png"
    check_report(built.path, chromium=chromium, screenshot=shot, region=(int(p["top"]), 1500))
    assert shot.stat().st_size > 40_000


def test_highlights_match_the_counts_on_real_traces(shared_data):
    """19 DeepSeek-R1 traces (schoenfeld-dev) and MATH-500 reference solutions (LaTeX-heavy)."""
    r1 = [" ".join(s["text"] for s in json.loads(f.read_text(encoding="utf-8"))["data"])
          for f in sorted((shared_data / "schoenfeld-dev").glob("*.json"))]
    probs = [json.loads(x) for x in (shared_data / "simplerl-eval" / "math500" / "test.jsonl")
             .read_text(encoding="utf-8").splitlines()[:len(r1)]]
    rows = []
    for i, p in enumerate(probs):
        rows.append({"model": "r1", "problem_id": p["unique_id"], "prompt": p["problem"],
                     "response": f"<think>\n{r1[i]}\n</think>\n\n{p['solution']}"})
        rows.append({"model": "solutions", "problem_id": p["unique_id"], "prompt": p["problem"],
                     "response": p["solution"]})
    t = rl.load_traces(pl.DataFrame(rows))
    payload = collect(inputs_of([rl.score(t)]), ViewerConfig(per_model=50, max_chars=10 ** 6),
                      [t])
    counts = _span_counts(payload)
    assert len(payload["responses"]) == len(rows) and sum(c[3] for c in counts) > 1000
    assert [c for c in counts if c[2] != c[3]] == []


def test_texts_read_from_a_trace_file_do_not_hold_their_batch(tmp_path):
    """A drawn response's texts are copied out of its batch: kept as they are, a few drawn
    rows per batch would hold every batch's text buffers (1 GB for 50 batches of 16 MB)."""
    path = tmp_path / "long.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for i in range(3000):
            fh.write(json.dumps({"id": f"r{i}", "response": f"<think>{'wait ' * 400}</think> "
                                 f"so {i} {'x' * 200}"}) + "\n")
    got, used = fetch_texts(["r7", "r2500"], [("traces", path)])
    assert sorted(got["id"].to_list()) == ["r2500", "r7"] and used == [str(path)]
    assert got.filter(pl.col("id") == "r7")["answer"].item() == "so 7 " + "x" * 200
    held = sum(b.size for c in ("reasoning", "answer") for b in _buffers(got[c]) if b is not None)
    assert held < 50_000, held   # the two rows' texts (~4 KB), not the batch's (~6.6 MB)


def _buffers(s: pl.Series):
    import pyarrow as pa

    arr = s.to_arrow(compat_level=pl.CompatLevel.newest())
    for ch in (arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]):
        yield from ch.buffers()
