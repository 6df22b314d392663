"""``reasonlens lexicons``: list the registered lexicons, or show one."""

from __future__ import annotations

import click


@click.command("lexicons")
@click.argument("name", required=False, metavar="[NAME|PATH]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def command(name: str | None, as_json: bool) -> None:
    """List the registered lexicons with their versions, or show one lexicon's terms.

    \b
    Lexicons are TOML files (name, version, description, source, terms) shipped in
    reasonlens/resources/lexicons/, found in $REASONLENS_DATA_PATH/lexicons/, or given
    as a path. Examples:
      reasonlens lexicons
      reasonlens lexicons anthropomorphic
      reasonlens lexicons ./my_lexicon.toml
    """
    import orjson

    from reasonlens.cli._common import echo_table
    from reasonlens.lexicon.lexicons import list_lexicons, load_lexicon

    if name is None:
        lexs = [load_lexicon(n) for n in list_lexicons()]
        if as_json:
            click.echo(orjson.dumps([lx.record() | {"description": lx.description}
                                     for lx in lexs], option=orjson.OPT_INDENT_2).decode())
            return
        echo_table("registered lexicons", ["name", "version", "terms", "description"],
                   [[lx.name, lx.version, len(lx.terms), _first_sentence(lx.description)]
                    for lx in lexs])
        return
    lx = load_lexicon(name)
    if as_json:
        click.echo(orjson.dumps(lx.record() | {"description": lx.description,
                                               "source": lx.source, "terms": list(lx.terms)},
                                option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"{lx.name} {lx.version}  ({len(lx.terms)} terms, sha256 {lx.sha256[:12]})")
    click.echo(f"file: {lx.path}")
    click.echo(f"description: {' '.join(lx.description.split())}")
    click.echo(f"source: {' '.join(lx.source.split())}")
    click.echo("terms: " + ", ".join(lx.terms))


def _first_sentence(text: str, limit: int = 70) -> str:
    flat = " ".join(text.split())
    cut = flat.split(". ")[0]
    return cut if len(cut) <= limit else cut[: limit - 1] + "…"
