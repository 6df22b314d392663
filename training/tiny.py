"""A random tiny Qwen2 built in code, with a byte-level BPE tokenizer trained in code.

For CPU smoke runs of the real recipes: same architecture family as Qwen2.5-32B, same special
tokens (``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, ``<|fim_pad|>``), a few layers and a
small hidden size. The model is saved to a folder first (trl loads a reference model from a path
when beta > 0, and a model built in code has no name to reload from).

    python -m training.tiny --out out/tiny-qwen2
"""

from __future__ import annotations

from pathlib import Path

import click

from training.model_setup import TinySpec, inference_template, load_chat_template

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|fim_pad|>")

# A small fixed corpus so the BPE merges (and so the token ids) are deterministic.
_CORPUS = (
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "<think>\nLet me think about this problem. First, we compute the sum. Wait, let me check "
    "again. Alternatively, we can use the formula. So the answer is 42.\n</think>\n\n"
    "The answer is \\boxed{42}.",
    "Find the number of positive integers n less than 1000 such that n^2 + 1 is divisible by 5.",
    "Let x, y and z be real numbers with x + y + z = 10 and xy + yz + zx = 31. Find x^2+y^2+z^2.",
    "Hmm, maybe I made a mistake. Let me verify: 3 * 7 = 21, 21 + 4 = 25, sqrt(25) = 5. "
    "Therefore the remainder when 2^{100} is divided by 7 is 2. Yes, that works.",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 100 1000 $ \\frac{a}{b} \\sqrt{2} "
    "\\cdot \\pi ( ) [ ] { } = + - * / ^ _ , . ; : ! ? ' \"",
)


def build_tokenizer(vocab_size: int = 512, extra_texts: tuple[str, ...] = ()):
    """A byte-level BPE fast tokenizer with the Qwen2.5 special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(list(_CORPUS) + list(extra_texts), trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>", unk_token=None,
                                   clean_up_tokenization_spaces=False)


def build_tiny_qwen2(out: str | Path, spec: TinySpec | None = None, *,
                     template: str | None = None) -> Path:
    """Build a random Qwen2ForCausalLM and its tokenizer and save both to ``out``.

    Special-token conventions mirror Qwen2.5 base (eos ``<|endoftext|>`` in the saved tokenizer;
    the recipes set ``<|im_end|>`` as eos and ``<|fim_pad|>`` as pad).
    """
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    spec = spec or TinySpec()
    out = Path(out)
    tok = build_tokenizer(spec.vocab_size)
    if template is None:
        template = load_chat_template("chatml_think")
    tok.chat_template = inference_template(template)
    vocab = tok.get_vocab()
    config = Qwen2Config(vocab_size=len(tok), hidden_size=spec.hidden,
                         intermediate_size=spec.intermediate, num_hidden_layers=spec.layers,
                         num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
                         max_position_embeddings=spec.max_positions, tie_word_embeddings=True,
                         bos_token_id=None, eos_token_id=vocab["<|endoftext|>"],
                         pad_token_id=vocab["<|endoftext|>"])
    torch.manual_seed(spec.seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=[vocab["<|endoftext|>"]],
                                               pad_token_id=vocab["<|endoftext|>"])
    import os

    tmp = out.with_name(f"{out.name}.tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    if out.exists():  # another process won the race
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(out)
    return out


@click.command(help="Build a random tiny Qwen2 (and a BPE tokenizer) in code and save it.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Folder to write (config, weights, tokenizer).")
@click.option("--layers", default=TinySpec.layers, show_default=True, help="Decoder layers.")
@click.option("--hidden", default=TinySpec.hidden, show_default=True, help="Hidden size.")
@click.option("--vocab-size", default=TinySpec.vocab_size, show_default=True,
              help="BPE vocabulary size (special tokens included).")
@click.option("--seed", default=TinySpec.seed, show_default=True, help="Weight init seed.")
def main(out: str, layers: int, hidden: int, vocab_size: int, seed: int) -> None:
    spec = TinySpec(layers=layers, hidden=hidden, intermediate=2 * hidden, vocab_size=vocab_size,
                    seed=seed)
    path = build_tiny_qwen2(out, spec)
    click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
