"""The file formats a run reads, each mapped to the one internal form: an HH transcript pair.

``hh`` is HH-RLHF's release (rows of whole ``chosen``/``rejected`` transcripts; the paper's,
the default). ``preference`` is TRL's standard preference format: ``prompt`` (optional: an
implicit prompt is the shared start of chosen and rejected), ``chosen`` and ``rejected``,
as strings or as conversational message lists; it is read with TRL's own
``trl.data_utils.maybe_extract_prompt`` and ``is_conversational``. ``pku_saferlhf`` is
PKU-SafeRLHF's: ``prompt``, ``response_0``, ``response_1``, ``better_response_id`` (the more
helpful) and ``safer_response_id``; ``data.preference`` says which label makes a pair
(``both_agree``: the rows whose two labels agree, the others filtered and counted).
``prompt`` (prompt sets only) is a plain JSONL of ``prompt``.

Every row becomes ``{"chosen": transcript, "rejected": transcript}`` in HH's own text form
("\\n\\nHuman: ...\\n\\nAssistant: ..."), so the data stage's checks, SFT, DPO, the reward
model, the methods and the prompt rules read every format alike. A row whose fields are not
its format's stops the run (``FormatError``: line, the fields looked for, those found, the
format that would read it); a row of the right shape whose content is unusable is a counted
reject (``MalformedDialogue``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hhalign.dialogue import ASSISTANT, HUMAN, MalformedDialogue, parse_turns
from hhalign.io import open_text

FORMATS = ("hh", "preference", "pku_saferlhf")
PROMPT_FORMATS = (*FORMATS, "prompt")
PREFERENCES = ("helpful", "safe", "both_agree")
LABELS = {"helpful": "better_response_id", "safe": "safer_response_id"}
# Reject reasons that are the configured preference rule's choice, not malformed data: they
# are counted and listed like the others, but not against data.max_reject_fraction.
FILTERED = ("labels_disagree",)
# What each format reads, for error messages.
FIELDS = {
    "hh": "'chosen' and 'rejected' (whole HH transcripts: '\\n\\nHuman: ...\\n\\nAssistant: ...')",
    "preference": "'chosen' and 'rejected' (strings or message lists), with an optional 'prompt'",
    "pku_saferlhf": "'prompt', 'response_0', 'response_1', 'better_response_id' and "
    "'safer_response_id' (0 or 1)",
    "prompt": "'prompt' (a string or a message list)",
}
ROLE_NAMES = {"user": "Human", "assistant": "Assistant"}


class FormatError(ValueError):
    """A row whose fields are not the configured format's: the run stops at it, naming the
    file, line, fields looked for and found, and the format value that would read it."""


def detect_format(row: Any) -> str | None:
    """The format whose fields a row has (None: none of them), for error messages and for
    refusing a file of one format read as another."""
    if not isinstance(row, dict):
        return None
    if "response_0" in row and "response_1" in row:
        return "pku_saferlhf"
    if "chosen" in row and "rejected" in row:
        chosen = row["chosen"]
        if "prompt" in row or isinstance(chosen, list) or isinstance(row["rejected"], list):
            return "preference"
        if isinstance(chosen, str) and (HUMAN in chosen or ASSISTANT in chosen):
            return "hh"
        return "preference"  # strings without HH's turn markers: an implicit prompt
    if "prompt" in row:
        return "prompt"
    return None


def required_fields(fmt: str, label_fields: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The fields a row of ``fmt`` must have (PKU: the labels the preference reads)."""
    if fmt in ("hh", "preference"):
        return ("chosen", "rejected")
    if fmt == "pku_saferlhf":
        return ("prompt", "response_0", "response_1", *label_fields)
    if fmt == "prompt":
        return ("prompt",)
    raise ValueError(f"unknown format {fmt!r}; the formats: {', '.join(PROMPT_FORMATS)}")


def label_fields(preference: str) -> tuple[str, ...]:
    """The PKU label fields a preference reads."""
    if preference == "both_agree":
        return tuple(LABELS.values())
    return (LABELS[preference],)


def _is_messages(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(m, dict) and "role" in m and "content" in m for m in value)
    )


def _type_problem(row: dict, fmt: str, labels: tuple[str, ...]) -> str | None:
    """What about the fields' values does not fit ``fmt`` (None: they fit)."""
    if fmt == "hh":
        bad = [k for k in ("chosen", "rejected") if not isinstance(row[k], str)]
        return f"{' and '.join(map(repr, bad))} must be strings" if bad else None
    if fmt in ("preference", "prompt"):
        keys = [k for k in ("prompt", "chosen", "rejected") if k in row]
        bad = [k for k in keys if not (isinstance(row[k], str) or _is_messages(row[k]))]
        return f"{' and '.join(map(repr, bad))} must be strings or message lists" if bad else None
    bad = [k for k in ("prompt", "response_0", "response_1") if not isinstance(row[k], str)]
    if bad:
        return f"{' and '.join(map(repr, bad))} must be strings"
    bad = [k for k in labels if type(row[k]) is not int or row[k] not in (0, 1)]
    return f"{' and '.join(map(repr, bad))} must be 0 or 1" if bad else None


