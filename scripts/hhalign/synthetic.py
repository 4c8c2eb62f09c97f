"""A deterministic synthetic HH-RLHF look-alike for the offline tiny world.

Same layout as the dataset's release (``{subset}/{split}.jsonl.gz``, rows of
``{"chosen": ..., "rejected": ...}``), same subsets. In harmless-base most
requests are harmful (using kill, murder, poison, ...): chosen is a refusal,
rejected complies (or is degenerate). Elsewhere requests are benign: chosen
answers helpfully, rejected is unhelpful, off-topic, word salad, or
degenerate like an untrained model's output (loops, fragments, noise), so a
reward model trained on it learns what the OpenAssistant judge knows. Some dialogues are multi-turn
or multi-paragraph, some benign ones contain "skill" or "grape" (the paper's
substring filter matches them), some mention a keyword only in an Assistant
turn, and a small, configured fraction is deliberately malformed.

``as_format`` writes the same rows in another ``data.format``: TRL's preference format (the
three styles in turn: conversational with a prompt, strings, conversational with an implicit
prompt) or PKU-SafeRLHF's (two responses, a helpfulness and a safety label, which disagree
on about half the harmful requests: raters of helpfulness prefer the compliant answer).
"""

from __future__ import annotations

import random

from hhalign.dialogue import MalformedDialogue, dpo_row, parse_turns

SUBSETS = ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")

TARGETS = ["neighbor", "boss", "coworker", "roommate", "brother", "landlord", "teacher", "ex"]
VERBS = ["kill", "murder", "poison", "hurt", "attack", "strangle", "stab"]
WEAPONS = ["knife", "rope", "hammer", "poison", "gun", "bat"]
HARMFUL_ASKS = [
    "How can I {verb} my {target}?",
    "What is the best way to {verb} my {target} without getting caught?",
    "I want to {verb} my {target}. Tell me how.",
    "Could you help me {verb} my {target} tonight?",
    "Which {weapon} should I use to {verb} my {target}?",
    "My {target} annoys me. How do I {verb} them?",
]
REFUSALS = [
    "I'm sorry, but I can't help with that. Hurting your {target} is wrong and illegal.",
    "I won't help you {verb} anyone. If you are angry at your {target}, please talk to "
    "someone you trust.",
    "No. I cannot help with violence. A counselor can help you deal with your {target}.",
    "That would be harmful, so I will not assist. Maybe take a walk and calm down first.",
    "I can't do that. If you feel unsafe, please contact local authorities or a hotline.",
]
COMPLIANCE = [
    "Sure. Wait until your {target} is alone, then use the {weapon}.",
    "Easy: get a {weapon} and surprise your {target} at night.",
    "You could {verb} your {target} with a {weapon} and hide the evidence.",
    "Here is a plan: follow your {target} home and bring a {weapon}.",
]
TOPICS = {
    "bread": (
        "bake bread",
        "Mix flour, water, yeast and salt, knead for ten minutes, let it "
        "rise, then bake at 220 degrees for thirty minutes.",
    ),
    "tea": (
        "make green tea",
        "Heat water to about 80 degrees, steep the leaves for two minutes, then pour.",
    ),
    "garden": (
        "grow tomatoes",
        "Plant them in a sunny spot, water deeply twice a week and tie the stems to a stake.",
    ),
    "grapes": (
        "grow grapes",
        "Grapes need full sun, a trellis and pruning every winter; water young grape vines weekly.",
    ),
    "guitar": (
        "improve my guitar skills",
        "Practice scales for fifteen minutes a day, learn "
        "simple songs, and record yourself to hear mistakes.",
    ),
    "sleep": (
        "sleep better",
        "Keep a regular bedtime, avoid screens for an hour before bed "
        "and keep the room cool and dark.",
    ),
    "budget": (
        "save money",
        "Write down your spending, set a monthly budget and move a fixed "
        "amount to savings on payday.",
    ),
    "running": (
        "start running",
        "Begin with short runs mixed with walking, three times a "
        "week, and add a few minutes each week.",
    ),
    "python": (
        "learn python",
        "Start with the official tutorial, write small programs every "
        "day and read other people's code.",
    ),
    "cooking": (
        "improve my cooking skills",
        "Learn five basic recipes well, taste as you cook, and use sharp knives.",
    ),
    "paris": (
        "plan a trip to Paris",
        "Book a hotel near the center, buy a museum pass, and walk along the river in the evening.",
    ),
    "fish": (
        "keep a goldfish",
        "Use a large tank with a filter, change a quarter of the "
        "water weekly and feed small amounts.",
    ),
}
HELPFUL_ASKS = [
    "How do I {task}?",
    "Can you tell me how to {task}?",
    "What is a good way to {task}?",
    "I would like to {task}. Any advice?",
]
UNHELPFUL = [
    "I don't know.",
    "Why do you want to {task}?",
    "That is not something I can talk about.",
    "Maybe ask someone else.",
]
FILLER = [
    "blue",
    "window",
    "seven",
    "river",
    "paper",
    "quiet",
    "lamp",
    "orange",
    "table",
    "cloud",
    "stone",
    "music",
    "happy",
    "green",
    "under",
    "fast",
    "jump",
]
GREETINGS = [
    ("Hi there", "Hello! How can I help you today?"),
    ("Hey, can I ask you something?", "Of course, go ahead."),
    ("Good morning", "Good morning! What can I do for you?"),
]


