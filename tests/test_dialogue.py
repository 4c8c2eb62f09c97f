"""Dialogue parsing, the prompt/completion split and per-row validation."""

import pytest

from hhalign.dialogue import (
    MalformedDialogue,
    Turn,
    common_prefix_split,
    dpo_row,
    parse_turns,
    sft_row,
    split_prompt,
)

MULTI = (
    "\n\nHuman: Give me two tips.\n\nAssistant: Sure.\n\n1. Sleep.\n\n2. Eat."
    "\n\nHuman: Thanks!\n\nAssistant: You're welcome."
)


def test_parse_turns_keeps_multi_paragraph_turns_whole():
    assert parse_turns(MULTI) == [
        Turn("Human", "Give me two tips."),
        Turn("Assistant", "Sure.\n\n1. Sleep.\n\n2. Eat."),
        Turn("Human", "Thanks!"),
        Turn("Assistant", "You're welcome."),
    ]


def test_parse_turns_unicode():
    turns = parse_turns("\n\nHuman: ¿Qué tal? 你好 🙂\n\nAssistant: Très bien — merci")
    assert turns == [Turn("Human", "¿Qué tal? 你好 🙂"), Turn("Assistant", "Très bien — merci")]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "no_turns"), ("just text", "no_turns"), ("hello\n\nHuman: hi", "text_before_first_turn")],
)
def test_parse_turns_rejects(text, reason):
    with pytest.raises(MalformedDialogue) as err:
        parse_turns(text)
    assert err.value.reason == reason


def test_split_prompt_cuts_at_last_assistant_and_loses_nothing():
    prompt, completion = split_prompt(MULTI)
    assert prompt.endswith("\n\nHuman: Thanks!\n\nAssistant:")
    assert completion == " You're welcome."
    assert prompt + completion == MULTI


@pytest.mark.parametrize(
    ("text", "reason"),
    [("\n\nHuman: hi there", "no_assistant_turn"), ("\n\nAssistant: hello", "no_human_turn")],
)
def test_split_prompt_rejects(text, reason):
    with pytest.raises(MalformedDialogue) as err:
        split_prompt(text)
    assert err.value.reason == reason


def test_common_prefix_split_overshoots_into_completions():
    chosen = "\n\nHuman: hi\n\nAssistant: I can help."
    rejected = "\n\nHuman: hi\n\nAssistant: I cannot."
    prompt, c, r = common_prefix_split(chosen, rejected)
    assert prompt == "\n\nHuman: hi\n\nAssistant: I can"
    assert (c, r) == (" help.", "not.")
    # TRL 0.16.1 moved a space before the difference into the completions.
    prompt, c, r = common_prefix_split("H: hi A: Yes.", "H: hi A: No.")
    assert (prompt, c, r) == ("H: hi A:", " Yes.", " No.")
    assert common_prefix_split("abc", "abcd") == ("ab", "c", "cd")  # its off-by-one, kept


def test_sft_row_and_empty_completion():
    row = sft_row(MULTI)
    assert row["completion"] == " You're welcome." and row["text"] == MULTI
    with pytest.raises(MalformedDialogue) as err:
        sft_row("\n\nHuman: hi\n\nAssistant:   ")
    assert err.value.reason == "empty_completion"


@pytest.mark.parametrize(
    ("chosen", "rejected", "reason"),
    [
        (
            "\n\nHuman: a\n\nAssistant: b",
            "\n\nHuman: a\n\nAssistant: b",
            "identical_chosen_rejected",
        ),
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: x\n\nAssistant: c", "prompt_mismatch"),
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a\n\nAssistant:", "empty_completion"),
        ("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: a", "no_assistant_turn"),
        ("\n\nHuman: a\n\nAssistant: b", None, "not_a_string"),
    ],
)
def test_dpo_row_rejects(chosen, rejected, reason):
    with pytest.raises(MalformedDialogue) as err:
        dpo_row(chosen, rejected)
    assert err.value.reason == reason


def test_dpo_row_explicit_split():
    row = dpo_row("\n\nHuman: a\n\nAssistant: yes", "\n\nHuman: a\n\nAssistant: no")
    assert (row["prompt"], row["chosen"], row["rejected"]) == (
        "\n\nHuman: a\n\nAssistant:",
        " yes",
        " no",
    )
