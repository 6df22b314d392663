"""The HTML report: self-contained, no URL, escaped, sections for whichever inputs exist."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from reasonlens.report import ReportConfig, build_report
from reasonlens.report.bundle import javascript_bundle, neutralise_urls
from reasonlens.report.tables import esc, script_json
from reasonlens.stats import StatsConfig
from reasonlens.devtools.synthetic import SyntheticConfig, write_synthetic

HOSTILE = '</script><script>alert(1)</script>'
EXCERPT = ('Wait, </script><script>alert("x")</script> <img src=x onerror=alert(2)> '
           'see https://example.com/a?b=1&c=2')
URL_RE = re.compile(r"https?://", re.IGNORECASE)
FAST = ReportConfig(stats=StatsConfig(n_boot=100))


def add_excerpts(judge_dir, model: str) -> None:
    j = pl.read_parquet(judge_dir / "judgments.parquet")
    ids = j.filter(pl.col("model") == model)["id"].head(2).to_list()
    pl.DataFrame({"id": ids, "behaviour": ["metacognitive"] * len(ids),
                  "quote": [EXCERPT, "x" * 500], "sentence": [3, 4],
                  "chunk": [0, 0]}).write_parquet(judge_dir / "instances.parquet")


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    dirs = write_synthetic(d, SyntheticConfig(n_problems=5, n_samples=2, hostile_model=HOSTILE))
    add_excerpts(dirs["judge"], HOSTILE)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REASONLENS_HOME", str(d / "home"))
        out = build_report([d], d / "report.html", title=f"Report {HOSTILE}", config=FAST)
    return out, out.read_text(encoding="utf-8")


def test_report_has_every_section_and_one_bundle(hostile_report):
    _, html = hostile_report
    for anchor in ("overview", "token-usage", "distinctive-words", "length-control",
                   "behaviours", "lengths", "accuracy", "ablation", "judge-agreement"):
        assert f'<section id="{anchor}">' in html
    assert html.count("<script") == 6  # bundle, specs, provenance, embed code, viewer data + code
    marker = javascript_bundle()[-200:]
    assert html.count(marker) == 1
    specs = json.loads(re.search(r'<script type="application/json" id="rl-specs">(.*?)</script>',
                                 html, re.S).group(1))
    charts = re.findall(r'<div class="chart" id="([^"]+)"', html)
    assert sorted(charts) == sorted(specs) and len(charts) >= 12
    assert all("$schema" not in s for s in specs.values())
    assert "Provenance" in html and "git_commit" in html and "lexicon" in html


def test_report_references_no_url(hostile_report):
    _, html = hostile_report
    assert URL_RE.search(html) is None
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    assert "href=\"#overview\"" in markup  # only in-page anchors, nothing loaded from anywhere
    tags = re.findall(r"<[a-zA-Z][^>]*>", markup)
    assert not [t for t in tags if re.search(r'\s(?:src|href|srcset|action|data|poster)\s*=\s*'
                                             r'(?!["\']?#)', t, re.I)]
    assert not re.search(r"@import|url\(", markup, re.I)
    assert "&#58;//example.com" in html  # the URL quoted in a trace is shown, not linked


def test_trace_text_is_escaped_and_json_is_script_safe(hostile_report):
    _, html = hostile_report
    bundle = javascript_bundle()
    assert html.count(bundle) == 1
    page = html.replace(bundle, "")  # the Vega library itself contains '<img' in a template
    traces = re.search(r'id="rl-traces-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in traces and ">" not in traces            # viewer data: JSON, escaped
    data = json.loads(traces)
    assert HOSTILE in data["models"]                          # exact text after JSON.parse
    assert [EXCERPT] == [q for r in data["responses"] for _b, q in r["unlocated"]
                         if q.startswith("Wait, </")]
    page = page.replace(traces, "")
    assert "<script>alert" not in page and "<img" not in page and "onerror=alert" not in \
        page.replace("onerror=alert(2)&gt;", "")
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html  # tables, title
    assert "&lt;img src=x onerror=alert(2)&gt;" in html                        # excerpt
    assert "x" * 200 not in page            # shortened (the viewer keeps instances, up to 300)
    block = re.search(r'id="rl-specs">(.*?)</script>', html, re.S).group(1)
    assert "<" not in block and ">" not in block
    specs = json.loads(block)
    assert HOSTILE in json.dumps(specs, ensure_ascii=False)  # exact text after JSON.parse


def test_escaping_helpers():
    assert esc('<a href="https://x">&') == "&lt;a href=&quot;https&#58;//x&quot;&gt;&amp;"
    s = script_json({"k": "</script><!-- https://x \u2028"})
    assert "</" not in s and "<!--" not in s and "https://" not in s
    assert json.loads(s) == {"k": "</script><!-- https://x \u2028"}


def test_bundle_urls_are_neutralised_without_changing_string_values():
    js = 'a="http://www.w3.org/2000/svg";b=`https://x.org/${c}`;r=/https:\\/\\/y/'
    out = neutralise_urls(js)
    assert URL_RE.search(out) is None
    assert out.startswith('a="http:\\/\\/www.w3.org/2000/svg"')
    assert URL_RE.search(javascript_bundle()) is None
    assert "</script" not in javascript_bundle().lower()


@pytest.mark.parametrize("stages,present,absent", [
    (("grade",), ["accuracy"], ["token-usage", "behaviours", "ablation"]),
    (("judge",), ["behaviours"], ["token-usage", "accuracy"]),
    (("ablate", "judge-eval"), ["ablation", "judge-agreement"], ["token-usage", "lengths"]),
    (("score",), ["token-usage", "distinctive-words", "lengths", "length-control"],
     ["accuracy", "behaviours"]),
])
def test_report_works_with_whichever_inputs_exist(tmp_path, stages, present, absent):
    dirs = write_synthetic(tmp_path / "in", SyntheticConfig(n_problems=4, n_samples=2),
                           stages=stages)
    out = build_report(list(dirs.values()), tmp_path / "r.html", config=FAST)
    html = out.read_text(encoding="utf-8")
    for a in present:
        assert f'<section id="{a}">' in html
    for a in absent:
        assert f'<section id="{a}">' not in html
    assert URL_RE.search(html) is None


def test_every_rate_and_accuracy_table_carries_n_and_ci(hostile_report):
    _, html = hostile_report
    tables = re.findall(r"<table>(.*?)</table>", html, re.S)
    checked = 0
    for t in tables:
        head = " ".join(re.findall(r"<th>(.*?)</th>", t))
        if re.search(r"per 1k|accuracy|rate ratio|pass@k|mean per response|odds ratio", head):
            assert "[CI" in head or "[CI]" in head, head
            assert re.search(r"\bn\b|\bn (responses|problems|samples|judged)", head), head
            checked += 1
    assert checked >= 8


def test_png_and_svg_export(tmp_path):
    dirs = write_synthetic(tmp_path / "in", SyntheticConfig(n_problems=3, n_samples=2),
                           stages=("ablate",))
    build_report([dirs["ablate"]], tmp_path / "r.html", png_dir=tmp_path / "png",
                 svg_dir=tmp_path / "svg", config=FAST)
    png = tmp_path / "png" / "ablation.png"
    svg = (tmp_path / "svg" / "ablation.svg").read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    assert svg.lstrip().startswith("<svg") and "ban_connectors" in svg


def test_report_cli(tmp_path, capsys):
    from reasonlens.cli import main

    dirs = write_synthetic(tmp_path / "in", SyntheticConfig(n_problems=3, n_samples=2),
                           stages=("grade", "ablate"))
    out = tmp_path / "reports" / "x.html"
    main(["report", str(dirs["grade"]), str(dirs["ablate"]), "-o", str(out), "--title", "CLI",
          "--n-boot", "50"])
    assert "wrote" in capsys.readouterr().out
    html = out.read_text(encoding="utf-8")
    assert "<title>CLI</title>" in html and '<section id="ablation">' in html


def test_report_from_a_trace_file_scores_on_the_fly_and_escapes(tmp_path):
    pytest.importorskip("reasonlens.lexcount.run")
    rows = []
    for m in ("plain-model", HOSTILE):
        for p in range(4):
            for s in range(2):
                rows.append({"model": m, "benchmark": "toy", "problem_id": f"p{p}", "sample": s,
                             "response": "<think>Wait, let me check. But so therefore "
                                         f"{'hmm ' * (p + s)}<script>alert(3)</script> see "
                                         "https://example.org</think> The answer is 4.",
                             "gold": "4"})
    src = tmp_path / "traces.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    out = build_report([src], tmp_path / "t.html", config=FAST)
    html = out.read_text(encoding="utf-8")
    assert '<section id="token-usage">' in html and '<section id="lengths">' in html
    assert "traces" in html and "score (on the fly, default lexicons)" in html
    page = html.replace(javascript_bundle(), "")
    assert URL_RE.search(html) is None and "<script>alert" not in page
    specs = json.loads(re.search(r'id="rl-specs">(.*?)</script>', html, re.S).group(1))
    assert HOSTILE in json.dumps(specs, ensure_ascii=False)
    assert "alert(3)" not in json.dumps(specs)  # response text itself is never embedded