def shape_problem(row: Any, fmt: str, labels: tuple[str, ...] = ()) -> str | None:
    """Why a row's fields are not ``fmt``'s (None: they are). A row of another format is
    refused even where its fields would happen to pass."""
    if not isinstance(row, dict):
        return f"the row is a JSON {type(row).__name__}, not an object"
    missing = [k for k in required_fields(fmt, labels) if k not in row]
    if missing:
        return f"it has no {', '.join(map(repr, missing))} field" + "s" * (len(missing) > 1)
    detected = detect_format(row)
    if detected != fmt and not (fmt == "prompt" and detected is not None):
        return f"its fields are the {detected} format's"
    return _type_problem(row, fmt, labels)


def found_fields(row: Any) -> str:
    """The fields of a row with their JSON types, for error messages."""
    if not isinstance(row, dict):
        return "none (not a JSON object)"
    names = {str: "string", list: "list", dict: "object", int: "number", float: "number"}
    return ", ".join(f"{k!r} ({names.get(type(v), type(v).__name__)})" for k, v in row.items())


def line_of(path: str, index: int) -> int:
    """The 1-based line number of row ``index`` (blank lines are not rows)."""
    seen = -1
    with open_text(path) as f:
        for number, line in enumerate(f, 1):
            seen += bool(line.strip())
            if seen == index:
                return number
    return index + 1


SHAPE_REASONS = ("missing_field", "wrong_format")


def check_shape(
    row: Any, fmt: str, labels: tuple[str, ...], path: str, index: int, key: str, strict: bool
) -> str | None:
    """A file's first row (``strict``: the first that parses) whose fields are not ``fmt``'s
    stops the run (``FormatError``), naming the line, the fields looked for and found and
    the value of ``key`` (the config key that names the format) that would read it. A
    later such row (a file of the right format with a stray row) returns its reject reason
    in full instead; None: it fits."""
    problem = shape_problem(row, fmt, labels)
    if problem is None:
        return None
    if not strict:
        reason = "missing_field" if problem.startswith("it has no ") else "wrong_format"
        return f"{reason}: {problem} ({key}={fmt} reads {FIELDS[fmt]})"
    detected = detect_format(row)
    readable = PROMPT_FORMATS if key.startswith("prompts") else FORMATS
    fix = (
        f"these rows are in the {detected} format: set {key}: {detected}"
        if detected in readable and detected != fmt
        else f"give every row {FIELDS[fmt]}, or set {key} to the file's format "
        f"({', '.join(readable)}; docs/running.md, 'Your own data')"
    )
    raise FormatError(
        f"{path}: line {line_of(path, index)}: {key}={fmt} reads {FIELDS[fmt]}, but {problem}; "
        f"fields found: {found_fields(row)}. Fix: {fix}"
    )


def messages_to_hh(messages: list[dict]) -> str:
    """Chat messages as an HH transcript (user -> Human, assistant -> Assistant); other
    roles have no HH turn and make the row a reject."""
    turns = []
    for m in messages:
        if m["role"] not in ROLE_NAMES:
            raise MalformedDialogue("unsupported_role", f"{m['role']!r} message: HH has none")
        if not isinstance(m["content"], str):
            raise MalformedDialogue("not_a_string", f"{m['role']} message content")
        turns.append(f"\n\n{ROLE_NAMES[m['role']]}: {m['content'].strip()}")
    return "".join(turns)


def string_prompt(prompt: str) -> str:
    """A string prompt as an HH prompt ending with the Assistant cue: kept when it already
    is a transcript (HH in TRL's prompt/chosen/rejected layout), else one Human turn."""
    try:
        turns = parse_turns(prompt)
    except MalformedDialogue:
        return f"{HUMAN} {prompt.strip()}{ASSISTANT}"
    if turns[-1].role == "Assistant" and not turns[-1].text:
        return prompt.rstrip()
    return prompt.rstrip() + ASSISTANT


