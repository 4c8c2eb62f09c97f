"""Evaluation prompt selection: the authors' ``paper`` rules and our ``corrected`` ones.

paper (arXiv 2509.09055, as released): ``random.seed(100)``; harmful candidates
are harmless-base test rows whose ``chosen`` contains "kill", "murder" or
"rape" as a case-sensitive substring (so "skill" and "grape" match too);
50 are sampled, then 50 helpful-base test rows with the same generator. A
prompt is ``chosen.strip().split("\\n\\n")`` minus its last part if that part
starts with "Assistant:", joined again: it lacks the "Assistant:" cue and can
end inside a multi-paragraph reply.

Each prompt row also carries ``chosen``, the dataset's own answer to it: the final Assistant
turn of the chosen dialogue (the text after its last "\\n\\nAssistant:"), the reference of
the win rate (``hhalign.win_rates.win_rate_table``). In the corrected protocol the prompt ends
exactly where it starts; in the paper protocol the prompt is the dialogue minus a last
paragraph starting "Assistant:", so for a one-paragraph final turn (most rows) the reference
is that dropped text, and for a longer one (nothing dropped: the paper's flaw) the prompt
already holds the reference itself.

corrected: each fix is its own switch (see ``PromptRules``): whole-word and
case-insensitive keywords, searched in Human turns only, and the prompt cut at
the last "\\n\\nAssistant:" so it ends with the cue the model answers.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass

from hhalign.dialogue import MalformedDialogue, parse_turns, split_prompt


class EmptySplit(ValueError):
    """A prompt split without a single row; the message names it and the fix."""


@dataclass(frozen=True)
class PromptRules:
    """The switches of one prompt protocol (keys of config ``prompts``)."""

    keywords: tuple[str, ...]
    keyword_match: str  # "substring" or "word"
    case_sensitive: bool
    keyword_scope: str  # "dialogue" (whole chosen text) or "human" (Human turns only)
    prompt_format: str  # "paper" or "assistant_cue"
    n_harmful: int | None  # None: every candidate the keyword filter keeps
    n_helpful: int | str  # "match_harmful": as many as the harmful set
    seed: int

    @classmethod
    def from_config(cls, prompts: dict) -> PromptRules:
        """Build from the ``prompts`` config section."""
        return cls(
            keywords=tuple(prompts["keywords"]),
            keyword_match=prompts["keyword_match"],
            case_sensitive=prompts["case_sensitive"],
            keyword_scope=prompts["keyword_scope"],
            prompt_format=prompts["prompt_format"],
            n_harmful=prompts["n_harmful"],
            n_helpful=prompts["n_helpful"],
            seed=prompts["seed"],
        )


def paper_prompt(chosen: str) -> str:
    """The authors' prompt: drop the last paragraph if it starts with "Assistant:"."""
    parts = chosen.strip().split("\n\n")
    if parts[-1].startswith("Assistant:"):
        parts = parts[:-1]
    return "\n\n".join(parts)


def cue_prompt(chosen: str) -> str:
    """The corrected prompt: everything up to and including the last "\\n\\nAssistant:"."""
    return split_prompt(chosen)[0]


def reference_response(chosen: str) -> str:
    """The dataset's chosen answer to the prompt: the final Assistant turn, stripped ("" for
    a dialogue without one; the paper protocol keeps such rows)."""
    try:
        return split_prompt(chosen)[1].strip()
    except MalformedDialogue:
        return ""


def make_prompt(chosen: str, prompt_format: str) -> str:
    """Format a prompt from a chosen dialogue by the protocol's rule."""
    if prompt_format == "paper":
        return paper_prompt(chosen)
    if prompt_format == "assistant_cue":
        return cue_prompt(chosen)
    raise ValueError(f"unknown prompts.prompt_format {prompt_format!r}")


def searched_text(chosen: str, scope: str) -> str:
    """The text the keyword filter looks at: the whole dialogue, or Human turns only."""
    if scope == "dialogue":
        return chosen
    if scope == "human":
        return "\n".join(t.text for t in parse_turns(chosen) if t.role == "Human")
    raise ValueError(f"unknown prompts.keyword_scope {scope!r}")


def keyword_hits(text: str, rules: PromptRules) -> list[str]:
    """The configured keywords that occur in ``text``, under the protocol's matching rule."""
    flags = 0 if rules.case_sensitive else re.IGNORECASE
    if rules.keyword_match == "substring":
        pattern = "{}"
    elif rules.keyword_match == "word":
        pattern = r"\b{}\b"
    else:
        raise ValueError(f"unknown prompts.keyword_match {rules.keyword_match!r}")
    return [k for k in rules.keywords if re.search(pattern.format(re.escape(k)), text, flags)]


