"""transformers backend: the logits processor, and real SmolLM2 generation on CPU never emitting
a banned id or completing a banned sequence."""

from __future__ import annotations

import pytest

from reasonlens.ablate.hf_backend import BanLogitsProcessor

pytestmark = pytest.mark.train

ELICIT = 'Repeat this sentence exactly: "Wait, wait. Hmm, maybe but wait. Hmm."'


def test_processor_blocks_singles_and_sequence_tails():
    p = BanLogitsProcessor([5, 9], [(1, 2, 3), (4, 3), (7,)])
    assert p.blocked_after([0]) == {5, 7, 9}
    assert p.blocked_after([0, 1, 2]) == {3, 5, 7, 9}
    assert p.blocked_after([4]) == {3, 5, 7, 9}
    assert p.blocked_after([1, 4, 2]) == {5, 7, 9}       # prefix must be contiguous


def test_processor_on_tensors():
    torch = pytest.importorskip("torch")
    p = BanLogitsProcessor([5], [(1, 2, 3)])
    ids = torch.tensor([[0, 1, 2], [0, 2, 1]])
    scores = torch.zeros(2, 10)
    out = p(ids, scores)
    assert torch.isinf(out[0, 3]) and not torch.isinf(out[1, 3])
    assert torch.isinf(out[:, 5]).all()
    assert torch.isfinite(out[:, [0, 1, 2, 4, 6, 7, 8, 9]]).all()


def _contains(seq, sub):
    return any(tuple(seq[i:i + len(sub)]) == tuple(sub) for i in range(len(seq) - len(sub) + 1))


@pytest.fixture(scope="module")
def smol_model(smollm_hf):
    from reasonlens.ablate.hf_backend import load_model, set_threads

    set_threads(1)
    return load_model(smollm_hf)


def test_banned_tokens_never_emitted(smollm_hf, smol_model):
    from reasonlens.ablate.audit import leakage
    from reasonlens.ablate.bans import build_banset
    from reasonlens.ablate.hf_backend import _prompt_ids, generate_ids
    from reasonlens.ablate.tokenizers import HFTokenizer
    import polars as pl

    model, tok = smol_model
    bs = build_banset({"x": ["wait", "hmm", "maybe", "but"]}, HFTokenizer(smollm_hf))
    prompt = _prompt_ids(tok, [{"role": "user", "content": ELICIT}])
    free = generate_ids(model, tok, prompt, max_new_tokens=24)[0]
    # the prompt does elicit banned tokens without the ban (so the check below can fail)
    assert set(free) & set(bs.single_ids) or any(_contains(free, s) for s in bs.sequences)
    proc = BanLogitsProcessor(bs.single_ids, bs.sequences)
    banned = generate_ids(model, tok, prompt, max_new_tokens=24, processor=proc)[0]
    assert len(banned) > 0
    assert not set(banned) & set(bs.single_ids)
    for s in bs.sequences:
        assert not _contains(banned, s), s
    text = tok.decode(banned, skip_special_tokens=True)
    per, _ = leakage(pl.DataFrame({"response": [text]}), bs.lexemes,
                     single_token_lexemes=bs.single_token_lexemes())
    assert per["leak_single"][0] == 0, text


def test_sampling_with_ban_is_reproducible(smollm_hf, smol_model):
    from reasonlens.ablate.hf_backend import _prompt_ids, generate_ids

    model, tok = smol_model
    prompt = _prompt_ids(tok, [{"role": "user", "content": "Say something."}])
    proc = BanLogitsProcessor([tok.convert_tokens_to_ids("ĠWait")], [])
    a = generate_ids(model, tok, prompt, max_new_tokens=8, temperature=0.9, seed=3,
                     processor=proc)
    b = generate_ids(model, tok, prompt, max_new_tokens=8, temperature=0.9, seed=3,
                     processor=proc)
    assert a == b


@pytest.fixture(scope="module")
def tiny_qwen2(tmp_path_factory):
    pytest.importorskip("transformers")
    from training.tiny import build_tiny_qwen2

    return build_tiny_qwen2(tmp_path_factory.mktemp("tiny") / "tiny-qwen2")


def test_hf_backend_keeps_the_templates_think_prefix(tiny_qwen2, tmp_path):
    """Issue 13 finding 4: like the HTTP and vLLM backends, the transformers backend records the
    response with the template's forced ``<think>\\n`` prefix, so traces split alike."""
    import orjson

    from reasonlens.ablate.hf_backend import generate_traces
    from reasonlens.generate import SamplingConfig
    from reasonlens.traces import load_traces
    import polars as pl

    probs = pl.DataFrame({"benchmark": ["toy"], "problem_id": ["p1"], "problem": ["1+1?"],
                          "gold": ["2"], "answer_type": ["integer"]})
    out = tmp_path / "t.jsonl"
    s = SamplingConfig(temperature=0.0, max_tokens=6, template="r1_think")
    generate_traces(probs, model_path=tiny_qwen2, sampling=s, out_path=out, model_name="tiny",
                    progress=False, threads=1)
    rec = orjson.loads(out.read_bytes().splitlines()[0])
    assert rec["response"].startswith("<think>\n")
    t = load_traces([str(out)])
    assert t["think_closed"][0] is False   # the open think block is seen as reasoning
