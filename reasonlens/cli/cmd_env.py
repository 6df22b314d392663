"""``reasonlens env``: versions, extras, CUDA, caches and endpoint reachability (for bug reports)."""

from __future__ import annotations

import click


@click.command(name="env")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="OpenAI-compatible endpoint to probe with GET URL/models (repeatable); no "
                   "API key is sent.")
@click.option("--timeout", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="Seconds to wait for each --base-url.")
@click.option("--cuda", is_flag=True,
              help="Also import torch and list the CUDA devices it sees (takes seconds).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def command(base_urls: tuple[str, ...], timeout: float, cuda: bool, as_json: bool) -> None:
    """Print what this installation is made of; paste it into bug reports.

    Shows the reasonlens version (and git commit of a checkout), Python, the versions of key
    dependencies, which extras (train, gpu, scale, ...) are importable -- checked without
    importing them --, CUDA devices (nvidia-smi; torch's view with --cuda), where caches live,
    and whether each --base-url answers.

    \b
    Example:
      reasonlens env --base-url http://127.0.0.1:8000/v1
    """
    from reasonlens.environment import EnvConfig, environment

    rep = environment(EnvConfig(base_urls=tuple(base_urls), timeout=timeout, cuda=cuda))
    if as_json:
        import json

        click.echo(json.dumps(rep.as_dict(), indent=2))
        return
    rl, py = rep.reasonlens, rep.python
    click.echo(f"reasonlens {rl['version']} ({rl['location']}"
               + (f", git {rl['git_commit'][:12]}" if rl.get("git_commit") else "") + ")")
    click.echo(f"python     {py['version']} ({py['executable']}; {py['platform']})")
    click.echo("packages   " + ", ".join(f"{k} {v or 'MISSING'}" for k, v in
                                         rep.packages.items()))
    click.echo("extras")
    for name, st in rep.extras.items():
        state = "importable" if st["ok"] else "missing " + ", ".join(st["missing"])
        vers = ", ".join(f"{d} {v}" for d, v in st["versions"].items() if v)
        note = "" if st["declared"] else " [not declared in the installed metadata]"
        click.echo(f"  [{name}] {state}" + (f" ({vers})" if vers else "") + note)
    click.echo("cuda")
    smi = rep.cuda["nvidia_smi"]
    click.echo("  nvidia-smi: " + ("; ".join(smi) if isinstance(smi, list) else
                                   str(smi)) if smi != [] else "  nvidia-smi: no devices")
    t = rep.cuda["torch"]
    click.echo("  torch: " + (f"{t['version']} (CUDA build {t['cuda_build']}), devices: "
                              f"{', '.join(t['devices']) or 'none'}" if isinstance(t, dict)
                              else str(t)))
    click.echo("caches")
    for k, v in rep.caches.items():
        click.echo(f"  {k}: {v}")
    if rep.endpoints:
        click.echo("endpoints")
    for e in rep.endpoints:
        if e["reachable"]:
            models = ", ".join(map(str, e["models"] or [])) or "none listed"
            click.echo(f"  {e['base_url']}: HTTP {e['status']} in {e['seconds']} s; models: "
                       f"{models}")
        else:
            click.echo(f"  {e['base_url']}: UNREACHABLE ({e['error']})")
