"""``reasonlens ablate``: the token-restriction ablation."""

from __future__ import annotations

import click


@click.command(context_settings={"show_default": True})
@click.option("--benchmark", required=True, help="Benchmark name (see reasonlens.problems "
              "list_benchmarks), e.g. math500, aime24.")
@click.option("--benchmark-source", type=click.Path(exists=True),
              help="Local benchmark file or directory (the ../shared/data layouts); default: "
              "the hub dataset through `datasets`.")
@click.option("--limit", type=int, help="Use only the first N problems (a small slice).")
@click.option("--model", required=True, help="Model name: the served model for --base-url, "
              "the name recorded in traces for --backend hf/vllm.")
@click.option("--backend", type=click.Choice(["openai", "hf", "vllm"]), default=None,
              help="openai: an OpenAI-compatible server with logit_bias (default when "
              "--base-url is given); hf: transformers generate on CPU/GPU with a logits "
              "processor that also blocks multi-token sequences (default with --model-path); "
              "vllm: one vLLM offline engine for every condition, the ban in each request's "
              "SamplingParams(logit_bias) (needs a GPU).")
@click.option("--base-url", "base_urls", multiple=True, help="OpenAI-compatible base URL, "
              "e.g. http://127.0.0.1:8000/v1 (repeatable: requests are spread over them).")
@click.option("--model-path", help="transformers model directory (--backend hf) or vLLM model "
              "path/hub id (--backend vllm).")
@click.option("--tokenizer", "tokenizer_path", help="Local tokenizer directory or "
              "tokenizer.json matching the model (default: the model's own, or the server's "
              "tokenize/detokenize endpoints).")
@click.option("--vocab-size", type=int, help="Vocabulary size, needed to scan the vocabulary "
              "through a llama-cpp-python server's /extras/detokenize.")
@click.option("--ban", "bans", multiple=True, help="Ban a lexicon category (a shipped lexicon "
              "name such as anthropomorphic, connectors, or a lexicon .toml path). Repeatable; "
              "each becomes a condition.")
@click.option("--ban-words", multiple=True, help="Comma-separated words to ban as the "
              "category 'words' (repeatable).")
@click.option("--banlist", help="A ban-list preset (reasonlens/resources/banlists), e.g. "
              "paper_core (wait, maybe / alternatively, but), lexicons_full.")
@click.option("--no-collateral-pieces", is_flag=True, help="Never ban an id whose surface is "
              "not a whole banned word (sub-word pieces of multi-token forms, banned by "
              "default on logit_bias backends); those forms then leak and are measured.")
@click.option("--no-random-control", is_flag=True, help="Skip the random-token control.")
@click.option("--random-seed", type=int, default=0, help="Seed of the random-token control.")
@click.option("--max-bias-entries", type=int, default=-1, help="Most logit_bias entries the "
              "server accepts; -1: 300 for api.openai.com and unlimited elsewhere; 0: unlimited.")
@click.option("--over-limit", type=click.Choice(["refuse", "truncate"]), default="refuse",
              help="Over --max-bias-entries: stop with the numbers, or keep the first entries "
              "(most common forms first) with a warning and record the dropped ids.")
@click.option("--no-ban-check", is_flag=True, help="Skip the first-request check that the "
              "server applies logit_bias (a banned-word echo prompt with and without it).")
@click.option("-n", "n", type=int, default=1, help="Samples per problem.")
@click.option("--temperature", type=float, default=0.6, help="Sampling temperature (0: greedy).")
@click.option("--top-p", type=float, default=0.95, help="Nucleus sampling top_p.")
@click.option("--max-tokens", type=int, default=32768, help="Maximum new tokens per response.")
@click.option("--seed", type=int, default=0, help="Base sampling seed (sample s uses seed+s).")
@click.option("--template", default="boxed_cot", help="Prompt template (prompts/templates).")
@click.option("--concurrency", type=int, default=8, help="Concurrent requests per run.")
@click.option("--tensor-parallel-size", type=click.IntRange(1), help="--backend vllm: GPUs "
              "per model (vLLM's default: 1). One engine serves every condition.")
@click.option("--max-model-len", type=click.IntRange(1), help="--backend vllm: context length "
              "(default: the model's; set it to prompt + --max-tokens to save KV-cache memory).")
@click.option("--gpu-memory-utilization", type=click.FloatRange(0, 1, min_open=True),
              help="--backend vllm: share of GPU memory for the engine (vLLM's default 0.9).")
@click.option("--device", default="cpu", help="--backend hf: torch device (cpu, cuda, cuda:1, "
              "or auto: the GPU when torch sees one).")
@click.option("--threads", type=int, help="torch CPU threads for --backend hf (default: "
              "torch's; on a busy shared CPU 1 is often fastest).")
@click.option("--api-key-env", default="OPENAI_API_KEY", help="Environment variable holding "
              "the API key (never stored).")
