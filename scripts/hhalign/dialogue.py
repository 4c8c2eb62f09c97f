"""HH-RLHF dialogues: turns, the prompt/completion split and row validation.

A dialogue is a string of turns, each introduced by ``"\\n\\nHuman:"`` or
``"\\n\\nAssistant:"``. A turn may span several paragraphs (it may contain
``"\\n\\n"``), so turns are split only at those two markers.

The prompt of a dialogue is everything up to and including its last
``"\\n\\nAssistant:"``; the completion is what follows. We never split at the
longest common prefix of chosen and rejected: on the real harmless-base test
split that prefix runs past the prompt in about a fifth of the rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HUMAN = "\n\nHuman:"
ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")


class MalformedDialogue(ValueError):
    """A dialogue that cannot be used; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class Turn:
    """One turn of a dialogue: ``role`` is "Human" or "Assistant"."""

    role: str
    text: str


def parse_turns(dialogue: str) -> list[Turn]:
    """Split a dialogue into turns; text before the first marker is an error.

    >>> parse_turns("\\n\\nHuman: hi\\n\\nAssistant: hello")
    [Turn(role='Human', text='hi'), Turn(role='Assistant', text='hello')]
    """
    if not isinstance(dialogue, str):
        raise MalformedDialogue("not_a_string", type(dialogue).__name__)
    marks = list(_TURN.finditer(dialogue))
    if not marks:
        raise MalformedDialogue("no_turns", "no Human or Assistant marker")
    if dialogue[: marks[0].start()].strip():
        raise MalformedDialogue("text_before_first_turn", dialogue[: marks[0].start()][:40])
    ends = [m.start() for m in marks[1:]] + [len(dialogue)]
    return [
        Turn(m.group(1), dialogue[m.end() : end].strip())
        for m, end in zip(marks, ends, strict=True)
    ]


ROLES = {"Human": "user", "Assistant": "assistant"}


def to_messages(prompt: str) -> list[dict[str, str]]:
    """An HH prompt as chat messages (Human -> user, Assistant -> assistant), for a model's
    chat template. The empty Assistant turn a prompt ends with (the cue) is the turn the
    model is asked to write, so it is left out; an Assistant turn the prompt ends inside (the
    paper's prompts can) stays as the last message. Turn texts are stripped, as
    ``parse_turns`` does; consecutive turns of one role (the real data has them) are kept
    as they are.
    """
    turns = parse_turns(prompt)
    if turns and turns[-1].role == "Assistant" and not turns[-1].text:
        turns = turns[:-1]
    return [{"role": ROLES[t.role], "content": t.text} for t in turns]


def split_prompt(dialogue: str) -> tuple[str, str]:
    """Return (prompt, completion): the prompt ends with the last "\\n\\nAssistant:".

    ``prompt + completion == dialogue`` always holds, so nothing is lost.
    """
    if not isinstance(dialogue, str):
        raise MalformedDialogue("not_a_string", type(dialogue).__name__)
    cut = dialogue.rfind(ASSISTANT)
    if cut < 0:
        raise MalformedDialogue("no_assistant_turn")
    if dialogue.rfind(HUMAN, 0, cut) < 0:
        raise MalformedDialogue("no_human_turn")
    end = cut + len(ASSISTANT)
    return dialogue[:end], dialogue[end:]


def common_prefix_split(chosen: str, rejected: str) -> tuple[str, str, str]:
    """Split where chosen and rejected first differ, exactly as the authors' TRL (0.16.1,
    ``trl.data_utils.extract_prompt``) extracted the implicit prompt.

    This is the ``paper`` protocol's DPO prompt; it may run past "Assistant:" into the
    completions. Two quirks are kept on purpose: a space just before the first difference
    goes to the completions (the prompt ends "Assistant:", the completions start " ..."),
    and when one text is a prefix of the other the split falls one character early.
    """
    idx = 0
    for idx in range(min(len(chosen), len(rejected))):
        if chosen[idx] != rejected[idx]:
            if chosen[idx - 1] == " ":
                idx -= 1
            break
    return chosen[:idx], chosen[idx:], rejected[idx:]


def sft_row(chosen: str) -> dict[str, str]:
    """Build one SFT example from a chosen dialogue, or raise MalformedDialogue."""
    parse_turns(chosen)
    prompt, completion = split_prompt(chosen)
    if not completion.strip():
        raise MalformedDialogue("empty_completion")
    return {"prompt": prompt, "completion": completion, "text": chosen}


def dpo_row(chosen: str, rejected: str) -> dict[str, str]:
    """Build one preference pair, or raise MalformedDialogue naming what is wrong."""
    if not isinstance(rejected, str):
        raise MalformedDialogue("not_a_string", "rejected")
    if chosen == rejected:
        raise MalformedDialogue("identical_chosen_rejected")
    row = sft_row(chosen)
    parse_turns(rejected)
    prompt_r, completion_r = split_prompt(rejected)
    if not completion_r.strip():
        raise MalformedDialogue("empty_completion", "rejected")
    if prompt_r != row["prompt"]:
        raise MalformedDialogue("prompt_mismatch")
    if completion_r == row["completion"]:
        raise MalformedDialogue("identical_chosen_rejected", "same completion")
    return {
        "prompt": row["prompt"],
        "chosen": row["completion"],
        "rejected": completion_r,
        "chosen_text": chosen,
        "rejected_text": rejected,
    }