def preference_pair(row: dict) -> dict[str, str]:
    """A TRL preference row as an HH transcript pair, read with TRL's data utilities."""
    from trl.data_utils import is_conversational, maybe_extract_prompt  # imports datasets

    example = maybe_extract_prompt(
        {k: row[k] for k in ("prompt", "chosen", "rejected") if k in row}
    )
    prompt, chosen, rejected = example["prompt"], example["chosen"], example["rejected"]
    if is_conversational(example):
        if not all(map(_is_messages, (prompt, chosen, rejected))):
            raise MalformedDialogue(
                "mixed_styles", "prompt, chosen and rejected must all be messages"
            )
        return {
            "chosen": messages_to_hh(prompt + chosen),
            "rejected": messages_to_hh(prompt + rejected),
        }
    if not all(isinstance(v, str) for v in (prompt, chosen, rejected)):
        raise MalformedDialogue("mixed_styles", "prompt, chosen and rejected must all be strings")
    return string_pair(prompt, chosen, rejected)


def string_pair(prompt: str, chosen: str, rejected: str) -> dict[str, str]:
    """A string prompt and two string responses as an HH transcript pair."""
    start = string_prompt(prompt)
    return {"chosen": f"{start} {chosen.strip()}", "rejected": f"{start} {rejected.strip()}"}


def pku_choice(row: dict, preference: str) -> int:
    """Which response (0 or 1) a PKU row's labels choose under ``preference``."""
    if preference != "both_agree":
        return row[LABELS[preference]]
    better, safer = row[LABELS["helpful"]], row[LABELS["safe"]]
    if better != safer:
        raise MalformedDialogue(
            "labels_disagree",
            f"better_response_id={better}, safer_response_id={safer}: data.preference "
            "both_agree keeps only the pairs whose two labels agree",
        )
    return better


def pku_pair(row: dict, preference: str) -> dict[str, str]:
    """A PKU-SafeRLHF row as an HH transcript pair, chosen by ``preference``."""
    i = pku_choice(row, preference)
    return string_pair(row["prompt"], row[f"response_{i}"], row[f"response_{1 - i}"])


def to_pair(row: dict, fmt: str, preference: str) -> dict:
    """A row of ``fmt`` (fields checked) as an HH transcript pair; MalformedDialogue for a
    row whose content cannot be one."""
    if fmt == "hh":
        return row
    if fmt == "preference":
        return preference_pair(row)
    if fmt == "pku_saferlhf":
        return pku_pair(row, preference)
    raise ValueError(f"unknown data.format {fmt!r}")


def prompt_row(row: dict, fmt: str, prompt_set: str) -> dict:
    """A prompt file's row as the HH row the prompt rules read (``chosen``: the prompt with
    the dataset's reference answer, if it has one). A PKU row's reference is its safer
    response for the harmful set and its more helpful one for the helpful set."""
    if fmt == "hh":
        return row
    if fmt == "prompt":
        prompt = row["prompt"]
        if isinstance(prompt, list):
            text = messages_to_hh(prompt)
            return {"chosen": text + ASSISTANT if prompt[-1]["role"] == "user" else text}
        return {"chosen": string_prompt(prompt)}
    preference = "safe" if prompt_set == "harmful" else "helpful"
    return {"chosen": to_pair(row, fmt, preference)["chosen"]}


def _error(reason: str, err: Exception | str) -> dict:
    """A prompt row that could not be read, as ``hhalign.prompts`` counts it."""
    text = str(err)
    detail = text[len(reason) + 2 :] if text.startswith(f"{reason}: ") else text
    return {"conversion_error": [reason, detail]}


def prompt_rows(rows: list, fmt: str, prompt_set: str, path: str, key: str) -> list:
    """A prompt file's rows (``fmt``) as the HH rows the prompt rules read, row for row; a row
    that cannot be read becomes a counted reject (``conversion_error``), except a first row
    whose fields are not the format's: that stops (``check_shape``). hh rows are read as
    they always were, the first checked."""
    labels = label_fields("safe" if prompt_set == "harmful" else "helpful")
    labels = labels if fmt == "pku_saferlhf" else ()
    if fmt == "hh":
        if rows:
            check_shape(rows[0], fmt, labels, path, 0, key, strict=True)
        return rows
    out = []
    for index, row in enumerate(rows):
        problem = check_shape(row, fmt, labels, path, index, key, strict=index == 0)
        if problem is not None:
            out.append(_error(problem.split(":")[0], problem))
            continue
        try:
            out.append(prompt_row(row, fmt, prompt_set))
        except MalformedDialogue as err:
            out.append(_error(err.reason, err))
    return out


def transcript_rows(rows: Iterable[Any], fmt: str) -> Iterable[Any]:
    """Rows of ``fmt`` as transcript pairs, for what reads only their words (the tiny
    tokenizer): hh rows as they are; a PKU row's two responses whatever its labels; a row
    that cannot be read is left out (the data stage counts it)."""
    if fmt == "hh":
        return rows
    labels = label_fields("helpful") if fmt == "pku_saferlhf" else ()
    out = []
    for row in rows:
        if shape_problem(row, fmt, labels) is None:
            try:
                out.append(to_pair(row, fmt, "helpful"))
            except MalformedDialogue:
                continue
    return out
