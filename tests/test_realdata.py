"""The data and prompt code on the real harmless-base test split (skipped when absent)."""

import itertools
import re

import pytest

from hhalign.dialogue import common_prefix_split
from hhalign.io import read_jsonl
from hhalign.prompts import PromptRules, keyword_hits, searched_text, select_prompts

PAPER = PromptRules(("kill", "murder", "rape"), "substring", True, "dialogue", "paper", 50, 50, 100)

pytestmark = pytest.mark.realdata


@pytest.fixture
def rows(real_harmless_test):
    return read_jsonl(real_harmless_test)


def test_paper_protocol_keeps_192_candidates_and_returns_50(rows, synthetic_helpful):
    harmful, helpful, rejects, n = select_prompts(rows, synthetic_helpful, PAPER, {}, {})
    assert (n, len(harmful), len(helpful), rejects) == (192, 50, 50, [])
    # None of the paper's prompts ends with the cue; 3 end inside a multi-paragraph reply.
    assert not any(p["prompt"].endswith("Assistant:") for p in harmful)
    inside_reply = [p for p in harmful if not p["prompt"].split("\n\n")[-1].startswith("Human:")]
    assert len(inside_reply) == 3
    assert len({p["row"] for p in harmful}) == 50


def test_the_paper_filter_flaws_measured(rows):
    candidates = [r["chosen"] for r in rows if keyword_hits(r["chosen"], PAPER)]
    inside_words = [c for c in candidates if not re.search(r"\b(kill|murder|rape)", c)]
    assert len(inside_words) == 23  # skill(s), skilled, grape, overkill
    human_only = [c for c in candidates if keyword_hits(searched_text(c, "human"), PAPER)]
    assert len(candidates) - len(human_only) == 59


def test_corrected_rules_drop_skill_and_grape(rows, synthetic_helpful):
    words = ("kill", "killed", "killing", "murder", "murdered", "rape", "raped")
    rules = PromptRules(words, "word", False, "human", "assistant_cue", 50, 50, 100)
    harmful, _, _, n = select_prompts(rows, synthetic_helpful, rules, {}, {})
    assert 50 <= n < 192
    for p in harmful:
        assert not re.search(r"skill|grape", " ".join(p["keywords"]))
        assert p["prompt"].endswith("\n\nAssistant:")


def test_common_prefix_overshoots_the_prompt_in_a_fifth_of_rows(rows):
    ends = [common_prefix_split(r["chosen"], r["rejected"])[0].rstrip() for r in rows]
    assert sum(e.endswith("Assistant:") for e in ends) == 1867


def reference_extract_prompt(chosen: str, rejected: str) -> tuple[str, str, str]:
    """trl 0.16.1, trl/data_utils.py extract_prompt, transcribed line for line."""
    for idx in range(min(len(chosen), len(rejected))):
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":  # remove space before the prompt
                idx -= 1
            break
    return chosen[:idx], chosen[idx:], rejected[idx:]


def reference_tokenize_row(features, tokenizer, max_prompt_length, max_completion_length):
    """trl 0.16.1, DPOTrainer.tokenize_row (add_special_tokens=False: a decoder-only model)."""
    prompt_input_ids = tokenizer(features["prompt"], add_special_tokens=False)["input_ids"]
    chosen_input_ids = tokenizer(features["chosen"], add_special_tokens=False)["input_ids"]
    rejected_input_ids = tokenizer(features["rejected"], add_special_tokens=False)["input_ids"]
    chosen_input_ids = [*chosen_input_ids, tokenizer.eos_token_id]
    rejected_input_ids = [*rejected_input_ids, tokenizer.eos_token_id]
    if max_prompt_length is not None:
        prompt_input_ids = prompt_input_ids[-max_prompt_length:]
    if max_completion_length is not None:
        chosen_input_ids = chosen_input_ids[:max_completion_length]
        rejected_input_ids = rejected_input_ids[:max_completion_length]
    return prompt_input_ids, chosen_input_ids, rejected_input_ids


def reference_keep_end(prompt, completion, width, max_length):
    """trl 0.16.1 concatenated_forward: one row, flushed left, padded to the batch ``width``
    (the longest row), then ``input_ids[:, -max_length:]`` (keep_end)."""
    row = prompt + completion + [None] * (width - len(prompt) - len(completion))
    kept = row[-max_length:]
    return [t for t in kept if t is not None]


def test_paper_dpo_ids_equal_the_authors_trl_on_real_pairs(rows):
    """Every real pair: the ids the paper protocol trains on equal TRL 0.16.1's, with its
    defaults (max_prompt_length 512, max_length 1024, keep_end), one pair per batch; and
    TRL 1.16's joint tokenization would have taken other completions for most pairs."""
    from hhalign.bpe import train_bpe
    from hhalign.dpo import tokenize_like_trl016
    from hhalign.tiny import policy_tokenizer

    texts = [r[k] for r in rows for k in ("chosen", "rejected")]
    tok = policy_tokenizer(train_bpe(texts, 2000))
    differs_in_trl116 = cut = 0
    for r in rows:
        prompt, chosen, rejected = reference_extract_prompt(r["chosen"], r["rejected"])
        assert common_prefix_split(r["chosen"], r["rejected"]) == (prompt, chosen, rejected)
        feats = {"prompt": prompt, "chosen": chosen, "rejected": rejected}
        p, c, rj = reference_tokenize_row(feats, tok, 512, None)
        width = len(p) + max(len(c), len(rj))
        want = [reference_keep_end(p, x, width, 1024) for x in (c, rj)]
        ours = tokenize_like_trl016(prompt, chosen, rejected, tok, 512, 1024)
        got = [ours["prompt_ids"] + ours[k] for k in ("chosen_ids", "rejected_ids")]
        assert got == want, r["chosen"][:80]
        cut += width > 1024
        joint = tok(prompt + chosen, add_special_tokens=False)["input_ids"]
        p_alone = tok(prompt, add_special_tokens=False)["input_ids"]
        differs_in_trl116 += joint[: len(p_alone)] != p_alone
    assert differs_in_trl116 > 0  # TRL 1.16 would have moved these completions' first tokens
    print(f"{differs_in_trl116} of {len(rows)} pairs tokenize differently jointly; {cut} cut")


