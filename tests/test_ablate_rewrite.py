"""``rewrite`` in batches (issue 12 item 3): the dry run needs no endpoint, batches give the same
plan and re-score as one frame, and ``--limit`` spans batches."""

from __future__ import annotations

import json

import polars as pl

from reasonlens.ablate.rewrite import RewriteTemplate, plan_rewrites, rescore, rewrite_jobs

TEXTS = ["Wait, 2 + 2 = 4. But let me check: yes, 4.", "Hmm, maybe 8. Wait, 3 + 5 = 8.",
         "So the answer is 7.", "", "Alternatively, we could add. Wait. 10."]


def _frame(lo: int, hi: int) -> pl.DataFrame:
    return pl.DataFrame({"id": [f"m:b:{i}:0" for i in range(lo, hi)],
                         "response": [TEXTS[i % len(TEXTS)] for i in range(lo, hi)]})


def test_jobs_come_batch_by_batch_and_limit_spans_batches(tmp_path):
    tmpl = RewriteTemplate.load()
    batches = [_frame(0, 4), _frame(4, 8), _frame(8, 12)]
    stats: dict = {}
    got = list(rewrite_jobs(iter(batches), ["wait"], {"m:b:1:0"}, tmpl, limit=6,
                            stats=stats))
    assert [len(j) for j in got] == [3, 2]            # one id done; the limit stops at 6
    assert stats == {"requested": 6, "skipped_existing": 1}
    assert got[0][0].messages == tmpl.messages(TEXTS[0], ["wait"])
    assert got[0][0].max_tokens == 256


def test_dry_run_plan_is_the_same_in_batches(tmp_path):
    one = plan_rewrites(_frame(0, 12), ["wait", "but"], tmp_path / "o.jsonl")
    many = plan_rewrites(iter([_frame(0, 5), _frame(5, 12)]), ["wait", "but"],
                         tmp_path / "o.jsonl")
    assert one == many and one["would_send"] == 12 and one["dry_run"]
    assert not (tmp_path / "o.jsonl").exists()


def test_rescore_adds_counts_over_batches():
    df = pl.DataFrame({"original_response": TEXTS * 3,
                       "response": [t.replace("Wait", "Now") for t in TEXTS] * 3})
    whole = rescore(df, ["anthropomorphic", "connectors"], ["wait", "but"])
    parts = rescore(iter([df.slice(0, 4), df.slice(4, 7), df.slice(11, 4)]),
                    ["anthropomorphic", "connectors"], ["wait", "but"])
    assert whole == parts and whole["n"] == 15
    assert whole["leakage"]["before"] > whole["leakage"]["after"]


def test_rewrite_cli_dry_run_needs_no_endpoint(tmp_path, capsys, monkeypatch):
    from reasonlens.cli import main

    monkeypatch.setenv("REASONLENS_RAISE_ERRORS", "1")
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps({"id": f"t{i}", "model": "m", "benchmark": "b",
                                       "problem_id": str(i), "sample": 0,
                                       "response": TEXTS[i % 5] or "x"}) + "\n"
                           for i in range(7)))
    try:
        main(["rewrite", str(src), "--banlist", "paper_core", "--dry-run", "--limit", "5",
              "--out", str(tmp_path / "rw.jsonl")])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "5 requests would be sent" in capsys.readouterr().out
    assert not (tmp_path / "rw.jsonl").exists()
