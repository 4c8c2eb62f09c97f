"""The methods beside SFT, DPO and SFT+DPO (ORPO, SimPO, KTO, RLOO): what each is, where it
starts, what it reads, its config checks, KTO's unpaired rows and the equal token budget.

Pure (pandas at most): the plan, the config check, the cards and the claims read it without
importing TRL. The trainers themselves are ``hhalign.method_training``'s, the one module
that imports TRL's ORPO, CPO, KTO and RLOO trainers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from hhalign.config import ConfigError, reward_is_judge
from hhalign.runs import run_name, split_run


class Method(NamedTuple):
    """A method: its display name, its paper, what it tests, and what it reads."""

    name: str
    paper: str
    tests: str
    reads: str  # pairs (prompt, chosen, rejected) | unpaired (KTO) | prompts (online RL)


METHODS = {
    "orpo": Method(
        "ORPO",
        "Hong et al. 2024, arXiv 2403.07691",
        "SFT and preference optimisation in one stage, no reference model: is the two-stage "
        "pipeline needed at all?",
        "pairs",
    ),
    "simpo": Method(
        "SimPO",
        "Meng et al. 2024, arXiv 2405.14734",
        "reference-free and length-normalised: does DPO's reference model matter at this "
        "scale, and does length normalisation change the judge's length taste?",
        "pairs",
    ),
    "kto": Method(
        "KTO",
        "Ethayarajh et al. 2024, arXiv 2402.01306",
        "unpaired good and bad answers (chosen desirable, rejected undesirable): does the "
        "pairing matter?",
        "unpaired",
    ),
    "rloo": Method(
        "RLOO",
        "Ahmadian et al. 2024, arXiv 2402.14740",
        "online RL with a reward model, what DPO was invented to replace",
        "prompts",
    ),
}


class MethodConfigError(ConfigError):
    """A methods setting cannot be used; the message names the key and the fix."""


def method_variants(variants: list[str]) -> list[str]:
    """The variants that are methods of this module, in ``variants`` order."""
    return [v for v in variants if v in METHODS]


def kto_rows(pairs: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """KTO's unpaired rows from preference pairs (``prompt``, ``chosen``, ``rejected``):
    each chosen answer desirable, each rejected one undesirable, in pair order (chosen
    first). A pair whose answers are equal gives neither (it says nothing good or bad);
    the counts say how many rows each kind has and how many pairs were left out."""
    same = pairs["chosen"] == pairs["rejected"]
    kept = pairs[~same].reset_index(drop=True)
    rows = pd.DataFrame(
        {
            "prompt": [p for p in kept["prompt"] for _ in (0, 1)],
            "completion": [
                x for c, r in zip(kept["chosen"], kept["rejected"], strict=True) for x in (c, r)
            ],
            "label": [flag for _ in range(len(kept)) for flag in (True, False)],
        }
    )
    counts = {
        "pairs_in": len(pairs),
        "pairs_equal_answers_left_out": int(same.sum()),
        "desirable_rows": int(rows["label"].sum()) if len(rows) else 0,
        "undesirable_rows": int((~rows["label"]).sum()) if len(rows) else 0,
    }
    return rows, counts


def token_budget(summaries: list[str | Path]) -> int:
    """The equal budget: the tokens SFT+DPO's two stages saw (their summaries'
    ``tokens_seen``, summed). Fails naming the file when one lacks the count."""
    total = 0
    for path in summaries:
        seen = json.loads(Path(path).read_text()).get("tokens_seen")
        if not seen:
            raise MethodConfigError(
                f"{path} has no tokens_seen: the equal budget cannot be set. Fix: retrain "
                "that stage, or methods.equal_budget: false"
            )
        total += int(seen)
    return total


def budget_epochs(budget: int, epoch_tokens: int) -> float:
    """Epochs that cover ``budget`` tokens at ``epoch_tokens`` an epoch, rounded up to a
    hundredth (training stops when the budget is spent)."""
    if epoch_tokens <= 0:
        raise MethodConfigError("the training set has no tokens: no budget can be spent")
    return math.ceil(100 * budget / epoch_tokens) / 100


# The run plan's part (``plan``: an ``hhalign.plan.Plan``; these read it, never import it).
def budget_runs(plan, protocol: str, run: str) -> list[str]:
    """The runs whose tokens make a method's equal budget: SFT and SFT+DPO of its seed
    (none when ``methods.equal_budget`` is off)."""
    if not plan.view(protocol, "methods")["equal_budget"]:
        return []
    seed = split_run(run, plan.seeds)[1]
    return [run_name(v, seed, plan.seeds) for v in ("sft", "sft_dpo")]


def budget_files(plan, protocol: str, run: str) -> list[str]:
    """The training summaries of the budget runs, under the protocols that own them."""
    return [
        f"{plan.results}/train/{plan.owner(protocol, plan.train_key, r)}/{r}/summary.json"
        for r in budget_runs(plan, protocol, run)
    ]


def reward_judge(plan) -> dict:
    """RLOO's reward model as a judge entry (name, kind, guard) with its model reference:
    rule train_reward_model's model (a text-pair reward model) or a configured judge."""
    reward = plan.config["methods"]["rloo"]["reward_model"]
    if reward == "trained":
        ref = plan.built_model(f"{plan.results}/models/reward")
        return {"name": "reward", "kind": "pair", "guard": None, "ref": ref._asdict()}
    first = plan.config["judges"][0]
    if reward == first["name"]:
        return {
            "name": reward,
            "kind": first["kind"],
            "guard": None,
            "ref": plan.judge_ref()._asdict(),
        }
    judge = plan.judges[reward]
    ref = plan.extra_judge_ref(reward)._asdict()
    return {"name": reward, "kind": judge["kind"], "guard": judge.get("guard"), "ref": ref}


