"""Ban-set builder: tokenizer facts measured on SmolLM2, variants, vocabulary scan, pieces,
collateral, hash; plus presets and the random control. Pure (no generation)."""

from __future__ import annotations

from collections import Counter

import pytest

from reasonlens.ablate.bans import (BanConfig, build_banset, collateral_report, surface_core)
from reasonlens.ablate.control import random_control_ids
from reasonlens.ablate.presets import load_banlist, resolve_categories
from reasonlens.errors import ConfigError


class ToyTokenizer:
    """Greedy longest-match tokenizer over an explicit vocabulary (a real BanTokenizer)."""

    name = "toy"

    def __init__(self, vocab: list[str]):
        letters = "abcdefghijklmnopqrstuvwxyz"
        chars = sorted({c for v in vocab for c in v} | set(" \n.,(\"'*-:[`" + letters
                                                           + letters.upper()))
        self.vocab = list(dict.fromkeys(["<s>"] + chars + vocab))
        self.index = {v: i for i, v in enumerate(self.vocab)}
        self.vocab_size = len(self.vocab)
        self.maxlen = max(map(len, self.vocab))

    def encode(self, text):
        return self.encode_batch([text])[0]

    def encode_batch(self, texts):
        out = []
        for t in texts:
            ids, i = [], 0
            while i < len(t):
                for n in range(min(self.maxlen, len(t) - i), 0, -1):
                    if t[i:i + n] in self.index and t[i:i + n] != "<s>":
                        ids.append(self.index[t[i:i + n]])
                        i += n
                        break
            out.append(ids)
        return out

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids)

    def surfaces(self):
        return list(self.vocab)

    def special_ids(self):
        return frozenset({0})

    def fingerprint(self):
        from reasonlens.ablate.tokenizers import surfaces_fingerprint

        return surfaces_fingerprint(self.vocab)

    def describe(self):
        return {"kind": "toy", "name": "toy", "vocab_size": self.vocab_size,
                "fingerprint": self.fingerprint()}


@pytest.fixture(scope="module")
def smol(smollm_hf):
    from reasonlens.ablate.tokenizers import HFTokenizer

    return HFTokenizer(smollm_hf)


def test_smollm2_tokenizer_facts(smol):
    """Measured facts the builder must handle (issue #5)."""
    enc = {s: smol.encode(s) for s in (" Wait", "Wait", "Alternatively", " alternatively",
                                        "wait,", "wait", ",", "Hmm", " hmm", "mm")}
    for s in (" Wait", "Wait", "Alternatively", " alternatively"):
        assert len(enc[s]) == 1, (s, enc[s])
    assert enc["wait,"] == enc["wait"] + enc[","]
    surf = smol.surfaces()
    assert [surf[i] for i in enc["Hmm"]] == ["H", "mm"]
    assert [surf[i] for i in enc[" hmm"]] == [" h", "mm"]
    assert smol.vocab_size == 49152 and len(surf) == 49152


def test_wait_variants_all_banned_and_waiting_not(smol):
    bs = build_banset({"a": ["wait"]}, smol)
    ids = set(bs.bias_ids(sequences_supported=False))
    for form in (" Wait", "Wait", " wait", "wait"):
        assert smol.encode(form)[0] in ids, form
    # "wait," is wait + ",": the word id is banned, the comma is not
    assert smol.encode("wait,")[0] in ids and smol.encode(",")[0] not in ids
    # " waiting" is its own token: banning wait must not touch it
    waiting = smol.encode(" waiting")
    assert len(waiting) == 1 and not set(waiting) & ids
    assert bs.coverage == (("wait", "single"),)
    # every single id really is a whole "wait" after stripping markers/punctuation
    assert all(surface_core(smol.surfaces()[i]) == "wait" for i in bs.single_ids)


