"""The data and prompt code on the real harmless-base test split (skipped when absent)."""

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