@click.option("--n-boot", type=int, default=1000, help="Bootstrap resamples for CIs.")
@click.option("--min-count", type=int, default=2, help="Minimum count of a term in the "
              "substitution table.")
@click.option("--dry-run", is_flag=True, help="Build the ban sets and the collateral report "
              "(DIR/bansets.json, DIR/collateral.json) and generate nothing.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output directory (resumable: rerun the same command to continue).")
@click.option("--quiet", is_flag=True, help="No progress messages.")
def command(**kw) -> None:
    """Ban words while the model generates, then grade and audit every condition.

    \b
    Conditions: none, each --ban category, all (their union), random (as many
    frequency-matched random token ids as 'all' blocks). Writes DIR/traces/<condition>.jsonl,
    DIR/graded/<condition>.parquet, DIR/ablation.json (accuracy and CI, paired delta vs none,
    leakage, clip ratio, length, loops), DIR/collateral.json, DIR/substitutions.parquet and
    DIR/leakage.parquet, and prints a table.

    \b
    Example (SmolLM2 on CPU):
      reasonlens ablate --benchmark math500 --benchmark-source DATA/math500/test.jsonl \\
        --limit 3 --model smollm2 --backend hf --model-path MODEL_DIR \\
        --banlist paper_core --temperature 0 --max-tokens 24 --out out/ablate
    """
    from reasonlens.ablate.audit import AuditConfig
    from reasonlens.ablate.run import AblationConfig, plan_only, run_ablation, table_rows
    from reasonlens.cli._common import echo_table
    from reasonlens.generate import SamplingConfig

    backend = kw["backend"] or ("openai" if kw["base_urls"] else "hf" if kw["model_path"]
                                else None)
    if backend is None:
        raise click.UsageError("give --base-url URL, or --backend hf --model-path DIR, or "
                               "--backend vllm")
    quiet = kw["quiet"]

    def echo(msg: str) -> None:
        if not quiet:
            click.echo(msg, err=True)

    cfg = AblationConfig(
        benchmark=kw["benchmark"], model=kw["model"], backend=backend,
        base_urls=tuple(kw["base_urls"]), model_path=kw["model_path"],
        tokenizer=kw["tokenizer_path"], vocab_size=kw["vocab_size"],
        benchmark_source=kw["benchmark_source"], limit=kw["limit"], bans=tuple(kw["bans"]),
        ban_words=tuple(kw["ban_words"]), banlist=kw["banlist"],
        pieces="none" if kw["no_collateral_pieces"] else "last",
        random_control=not kw["no_random_control"], random_seed=kw["random_seed"],
        max_bias_entries=kw["max_bias_entries"], over_limit=kw["over_limit"],
        check_ban=not kw["no_ban_check"], concurrency=kw["concurrency"],
        api_key_env=kw["api_key_env"], threads=kw["threads"], device=kw["device"],
        tensor_parallel_size=kw["tensor_parallel_size"], max_model_len=kw["max_model_len"],
        gpu_memory_utilization=kw["gpu_memory_utilization"],
        audit=AuditConfig(n_boot=kw["n_boot"], seed=kw["seed"],
                          substitution_min_count=kw["min_count"]))
    from reasonlens.ablate.engines import make_backend

    if make_backend(cfg).bias_limit() is not None:
        echo(f"logit_bias entry limit: {cfg.bias_limit()} (--max-bias-entries); multi-token "
             "forms are banned through sub-word pieces only on this backend")
    if kw["dry_run"]:
        plan = plan_only(cfg, kw["out_dir"], echo=echo)
        rows = [[name, c["n_banned_ids"], c["n_bias_entries"], c["n_sequences"],
                 sum(v == "single" for v in c["coverage"].values()), len(c["coverage"])]
                for name, c in plan["conditions"].items()]
        echo_table("ban sets (dry run)", ["condition", "ids", "bias entries", "sequences",
                                          "1-token lexemes", "lexemes"], rows)
        col = plan["collateral"]
        click.echo(f"collateral: {col['n_units_with_collateral']} units block "
                   f"{col['n_words_blocked']} other words; see {kw['out_dir']}/collateral.json")
        return
    sampling = SamplingConfig(temperature=kw["temperature"], top_p=kw["top_p"],
                              max_tokens=kw["max_tokens"], n=kw["n"], seed=kw["seed"],
                              template=kw["template"])
    result = run_ablation(cfg, sampling, kw["out_dir"], progress=not quiet, echo=echo)
    cols, rows = table_rows(result)
    echo_table(f"ablation: {cfg.model} on {cfg.benchmark} ({result['n_problems']} problems, "
               f"backend {backend})", cols, rows)
    click.echo(f"outputs in {kw['out_dir']}: ablation.json, collateral.json, "
               "substitutions.parquet, leakage.parquet, traces/, graded/")