def test_banning_but_lets_waiting_through(smol):
    bs = build_banset({"c": ["but"]}, smol)
    ids = set(bs.bias_ids(sequences_supported=False))
    assert smol.encode(" but")[0] in ids and smol.encode("But")[0] in ids
    for word in (" waiting", " wait", "Wait", " Waiting"):
        assert not set(smol.encode(word)) & ids, word
    coll = collateral_report(bs, smol, sequences_supported=False)
    blocked = {w for u in coll["units"] for w in u["words"]}
    assert " waiting" not in blocked and "waiting" not in blocked
    # the collateral is real: "butter" is but + ter in this vocabulary
    assert "butter" in blocked
    assert [smol.surfaces()[i] for i in smol.encode("butter")][0] == "but"


def test_hmm_sequences_and_pieces(smol):
    surf = smol.surfaces()
    bs = build_banset({"a": ["hmm"]}, smol)
    seqs = {tuple(surf[i] for i in s) for s in bs.sequences}
    assert ("H", "mm") in seqs and (" h", "mm") in seqs
    assert " Hmm" in {surf[i] for i in bs.single_ids}     # " Hmm" is one token here
    assert bs.coverage == (("hmm", "mixed"),)
    assert "mm" in {surf[i] for i in bs.piece_ids}
    # the transformers backend blocks sequences exactly, so pieces are not used there
    assert set(bs.piece_ids) <= set(bs.bias_ids(sequences_supported=False))
    assert not set(bs.piece_ids) & set(bs.bias_ids(sequences_supported=True))
    # opt-out: never an id that is not a whole banned word
    strict = build_banset({"a": ["hmm"]}, smol, BanConfig(pieces="none"))
    assert strict.piece_ids == ()
    assert all(surface_core(surf[i]) == "hmm" for i in strict.bias_ids(sequences_supported=False))
    assert strict.hash != bs.hash


def test_collateral_reports_piece_words(smol):
    bs = build_banset({"a": ["hmm"]}, smol)
    coll = collateral_report(bs, smol, sequences_supported=False)
    mm = next(u for u in coll["units"] if u["kind"] == "piece" and u["surface"] == "mm")
    assert mm["n_words"] > 0 and mm["lexemes"] == ["hmm"]
    for w in mm["words"]:
        assert smol.encode(w).count(smol.encode("mm")[0]) >= 1, w
    hf = collateral_report(bs, smol, sequences_supported=True)
    assert all(u["kind"] != "piece" for u in hf["units"])


def test_hash_is_stable_and_sensitive(smol):
    a = build_banset({"x": ["wait", "maybe"]}, smol)
    b = build_banset({"y": ["maybe", "Wait"]}, smol)
    assert a.hash == b.hash                       # same ids, same tokenizer
    c = build_banset({"x": ["wait"]}, smol)
    assert c.hash != a.hash
    rec = a.record(surfaces=smol.surfaces())
    assert rec["hash"] == a.hash and rec["tokenizer"]["fingerprint"].startswith("vocab:")
    assert {d["surface"] for d in rec["single_ids"]} >= {" Wait", "Wait", " maybe"}


def test_vocab_scan_catches_merged_glue_tokens():
    tok = ToyTokenizer([" wait", "wait", "Wait", " Wait", ".Wait", "\n\nWait", "(wait", "awa",
                        "it", "waiting", " await"])
    bs = build_banset({"a": ["wait"]}, tok)
    surf = tok.surfaces()
    got = {surf[i] for i in bs.single_ids}
    assert {".Wait", "\n\nWait", "(wait", " wait", "Wait"} <= got
    assert "waiting" not in got and " await" not in got
    no_scan = build_banset({"a": ["wait"]}, tok, BanConfig(scan_vocab=False, glue=()))
    assert ".Wait" not in {surf[i] for i in no_scan.single_ids}


def test_phrases_are_sequences_without_pieces():
    tok = ToyTokenizer([" let", "let", "Let", " Let", " me", "me", " think", " I"])
    bs = build_banset({"a": ["let me"]}, tok)
    surf = tok.surfaces()
    seqs = {tuple(surf[i] for i in s) for s in bs.sequences}
    assert (" let", " me") in seqs and ("Let", " me") in seqs
    assert bs.piece_ids == ()            # never ban " me" everywhere for a phrase
    assert bs.coverage == (("let me", "sequence"),)


