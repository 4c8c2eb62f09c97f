"""Batched generation equals one-at-a-time generation; both extraction rules; scoring."""

import math

import pytest
import torch

from hhalign.batching import token_batches
from hhalign.generation import Generated, extract_corrected, extract_paper, generate
from hhalign.scoring import score_pairs


@pytest.fixture(scope="module")
def world(tiny_world):
    """(role -> (model, tokenizer), the corpus rows) of the session's tiny world."""
    return tiny_world["models"], tiny_world["rows"]


def test_batched_equals_one_at_a_time(world):
    (w, rows) = world
    model, tok = w["policy"]
    prompts = [r["chosen"][: r["chosen"].rfind("Assistant:") + 10] for r in rows[:12]]
    assert len({len(tok(p)["input_ids"]) for p in prompts}) > 3  # lengths differ: padding matters
    batched = generate(model, tok, prompts, 20, batch_size=5)
    single = [generate(model, tok, [p], 20, batch_size=1)[0] for p in prompts]
    assert [g.new_ids for g in batched] == [g.new_ids for g in single]
    assert all(g.prompt_ids == tok(p)["input_ids"] for g, p in zip(batched, prompts, strict=True))


def test_a_batched_sample_equals_the_same_sample_generated_alone(world):
    """Sampled decoding (generation.samples): each response's random stream is its own, so
    batching, batch size and order change nothing; samples of a prompt differ; the
    distribution follows the temperature (near-greedy at a tiny temperature)."""
    from hhalign.generation import respond

    (w, rows) = world
    model, tok = w["policy"]
    prompts = [
        {"id": f"h{i}", "prompt": r["chosen"][: r["chosen"].rfind("Assistant:") + 10]}
        for i, r in enumerate(rows[:6])
    ]
    cfg = {
        "max_new_tokens": 12,
        "batch_size": 7,
        "extraction": "corrected",
        "prompt_rendering": "raw",
        "samples": 3,
        "temperature": 1.0,
        "top_p": 0.9,
        "sample_seed": 5,
    }
    batched = respond(model, tok, prompts, cfg)
    alone = [r for p in prompts for r in respond(model, tok, [p], {**cfg, "batch_size": 1})]
    assert [(r["id"], r["sample"]) for r in batched][:4] == [
        ("h0", 0),
        ("h0", 1),
        ("h0", 2),
        ("h1", 0),
    ]
    assert [r["response"] for r in batched] == [r["response"] for r in alone]
    by_key = {(r["id"], r["sample"]): r["response"] for r in batched}
    reordered = respond(model, tok, prompts[::-1], {**cfg, "batch_size": 4})
    assert {(r["id"], r["sample"]): r["response"] for r in reordered} == by_key
    assert len({r["response"] for r in batched if r["id"] == "h0"}) > 1  # samples differ
    other_seed = respond(model, tok, prompts, {**cfg, "sample_seed": 6})
    assert [r["response"] for r in other_seed] != [r["response"] for r in batched]
    cold = respond(model, tok, prompts, {**cfg, "temperature": 1e-4, "top_p": 1.0})
    greedy = respond(model, tok, prompts, {**cfg, "samples": 1})
    assert [r["response"] for r in cold][::3] == [r["response"] for r in greedy]
    assert "sample" not in greedy[0]  # greedy rows are as before


def test_extraction_rules(world):
    (w, _) = world
    tok = w["policy"][1]
    prompt = "Human: hi there"
    new = tok(" Hello!\n\nHuman: and you?", add_special_tokens=False)["input_ids"]
    g = Generated(tok(prompt)["input_ids"], new, False, True)
    assert extract_paper(tok, g, prompt) == ("Hello!\n\nHuman: and you?", False)
    assert extract_corrected(tok, g) == ("Hello!", True)
    empty = Generated(tok(prompt)["input_ids"], [tok.eos_token_id], True, False)
    assert extract_corrected(tok, empty) == ("", False)
    assert extract_paper(tok, empty, prompt) == ("", False)


def test_scoring_is_order_independent_and_rejects_nan(world):
    (w, _) = world
    judge, tok = w["judge"]
    prompts = [
        "\n\nHuman: a?\n\nAssistant:",
        "\n\nHuman: a much longer question here?\n\nAssistant:",
    ]
    responses = [" yes", " no, not at all"]
    batched, truncated = score_pairs(judge, tok, prompts, responses, batch_size=2)
    single = [
        score_pairs(judge, tok, [p], [r], batch_size=1)[0][0]
        for p, r in zip(prompts, responses, strict=True)
    ]
    assert batched == pytest.approx(single, abs=1e-5) and truncated == [False, False]
    assert score_pairs(judge, tok, prompts, responses, max_length=8)[1] == [True, True]