def test_transcripts_become_messages_without_losing_text(rows):
    """Every real dialogue (chosen and rejected): one message per turn, roles from the
    markers, every turn's text kept once, in order."""
    from hhalign.dialogue import parse_turns, to_messages

    alternating = 0
    for r in rows:
        for text in (r["chosen"], r["rejected"]):
            turns = parse_turns(text)
            messages = to_messages(text)
            assert len(messages) == len(turns) - (
                not turns[-1].text and turns[-1].role == "Assistant"
            )
            assert [m["content"] for m in messages] == [t.text for t in turns][: len(messages)]
            assert {m["role"] for m in messages} <= {"user", "assistant"}
            assert messages[0]["role"] == "user"
            roles = [m["role"] for m in messages]
            alternating += all(a != b for a, b in itertools.pairwise(roles))
    assert alternating >= 0.95 * 2 * len(rows)  # the data has a few repeated-role turns
    assert to_messages("\n\nHuman: hi\n\nAssistant:") == [{"role": "user", "content": "hi"}]


@pytest.mark.slow
def test_the_cleaner_pairs_rule_on_real_pairs(real_harmless_test, tmp_path):
    """Rule clean_pairs on the real harmless-base test split as a stand-in training set,
    judged by the tiny (untrained) judge: the data stage's pairs all accounted for, kept or
    dropped, the dropped ones readable with both scores, counts in the summary and log."""
    import json

    import pandas as pd
    import yaml
    from support import CORES, ROOT, snakemake

    results = tmp_path / "results"
    run = {
        "results_dir": str(results),
        "data": {
            "source": "local",
            "local_dir": str(real_harmless_test.parents[1]),
            "train_subsets": ["harmless-base"],
            "train_split": "test",
        },
        "models": {"judge": {"source": "tiny"}},
        "protocols": ["paper"],
        # The tiny judge reads 64 tokens of each pair (real dialogues run to 512): minutes
        # at full length on 2 cores, and the test is about the accounting, not the judge.
        "scoring": {"max_length": 64, "max_batch_tokens": 4096, "batch_size": 64},
    }
    (tmp_path / "real.yaml").write_text(yaml.safe_dump(run))
    out = snakemake(
        str(results / "data/clean_summary.json"),
        "--cores",
        CORES,
        "--configfile",
        str(ROOT / "presets" / "tiny.yaml"),
        str(tmp_path / "real.yaml"),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = json.loads((results / "data/clean_summary.json").read_text())
    built = json.loads((results / "data/summary.json").read_text())
    dropped = pd.read_csv(results / "data/dpo_dropped.csv")
    kept = pd.read_parquet(results / "data/dpo_clean.parquet")
    n_pairs = len(pd.read_parquet(results / "data/dpo.parquet"))
    assert n_pairs > 2000 and summary["pairs_in"] == n_pairs, built
    assert summary["kept"] == len(kept) and summary["dropped"] == len(dropped)
    assert len(kept) + len(dropped) == n_pairs and len(dropped) > 0
    assert (dropped["margin"] <= 0).all()
    gap = dropped["chosen_score"] - dropped["rejected_score"]
    assert (dropped["margin"] - gap).abs().max() < 1e-6
    assert f"'dropped': {len(dropped)}" in (results / "logs/clean_pairs.log").read_text()
    print(summary)


def test_a_chat_judge_reads_real_dialogues_whole(rows):
    """Real prompts (split at their last "Assistant:") and responses through a chat template:
    one message per turn, the response last, every turn's text in the rendered conversation
    once and in order, one BOS."""
    from hhalign.bpe import train_bpe
    from hhalign.dialogue import parse_turns, split_prompt
    from hhalign.judges import conversation, render
    from hhalign.tiny_judges import tiny_judge

    texts = [r["chosen"] for r in rows]
    sizes = {
        "hidden_size": 16,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 32,
    }
    _, tok = tiny_judge(train_bpe(texts, 2000), "chat", sizes, 64, 0)
    for row in rows[:300]:
        prompt, completion = split_prompt(row["chosen"])
        messages = conversation(prompt, completion)
        turns = parse_turns(prompt)
        cue = turns[-1].role == "Assistant" and not turns[-1].text  # the empty turn to write
        assert len(messages) == len(turns) - cue + 1 and messages[-1]["role"] == "assistant"
        assert messages[-1]["content"] == completion.strip()
        ids = render(tok, messages)
        assert ids.count(tok.bos_token_id) == 1
        text, at = tok.decode(ids), 0
        for m in messages:
            found = text.find(m["content"], at)
            assert found >= 0, (m, text[at : at + 200])
            at = found + len(m["content"])