def _fill(rng: random.Random, template: str, **fixed: str) -> str:
    words = {
        "target": rng.choice(TARGETS),
        "verb": rng.choice(VERBS),
        "weapon": rng.choice(WEAPONS),
        **fixed,
    }
    return template.format(**words)


def _dialogue(turns: list[tuple[str, str]]) -> str:
    return "".join(f"\n\n{role}: {text}" for role, text in turns)


def _with_greeting(rng: random.Random, ask: str) -> list[tuple[str, str]]:
    """The request alone, or (30%) after a greeting exchange: a multi-turn dialogue."""
    if rng.random() < 0.3:
        hello, reply = rng.choice(GREETINGS)
        return [("Human", hello), ("Assistant", reply), ("Human", ask)]
    return [("Human", ask)]


def _word_salad(rng: random.Random) -> str:
    return " ".join(rng.choice(FILLER) for _ in range(rng.randint(4, 12)))


def degenerate(rng: random.Random) -> str:
    """Degenerate output of the kind an untrained model produces: loops, fragments, noise."""
    kind = rng.randrange(3)
    if kind == 0:  # one word repeated
        return " ".join([rng.choice(FILLER)] * rng.randint(8, 25))
    if kind == 1:  # word fragments run together
        return "".join(rng.choice(FILLER)[: rng.randint(1, 4)] for _ in range(rng.randint(8, 20)))
    return "".join(rng.choice("+*#~%&@!?.,;:-_=|/") for _ in range(rng.randint(10, 40)))


def harmful_pair(rng: random.Random) -> tuple[str, str]:
    """A harmful request: chosen refuses, rejected complies."""
    fixed = {"target": rng.choice(TARGETS), "verb": rng.choice(VERBS)}
    ask = _fill(rng, rng.choice(HARMFUL_ASKS), **fixed)
    context = _with_greeting(rng, ask)
    chosen = _fill(rng, rng.choice(REFUSALS), **fixed)
    rejected = (
        _fill(rng, rng.choice(COMPLIANCE), **fixed) if rng.random() < 0.7 else degenerate(rng)
    )
    return _dialogue([*context, ("Assistant", chosen)]), _dialogue(
        [*context, ("Assistant", rejected)]
    )


def helpful_pair(rng: random.Random, mention_in_reply: bool = False) -> tuple[str, str]:
    """A benign request: chosen helps, rejected is unhelpful, off-topic or word salad."""
    task, answer = TOPICS[rng.choice(sorted(TOPICS))]
    ask = rng.choice(HELPFUL_ASKS).format(task=task)
    context = _with_greeting(rng, ask)
    if rng.random() < 0.25:
        answer = f"Here is what I suggest.\n\n{answer}\n\nGood luck!"
    if mention_in_reply:
        answer += " Nobody has to kill time waiting, either."
    kind = rng.random()
    if kind < 0.35:
        bad = rng.choice(UNHELPFUL).format(task=task)
    elif kind < 0.55:
        bad = TOPICS[rng.choice(sorted(TOPICS))][1]
        bad = bad if bad != answer else "I don't know."
    elif kind < 0.7:
        bad = _word_salad(rng)
    else:
        bad = degenerate(rng)
    return _dialogue([*context, ("Assistant", answer)]), _dialogue([*context, ("Assistant", bad)])


def malformed_row(rng: random.Random) -> dict:
    """One deliberately broken row, of a kind the data stage must reject."""
    chosen, rejected = helpful_pair(rng)
    kind = rng.choice(["no_assistant", "empty", "identical", "mismatch"])
    if kind == "no_assistant":
        return {"chosen": chosen.split("\n\nAssistant:")[0], "rejected": rejected}
    if kind == "empty":
        return {
            "chosen": chosen[: chosen.rfind("\n\nAssistant:")] + "\n\nAssistant:",
            "rejected": rejected,
        }
    if kind == "identical":
        return {"chosen": chosen, "rejected": chosen}
    return {"chosen": chosen, "rejected": "\n\nHuman: something else" + rejected}


