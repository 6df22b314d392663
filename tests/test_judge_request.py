"""Pure request builder and tolerant parser of the LLM judge (exact-dict asserts)."""

from __future__ import annotations

import pytest

from reasonlens.errors import ConfigError
from reasonlens.judge.chunking import chunk_text, split_sentences
from reasonlens.judge.request import (REPLY_SCHEMA, ParseConfig, RequestParams,
                                      build_judge_request, build_messages, cache_key_material,
                                      delimiter_tag, extract_json, locate_quote, parse_judgment,
                                      response_format)
from reasonlens.judge.rubrics import load_rubric, load_template, render, resolve_rubrics

RUBRIC = '''name = "toy"
version = "0.1"
behaviour = "toy"
title = "Toy Behaviour"
definition = "Says wait."
count_rule = "Each wait once."
positive_examples = ["Wait, no.", {quote = "Hmm, wait.", why = "doubt"}]
negative_examples = []
'''

TEMPLATE = '''name = "toy_template"
version = "0.2"
system = "Judge. Data in <{{tag}}>."
user = "{{title}}: {{definition}} / {{count_rule}} / {{notes}}\\n+ {{positive_examples}}\\n- {{negative_examples}}{{problem_block}}\\n<{{tag}}>\\n{{trace}}\\n</{{tag}}>{{chunk_note}} [S{{first_sentence}}-S{{last_sentence}}]"
problem_block = "\\nP<{{tag}}_p>{{problem}}</{{tag}}_p>"
chunk_note = " part {{chunk_number}}/{{n_chunks}}"
'''

TRACE = "I think x = 2. Wait, that is wrong.\n\nSo x = 3."


@pytest.fixture
def toy(tmp_path):
    r = tmp_path / "toy.toml"
    r.write_text(RUBRIC)
    t = tmp_path / "toy_template.toml"
    t.write_text(TEMPLATE)
    return load_rubric(str(r)), load_template(str(t))


def test_build_request_exact(toy):
    rubric, template = toy
    chunk = chunk_text(TRACE)[0]
    sents = split_sentences(TRACE)
    tag = delimiter_tag(chunk.text, "Find x.")
    assert tag.startswith("trace_") and len(tag) == 14
    msgs = build_messages(rubric, template, chunk, sents, problem="Find x.")
    body = build_judge_request("judge-m", msgs, RequestParams(max_tokens=50), "json_object")
    assert body == {
        "model": "judge-m", "temperature": 0.0, "max_tokens": 50,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": f"Judge. Data in <{tag}>."},
            {"role": "user", "content":
                "Toy Behaviour: Says wait. / Each wait once. / (none)\n"
                "+ - \"Wait, no.\"\n- \"Hmm, wait.\" (doubt)\n- (none)\n"
                f"P<{tag}_p>Find x.</{tag}_p>\n<{tag}>\n"
                "[S1] I think x = 2. [S2] Wait, that is wrong.\n\n[S3] So x = 3.\n"
                f"</{tag}> [S1-S3]"}]}


def test_build_request_chunk_note_schema_and_seed(toy):
    rubric, template = toy
    text = "\n\n".join(f"Sentence number {i} is here." for i in range(40))
    from reasonlens.judge.chunking import ChunkConfig
    chunks = chunk_text(text, ChunkConfig(max_chunk_tokens=40, overlap_tokens=8))
    assert len(chunks) > 2
    sents = split_sentences(text)
    msgs = build_messages(rubric, template, chunks[1], sents, n_chunks=len(chunks))
    user = msgs[1]["content"]
    assert f" part 2/{len(chunks)} [S{chunks[1].first_sentence}-S{chunks[1].last_sentence}]" \
        in user
    assert "P<" not in user  # no problem given
    body = build_judge_request("m", msgs, RequestParams(temperature=0.7, seed=3, top_p=0.9,
                                                        max_tokens=9), "json_schema")
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "behaviour_judgment", "strict": True, "schema": REPLY_SCHEMA}}
    assert (body["temperature"], body["seed"], body["top_p"]) == (0.7, 3, 0.9)
    assert "response_format" not in build_judge_request("m", msgs, RequestParams(), "none")
    assert response_format("auto") == response_format("json_schema")
    with pytest.raises(ConfigError, match="--structured"):
        response_format("xml")


def test_sampled_flag():
    assert not RequestParams().sampled
    assert RequestParams(temperature=0.5).sampled
    assert not RequestParams(temperature=0.5, seed=1).sampled


def test_cache_key_material_has_no_endpoint_and_tracks_versions(toy):
    rubric, template = toy
    chunk = chunk_text(TRACE)[0]
    msgs = build_messages(rubric, template, chunk, split_sentences(TRACE))
    m = cache_key_material(model="m", messages=msgs, rubric=rubric, template=template,
                           params=RequestParams(), structured="auto")
    assert set(m) == {"model", "messages", "rubric", "template", "params", "structured",
                      "reply_schema"}
    assert m["rubric"] == {"name": "toy", "version": "0.1", "sha256": rubric.sha256}
    assert m["template"] == {"name": "toy_template", "version": "0.2",
                             "sha256": template.sha256}
    assert m["params"] == {"temperature": 0.0, "top_p": None, "seed": None, "max_tokens": 1024}


def test_delimiter_never_in_text():
    first = delimiter_tag("abc")
    assert delimiter_tag(f"abc {first}") != first
    tricky = f"text </{first}> more"
    assert delimiter_tag(tricky) not in tricky


def test_render_is_single_pass_and_strict():
    assert render("{{a}}-{{b}}", {"a": "{{b}}", "b": "x"}) == "{{b}}-x"
    with pytest.raises(ConfigError, match="no value"):
        render("{{zzz}}", {})


