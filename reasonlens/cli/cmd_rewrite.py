"""``reasonlens rewrite``: the style-vs-strategy hook of the ablation."""

from __future__ import annotations

import click

from reasonlens.cli._common import load_options, trace_input_options


@click.command(context_settings={"show_default": True})
@click.argument("inputs", nargs=-1, required=True)
@trace_input_options
@click.option("--base-url", "base_urls", multiple=True,
              help="OpenAI-compatible base URL of the rewriting model (repeatable; required "
              "unless --dry-run).")
@click.option("--model", help="Model name of the rewriting endpoint (required unless "
              "--dry-run).")
@click.option("--ban", "bans", multiple=True, help="Lexicon category whose words the rewrite "
              "must avoid (repeatable), e.g. anthropomorphic, connectors.")
@click.option("--ban-words", multiple=True, help="Comma-separated extra words to avoid.")
@click.option("--banlist", help="A ban-list preset, e.g. paper_core.")
@click.option("--template", default="rewrite_without_markers",
              help="Rewrite prompt template (prompts/templates) or a .toml path.")
@click.option("--lexicon", "lexicons", multiple=True, help="Lexicons to re-score with "
              "(default: the four shipped ones).")
@click.option("--limit", type=int, help="Rewrite only the first N traces.")
@click.option("--max-tokens", type=int, help="Max tokens of a rewrite (default: about the "
              "trace's length, at least 256).")
@click.option("--concurrency", type=int, default=4, help="Concurrent requests.")
@click.option("--api-key-env", default="OPENAI_API_KEY", help="Environment variable holding "
              "the API key (never stored).")
@click.option("--dry-run", is_flag=True, help="Read the traces and build every request, send "
              "nothing: prints how many would be sent (no endpoint needed).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Rewritten traces (JSONL, append-only: rerun to resume). A summary is "
              "written beside it as OUT.summary.json.")
def command(inputs, bans, ban_words, banlist, template, lexicons, limit, max_tokens,
            concurrency, api_key_env, dry_run, out_path, base_urls, model, **kw) -> None:
    """Rewrite traces without the marker words (meaning kept), then re-score them.

    \b
    Separates surface tokens from strategy: compares lexicon rates, banned-word leakage
    and length before and after the rewrite (temperature 0, versioned template). The
    rewritten JSONL loads as traces (response = the rewrite), so it can be graded and
    scored like any other run. Traces are read and sent in batches (bounded memory).
    """
    from pathlib import Path

    from reasonlens.ablate.presets import resolve_categories
    from reasonlens.ablate.rewrite import (RewriteTemplate, iter_rewrite_batches, plan_rewrites,
                                           rescore, rewrite_traces)
    from reasonlens.cli._common import echo_table
    from reasonlens.endpoint import EndpointConfig
    from reasonlens.io import write_json
    from reasonlens.lexicon import DEFAULT_LEXICONS
    from reasonlens.provenance import input_records, provenance
    from reasonlens.traces import iter_trace_batches

    opts = load_options(kw)
    cats, data_files = resolve_categories(bans, ban_words, banlist)
    banned = list(dict.fromkeys(t for terms in cats.values() for t in terms))
    batches = iter_trace_batches(list(inputs), opts)
    tmpl = RewriteTemplate.load(template)
    if dry_run:
        plan = plan_rewrites(batches, banned, out_path, template=tmpl, max_tokens=max_tokens,
                             limit=limit)
        click.echo(f"rewrite --dry-run: {plan['would_send']} requests would be sent "
                   f"({plan['skipped_existing']} of {plan['requested']} traces already in "
                   f"{out_path}); {plan['prompt_chars']} prompt characters, at most "
                   f"{plan['max_tokens_total']} completion tokens; nothing sent")
        return
    if not base_urls or not model:
        raise click.UsageError("--base-url and --model are required (or use --dry-run)")
    endpoint = EndpointConfig(base_urls=tuple(base_urls), model=model, concurrency=concurrency,
                              api_key_env=api_key_env)
    stats = rewrite_traces(batches, endpoint, banned, out_path, template=tmpl,
                           max_tokens=max_tokens, limit=limit)
    lex_refs = list(lexicons) or list(DEFAULT_LEXICONS)
    summary = rescore(iter_rewrite_batches(out_path), lex_refs, banned)
    summary.update(stats=stats, banned=banned, provenance=provenance(
        command="rewrite", config={"endpoint": endpoint.public(), "template": tmpl.record,
                                   "max_tokens": max_tokens, "limit": limit,
                                   "lexicons": lex_refs},
        data_files=data_files + [tmpl.record], inputs=input_records(list(inputs))))
    sp = Path(out_path).with_name(Path(out_path).name + ".summary.json")
    write_json(sp, summary)
    rows = [[c, v["per_1k_before"], v["per_1k_after"]] for c, v in summary["categories"].items()]
    rows.append(["banned-word leakage (share)", summary["leakage"].get("before"),
                 summary["leakage"].get("after")])
    rows.append(["words", summary["length"].get("words_before"),
                 summary["length"].get("words_after")])
    echo_table(f"rewrite: {summary['n']} traces ({stats['written']} new, {stats['failed']} "
               "failed)", ["per 1k words", "before", "after"], rows)
    click.echo(f"rewrites: {out_path}; summary: {sp}")