def test_scoring_truncates_like_the_tokenizer(world):
    """A pair over max_length is scored as tokenizer(p, r, truncation=True) would feed it."""
    (w, _) = world
    judge, tok = w["judge"]
    prompts = ["\n\nHuman: a much longer question here?\n\nAssistant:", "\n\nHuman: a?"]
    responses = [" no, not at all", " yes"]
    scores, truncated = score_pairs(judge, tok, prompts, responses, batch_size=2, max_length=12)
    assert truncated == [True, False]
    with torch.inference_mode():
        direct = [
            judge(**tok(p, r, truncation=True, max_length=12, return_tensors="pt")).logits[0, 0]
            for p, r in zip(prompts, responses, strict=True)
        ]
    assert scores == pytest.approx([float(d) for d in direct], abs=1e-5)

    class NaNJudge(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, input_ids, **_):
            return type("Out", (), {"logits": torch.full((len(input_ids), 1), math.nan)})

    with pytest.raises(FloatingPointError, match="row"):
        score_pairs(NaNJudge(), tok, prompts, responses)


def test_token_batches_cap_items_and_padded_tokens():
    lengths = [300, 250, 120, 100, 90, 40, 30, 20, 10]  # longest first, as score_pairs sorts
    assert token_batches(lengths, 4) == [(0, 4), (4, 8), (8, 9)]
    spans = token_batches(lengths, 4, max_tokens=260)
    assert spans == [(0, 1), (1, 2), (2, 4), (4, 6), (6, 9)]  # 300 > 260 still goes, alone
    for start, end in spans[1:]:
        assert (end - start) * lengths[start] <= 260 and end - start <= 4
    assert sum(end - start for start, end in spans) == len(lengths) and token_batches([], 4) == []


def test_scores_do_not_depend_on_the_token_budget(world):
    (w, rows) = world
    judge, tok = w["judge"]
    prompts = [r["chosen"][: r["chosen"].rfind("Assistant:") + 10] for r in rows[:10]]
    responses = [" yes", " no", " maybe so", " I can help with that", " sure"] * 2
    plain, _ = score_pairs(judge, tok, prompts, responses, batch_size=10)
    capped, _ = score_pairs(judge, tok, prompts, responses, batch_size=10, max_batch_tokens=64)
    assert capped == pytest.approx(plain, abs=1e-5)


def test_generation_stops_at_any_of_the_models_stop_tokens(world):
    """An instruct model lists several stop ids (end of turn, EOS) in its generation config:
    generation ends at the first of them, not only at the tokenizer's single EOS."""
    import copy

    from hhalign.generation import stop_ids

    (w, rows) = world
    model, tok = w["policy"]
    prompt = rows[0]["chosen"][: rows[0]["chosen"].rfind("Assistant:") + 10]
    free = generate(model, tok, [prompt], 12, batch_size=1)[0]
    first = free.new_ids[0]
    assert first != tok.eos_token_id and len(free.new_ids) > 1  # it would run on
    turn = copy.deepcopy(model)
    turn.generation_config.eos_token_id = [first, tok.eos_token_id]  # "end of turn" first
    assert stop_ids(turn, tok) == [first, tok.eos_token_id]
    stopped = generate(turn, tok, [prompt], 12, batch_size=1)[0]
    assert stopped.new_ids == [first] and stopped.stopped_at_eos
    assert stop_ids(model, tok) == [tok.eos_token_id]  # OPT: one stop id, as before


CHAT = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def test_chat_template_rendering_feeds_the_template_once_and_keeps_the_hh_prompt(world):
    """Instruct policies read the transcript as messages through their own template; the BOS
    the template writes is not doubled, and the judge still gets the HH prompt."""
    import copy

    from hhalign.generation import render_chat, respond

    (w, _rows) = world
    model, tok = w["policy"]
    tok = copy.deepcopy(tok)
    tok.chat_template = CHAT
    prompt = "\n\nHuman: hi there\n\nAssistant: hello\n\nHuman: how are you?\n\nAssistant:"
    text = render_chat(tok, prompt)
    assert text == (
        f"{tok.bos_token}<|user|>hi there\n<|assistant|>hello\n<|user|>how are you?\n<|assistant|>"
    )
    cfg = {
        "max_new_tokens": 5,
        "batch_size": 2,
        "extraction": "corrected",
        "prompt_rendering": "chat_template",
    }
    out = respond(model, tok, [{"id": "a", "prompt": prompt}], cfg)
    assert out[0]["prompt"] == prompt
    ids = generate(model, tok, [text], 5, 1, add_special_tokens=False)[0].prompt_ids
    assert ids == tok(text, add_special_tokens=False)["input_ids"]
    assert ids.count(tok.bos_token_id) == 1
    tok.chat_template = None
    with pytest.raises(ValueError, match=r"has no chat template\. Fix: prompt_rendering: raw"):
        render_chat(tok, prompt)