def _usable(rows: list[dict], rules: PromptRules, rejects: list[dict], name: str) -> list[int]:
    """Indices of rows whose prompt can be built; the others go to ``rejects``."""
    keep = []
    for i, row in enumerate(rows):
        chosen = row.get("chosen") if isinstance(row, dict) else None
        try:
            if isinstance(row, dict) and "conversion_error" in row:  # from another format
                raise MalformedDialogue(*row["conversion_error"])
            if not isinstance(chosen, str):
                raise MalformedDialogue("missing_field", "no 'chosen' string")
            if rules.prompt_format == "assistant_cue" or rules.keyword_scope == "human":
                parse_turns(chosen)
                make_prompt(chosen, rules.prompt_format)
            keep.append(i)
        except MalformedDialogue as err:
            rejects.append({"set": name, "row": i, "reason": err.reason, "detail": str(err)})
    return keep


def _sample(
    rng: random.Random, population: list[int], k: int | None, what: str, why: str
) -> list[int]:
    """``rng.sample`` of ``k`` rows; ``k=None`` takes every row, in the seeded order that
    sampling all of them gives. ``why`` accounts for the rows that are not candidates."""
    k = len(population) if k is None else k
    if k > len(population) or not population:
        raise ValueError(
            f"cannot sample {k} {what} prompts from {len(population)} candidates ({why}). "
            f"Fix: check the raw test split and the keyword rules, or lower prompts.n_{what}"
        )
    return rng.sample(population, k)


def accounting(name: str, rows: list[dict], source: dict, rejects: list[dict]) -> str:
    """Where a prompt set's rows went: read, rejected by reason (``EmptySplit`` when the
    split has no rows at all)."""
    where = source.get("file") or f"{source.get('subset')}/{source.get('split')}"
    if not rows:
        raise EmptySplit(
            f"the {name} prompt split {where} has no rows (an empty raw file: an interrupted "
            f"copy or a failed download leaves one). Fix: replace the raw file and rerun from "
            f"rule fetch_raw_data"
        )
    reasons = Counter(r["reason"] for r in rejects if r["set"] == name)
    shown = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
    return f"{len(rows)} rows in {where}, {sum(reasons.values())} rejected" + (
        f": {shown}" if shown else ""
    )


def _prompt_row(name: str, i: int, index: int, row: dict, rules: PromptRules, source: dict):
    return {
        "id": f"{name}-{i:03d}",
        "set": name,
        "prompt": make_prompt(row["chosen"], rules.prompt_format),
        **source,
        "row": index,
        "keywords": keyword_hits(searched_text(row["chosen"], rules.keyword_scope), rules)
        if name == "harmful"
        else [],
        "chosen": reference_response(row["chosen"]),
    }


def select_prompts(
    harmful_rows: list[dict],
    helpful_rows: list[dict],
    rules: PromptRules,
    harmful_source: dict,
    helpful_source: dict,
) -> tuple[list[dict], list[dict], list[dict], int]:
    """Select harmful and helpful prompts; return (harmful, helpful, rejects, n_candidates).

    One ``random.Random(seed)`` draws the harmful sample and then, continuing,
    the helpful sample, exactly as ``random.seed(seed)`` followed by two
    ``random.sample`` calls did in the authors' notebook. Rows are sampled in
    file order, and each output row records its source row index.
    """
    rejects: list[dict] = []
    harmful_ok = _usable(harmful_rows, rules, rejects, "harmful")
    helpful_ok = _usable(helpful_rows, rules, rejects, "helpful")
    candidates = [
        i
        for i in harmful_ok
        if not rules.keywords  # no keyword filter: the set is harmful already
        or keyword_hits(searched_text(harmful_rows[i]["chosen"], rules.keyword_scope), rules)
    ]
    why_harmful = accounting("harmful", harmful_rows, harmful_source, rejects)
    why_harmful += f", {len(harmful_ok) - len(candidates)} without a keyword"
    why_helpful = accounting("helpful", helpful_rows, helpful_source, rejects)
    rng = random.Random(rules.seed)
    harmful_idx = _sample(rng, candidates, rules.n_harmful, "harmful", why_harmful)
    n_helpful = len(harmful_idx) if rules.n_helpful == "match_harmful" else rules.n_helpful
    helpful_idx = _sample(rng, helpful_ok, n_helpful, "helpful", why_helpful)
    harmful = [
        _prompt_row("harmful", i, j, harmful_rows[j], rules, harmful_source)
        for i, j in enumerate(harmful_idx)
    ]
    helpful = [
        _prompt_row("helpful", i, j, helpful_rows[j], rules, helpful_source)
        for i, j in enumerate(helpful_idx)
    ]
    return harmful, helpful, rejects, len(candidates)


def chosen_rows(prompts: list[dict], path: str) -> list[dict]:
    """The dataset's chosen answers as response rows (id, prompt, response), for the judges
    to score like a model's; a prompt file without them (written before they existed) stops
    naming the fix."""
    missing = [p["id"] for p in prompts if "chosen" not in p]
    if missing:
        raise ValueError(
            f"{path}: {len(missing)} prompt rows have no 'chosen' field (e.g. {missing[0]}): "
            f"the file predates win rates. Fix: snakemake {path} --forcerun select_prompts"
        )
    return [{"id": p["id"], "prompt": p["prompt"], "response": p["chosen"]} for p in prompts]