def test_template_with_unknown_placeholder_is_rejected(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name="bad"\nversion="1"\nsystem="s {{oops}}"\nuser="<{{tag}}>{{trace}}"\n')
    with pytest.raises(ConfigError, match="oops"):
        load_template(str(p))


def test_shipped_rubrics_and_template_load():
    rubrics = resolve_rubrics(("multi_perspective", "metacognitive"))
    assert [r.behaviour for r in rubrics] == ["multi_perspective", "metacognitive"]
    assert all(r.positive_examples and r.negative_examples for r in rubrics)
    t = load_template()
    assert t.name == "judge_behaviour" and t.version
    with pytest.raises(ConfigError, match="no behaviour"):
        resolve_rubrics((), ())


# --- parser ------------------------------------------------------------------------------------

def _parse(reply, **kw):
    chunk = chunk_text(TRACE)[0]
    return parse_judgment(reply, chunk, split_sentences(TRACE), **kw).as_dict()


def test_parse_valid_json_exact():
    reply = ('{"rationale": "one doubt", "instances": [{"quote": "wait,  THAT is wrong", '
             '"sentence": 2, "explanation": "doubts x"}], "count": 1}')
    assert _parse(reply) == {
        "status": "ok", "count": 1,
        "instances": [{"quote": "Wait, that is wrong", "sentence": 2, "explanation": "doubts x",
                       "start": 15, "end": 34, "claimed_sentence": 2}],
        "reported_count": 1, "rejected": [], "rationale": "one doubt", "reason": None,
        "raw": reply, "extra": {"format": "json"}}


def test_parse_fenced_trailing_text_markers_and_ellipsis():
    reply = ('Here you go:\n```json\n{"instances": [{"quote": "[S2] Wait, that ... wrong.", '
             '"sentence": 2, "explanation": ""}], "count": "1"}\n```\nHope this helps {x}')
    d = _parse(reply)
    assert (d["status"], d["count"], d["instances"][0]["quote"]) == ("ok", 1,
                                                                      "Wait, that is wrong")
    reply2 = 'Sure. {"instances": [], "count": 0} and then some prose {"not": "this"}'
    assert (_parse(reply2)["status"], _parse(reply2)["count"]) == ("ok", 0)


def test_parse_count_tag_fallback():
    assert _parse("Reasoning... <count>0</count>")["count"] == 0
    d = _parse("Found one. <quote>Wait, that is wrong</quote> <count>1</count>")
    assert (d["status"], d["count"], d["extra"]) == ("ok", 1, {"format": "count_tag"})
    d = _parse("<count>2</count>")
    assert (d["status"], d["count"], d["reason"]) == (
        "parse_error", None, "count 2 given without evidence (no instances)")
    d = _parse("<count>2</count>", config=ParseConfig(require_evidence=False))
    assert (d["status"], d["count"], d["extra"]) == ("ok", 2, {"format": "count_tag",
                                                               "evidence": False})


def test_parse_failures_are_never_zero():
    cases = {
        "not json at all": "no JSON object with 'count'/'instances' and no <count> tag",
        "": "empty reply",
        '{"count": -1, "instances": []}': "count is not a non-negative integer: -1",
        '{"count": 2, "instances": [{"quote": "Wait"}]}':
            "count 2 inconsistent with the 1 instances listed",
        '{"count": 1, "instances": [{"quote": "a sentence that is not there"}]}':
            "1 of 1 quoted instances are not in the trace",
        '{"instances": "Wait"}': "'instances' is not a list",
        '{"count": 1, "instances": [{"sentence": 2}]}':
            "instance without a quote: {'sentence': 2}",
    }
    for reply, reason in cases.items():
        d = _parse(reply)
        assert (d["status"], d["count"], d["reason"], d["raw"]) == ("parse_error", None, reason,
                                                                    reply), reply
    d = _parse('{"count": 1, "instances": [{"quote": "Wait, that is', finish_reason="length")
    assert (d["status"], d["count"]) == ("parse_error", None)
    assert d["reason"] == "reply truncated at max_tokens (finish_reason=length)"


def test_parse_partial_evidence_drops_hallucinated_quote():
    reply = ('{"count": 3, "instances": [{"quote": "Wait, that is wrong"}, {"quote": "So x = 3"},'
             ' {"quote": "I never wrote this"}]}')
    d = _parse(reply)
    assert (d["status"], d["count"], d["reported_count"]) == ("ok", 2, 3)
    assert d["rejected"] == [{"quote": "I never wrote this", "sentence": None,
                              "reason": "quote not found in the trace"}]
    dup = '{"count": 2, "instances": [{"quote": "So x = 3"}, {"quote": "so x = 3."}]}'
    d = _parse(dup)
    assert (d["status"], d["count"], [r["reason"] for r in d["rejected"]]) == ("ok", 1,
                                                                             ["duplicate"])


def test_parse_refusals():
    d = _parse("I'm sorry, but I can't help with that request.")
    assert (d["status"], d["count"], d["reason"]) == ("refusal", None, "the judge declined")
    d = _parse(None, refusal="policy")
    assert (d["status"], d["count"], d["raw"]) == ("refusal", None, "policy")
    assert _parse("x", finish_reason="content_filter")["status"] == "refusal"


def test_locate_quote_and_extract_json():
    assert locate_quote("THAT is   wrong", TRACE) == (21, 34)
    assert locate_quote("x = 2 ... So x", TRACE) == (8, 41)
    assert TRACE[8:41].startswith("x = 2") and TRACE[8:41].endswith("So x")
    assert locate_quote("nothing", TRACE) is None
    assert locate_quote("   ", TRACE) is None
    assert extract_json('{"a": 1}') is None
    assert extract_json('x {"count": 1} y') == {"count": 1}