def method_key_parts(plan, protocol: str, run: str) -> tuple:
    """Everything a method's weights depend on: its section and seed, its start model's
    key, the data and models, the budget runs' keys, RLOO's reward model."""
    variant, seed = split_run(run, plan.seeds)
    view = plan.views[protocol]
    section = view["methods"][variant]
    start = plan.train_key(protocol, run_name(section["start"], seed, plan.seeds))
    budget = [plan.train_key(protocol, r) for r in budget_runs(plan, protocol, run)]
    reward = None
    if variant == "rloo":
        judge = reward_judge(plan)
        reward = [judge["name"], view["scoring"], view["reward_model"], view["judges"]]
    context = [view[s] for s in ("data", "models", "tiny")]
    return (variant, section, seed, start, context, budget, reward)


def method_job(plan, protocol: str, run: str) -> dict:
    """The section a method's training job reads: its config section, the seed, the
    method's name, and what the job reads beyond the pairs (the budget's summaries; for
    RLOO its reward model and the scoring settings)."""
    variant, seed = split_run(run, plan.seeds)
    job = {**plan.view(protocol, "methods")[variant], "seed": seed, "method": variant}
    if budget_runs(plan, protocol, run):
        job["budget_from"] = budget_files(plan, protocol, run)
    if variant == "rloo":
        job["reward"] = reward_judge(plan)
        job["scoring"] = plan.view(protocol, "scoring")
    return job


def method_inputs(plan, protocol: str, run: str) -> list[str]:
    """What a method's job waits for beyond its pairs and start model: the budget's
    summaries (under the protocols that own those runs) and RLOO's reward model."""
    variant = split_run(run, plan.seeds)[0]
    out = budget_files(plan, protocol, run)
    if variant == "rloo":
        out += reward_judge(plan)["ref"]["input"]
    return out


def claims_extras(config: dict) -> dict:
    """What the claims read of the methods, only when ``variants`` lists one (a run without
    methods gets the claims section as it was): the equivalence margin of the "matches"
    claims, and the judge RLOO optimised (None when its reward model is no judge)."""
    if not method_variants(config["variants"]):
        return {}
    judge = reward_is_judge(config) if "rloo" in config["variants"] else None
    return {
        "equivalence_margin": config["methods"]["equivalence_margin"],
        "reward_is_judge": judge,
    }