def test_config_validation():
    with pytest.raises(ConfigError):
        BanConfig(pieces="first")
    with pytest.raises(ConfigError):
        BanConfig(bias=-200)
    with pytest.raises(ConfigError, match="nothing to ban"):
        build_banset({}, ToyTokenizer(["a"]))


def test_presets_and_categories():
    cats, recs = load_banlist("paper_core")
    assert cats == {"anthropomorphic": ["wait", "maybe"], "connectors": ["alternatively", "but"]}
    assert {r["name"] for r in recs} >= {"paper_core", "anthropomorphic", "connectors"}
    cats, _ = resolve_categories(["connectors"], ["hmm, oops", "uh"])
    assert cats["words"] == ["hmm", "oops", "uh"] and "but" in cats["connectors"]
    with pytest.raises(ConfigError, match="nothing to ban"):
        resolve_categories()


def test_banlist_terms_must_be_in_lexicon(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "bad"\nversion = "1"\n[categories.c]\nlexicon = "connectors"\n'
                 'terms = ["but", "notaconnector"]\n')
    with pytest.raises(ConfigError, match="notaconnector"):
        load_banlist(str(p))


def test_random_control_matches_count_and_frequency():
    surfaces = ["<s>"] + [f" w{i}" for i in range(1, 640)]
    targets = [5, 6, 300, 301]
    freq = Counter({5: 40, 6: 3, 10: 33, 11: 50, 12: 2, 400: 7})
    ids, info = random_control_ids(targets, surfaces, exclude=[7], special=[0],
                                   freq=freq, seed=1)
    assert len(ids) == len(targets) == info["n_ids"]
    assert not set(ids) & (set(targets) | {0, 7})
    assert info["methods"] == {"output-frequency": 2, "merge-rank": 2}
    # 40 -> log2 bin 5 holds 33 and 50: one of them; 3 -> bin 1 holds 2
    assert set(ids) & {10, 11} and 12 in ids
    again, _ = random_control_ids(targets, surfaces, exclude=[7], special=[0], freq=freq, seed=1)
    assert again == ids


def test_endpoint_tokenizer_vllm_protocol(smol, tmp_path, monkeypatch):
    """The vLLM flavour against a stand-in speaking vLLM's documented tokenizer API
    (POST /tokenize {model, prompt, add_special_tokens} -> {tokens, count, max_model_len};
    POST /detokenize {model, tokens} -> {prompt}) backed by the real SmolLM2 tokenizer. No vLLM
    here (it needs a GPU): this checks our requests, the batched sentinel scan and the cache."""
    import http.server
    import json as _json
    import threading

    from reasonlens.ablate.tokenizers import EndpointTokenizer

    monkeypatch.setenv("REASONLENS_HOME", str(tmp_path / "home"))
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = _json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append((self.path, body))
            if self.path == "/tokenize":
                assert body["add_special_tokens"] is False and body["model"] == "m"
                ids = smol.encode(body["prompt"])
                out = {"tokens": ids, "count": len(ids), "max_model_len": 8192}
            elif self.path == "/detokenize":
                out = {"prompt": smol.decode(body["tokens"])}
            else:
                self.send_response(404)
                self.end_headers()
                return
            data = _json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/v1"
        et = EndpointTokenizer(url, "m", vocab_size=smol.vocab_size, batch=512)
        assert et.flavour == "vllm"
        assert et.encode_batch([" Wait", " hmm"]) == [smol.encode(" Wait"), smol.encode(" hmm")]
        surf = et.surfaces()
        assert surf == smol.surfaces()
        assert et.fingerprint() == smol.fingerprint()
        n_req = len(seen)
        assert n_req < 200              # 49152 ids in ~97 batched requests, not one per id
        again = EndpointTokenizer(url, "m", vocab_size=smol.vocab_size)
        assert again.surfaces() == surf and len(seen) - n_req < 20   # cached on disk
        bs_local = build_banset({"a": ["wait", "hmm"]}, smol)
        bs_remote = build_banset({"a": ["wait", "hmm"]}, again)
        assert bs_local.hash == bs_remote.hash
    finally:
        srv.shutdown()
        srv.server_close()