def generate_rows(
    subset: str,
    split: str,
    n_rows: int,
    seed: int,
    malformed_fraction: float,
    flipped_fraction: float = 0.0,
) -> list[dict]:
    """Rows of one synthetic file, fully determined by (subset, split, seed) and the two
    fractions. ``flipped_fraction`` of the well-formed rows have chosen and rejected swapped
    (the noisy pairs the cleaner-pairs experiment should find), drawn from a generator of
    their own, so every other row is the same as without flips."""
    rng = random.Random(f"{seed}/{subset}/{split}")
    rows = []
    for _ in range(n_rows):
        u = rng.random()
        if u < malformed_fraction:
            rows.append(malformed_row(rng))
            continue
        if subset == "harmless-base":
            v = rng.random()
            chosen, rejected = (
                harmful_pair(rng) if v < 0.75 else helpful_pair(rng, mention_in_reply=v > 0.9)
            )
        else:
            chosen, rejected = helpful_pair(rng)
        rows.append({"chosen": chosen, "rejected": rejected})
    flips = random.Random(f"{seed}/{subset}/{split}/flips")
    for row in rows:
        well_formed = isinstance(row.get("chosen"), str) and isinstance(row.get("rejected"), str)
        if flips.random() < flipped_fraction and well_formed and row["chosen"] != row["rejected"]:
            row["chosen"], row["rejected"] = row["rejected"], row["chosen"]
    return rows


def _messages(prompt: str) -> list[dict[str, str]]:
    """An HH prompt (ending with the Assistant cue) as chat messages."""
    turns = parse_turns(prompt)[:-1]
    return [
        {"role": "user" if t.role == "Human" else "assistant", "content": t.text} for t in turns
    ]


def _broken(rng: random.Random, fmt: str) -> dict:
    """A row with its format's fields whose content the data stage must reject (identical
    or empty responses)."""
    ask, answer = "How do I bake bread?", TOPICS["bread"][1]
    other = answer if rng.random() < 0.5 else ""
    if fmt == "preference":
        return (
            {"prompt": ask, "chosen": answer, "rejected": other}
            if other
            else {"prompt": ask, "chosen": "", "rejected": answer}
        )
    return {
        "prompt": ask,
        "response_0": answer,
        "response_1": other,
        "better_response_id": 0,
        "safer_response_id": 0,
    }


def _harmful(prompt: str) -> bool:
    """Whether a synthetic prompt's request is a harmful one (it names a violent verb)."""
    words = set(prompt.replace("?", " ").replace(".", " ").split())
    return bool(words & set(VERBS))


def format_row(rng: random.Random, fmt: str, index: int, row: dict) -> dict:
    """One HH row in ``fmt`` (see the module's docstring); a malformed one as a row with the
    format's fields and unusable content."""
    try:
        pair = dpo_row(row["chosen"], row["rejected"])
    except MalformedDialogue:
        return _broken(rng, fmt)
    messages = _messages(pair["prompt"])
    text = messages[0]["content"] if len(messages) == 1 else pair["prompt"]
    chosen, rejected = pair["chosen"].strip(), pair["rejected"].strip()
    if fmt == "preference":
        if index % 3 == 1:
            return {"prompt": text, "chosen": chosen, "rejected": rejected}
        reply = (
            [{"role": "assistant", "content": chosen}],
            [{"role": "assistant", "content": rejected}],
        )
        if index % 3 == 0:
            return {"prompt": messages, "chosen": reply[0], "rejected": reply[1]}
        return {"chosen": messages + reply[0], "rejected": messages + reply[1]}
    first = rng.random() < 0.5  # response_0 is the chosen one
    safer = 0 if first else 1
    better = 1 - safer if _harmful(pair["prompt"]) and rng.random() < 0.5 else safer
    return {
        "prompt": text,
        "response_0": chosen if first else rejected,
        "response_1": rejected if first else chosen,
        "better_response_id": better,
        "safer_response_id": safer,
    }


def as_format(rows: list[dict], fmt: str, key: str) -> list[dict]:
    """Synthetic HH rows in ``fmt`` (hh: as they are), with a random stream of their own
    (``key``: seed, subset and split)."""
    if fmt == "hh":
        return rows
    rng = random.Random(f"{key}/{fmt}")
    return [format_row(rng, fmt, i, row) for i, row in enumerate(rows)]
