"""Model cards in the Hugging Face format for every model a run trains: YAML metadata (base
model at its pinned commit, datasets, library, licence, tags, the run label), how it was
trained (every hyperparameter of its config section, the data counts, the protocol), its
rows of Table 1 and the claims that concern it, limitations, and how to cite.
"""

from __future__ import annotations

import json

import pandas as pd
import yaml

from hhalign.config import reward_is_judge
from hhalign.methods import METHODS
from hhalign.runs import split_run

DATASET = "Anthropic/hh-rlhf"
# Licences of the policy families the presets use; a trained model inherits its base's.
LICENCES = {
    "facebook/opt": ("other", "Meta's OPT license: non-commercial research use"),
    "EleutherAI/pythia": ("apache-2.0", "Apache-2.0"),
    "microsoft/deberta": ("mit", "MIT"),
    "OpenAssistant/": ("mit", "MIT"),
}
CITATION = """@misc{pant2025improving,
  title         = {Improving LLM Safety and Helpfulness using SFT and DPO: A Study on OPT-350M},
  author        = {Pant, Piyush},
  year          = {2025},
  eprint        = {2509.09055},
  archivePrefix = {arXiv}
}"""


def markdown_table(df: pd.DataFrame) -> str:
    """A small Markdown table (numbers with one decimal)."""

    def cell(x) -> str:
        return f"{x:.1f}" if isinstance(x, float) else str(x)

    head = "| " + " | ".join(df.columns) + " |\n| " + " | ".join("---" for _ in df.columns) + " |"
    rows = ["| " + " | ".join(cell(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, *rows])


def base_name(spec: dict, path: str) -> str:
    """The base model as the Hub names it (a local or tiny model: its path)."""
    return spec["name"] if spec["source"] == "hub" else path


def licence(spec: dict) -> tuple[str, str]:
    """(Hub licence id, what it means) of a model trained from ``spec``."""
    if spec["source"] == "tiny":
        return "mit", "MIT (a tiny model built from config by this pipeline)"
    name = spec.get("name") or ""
    for prefix, found in LICENCES.items():
        if name.startswith(prefix):
            return found
    return "unknown", "unknown: set it from the base model's own card before publishing"


def dataset(source: str) -> str:
    """What the training data were, for the card's text (config ``data.source``)."""
    if source == "synthetic":
        return (
            "a synthetic HH-RLHF look-alike generated offline by this pipeline (not "
            + DATASET
            + ")"
        )
    return f"a local copy of {DATASET}" if source == "local" else DATASET


def metadata(
    spec: dict, path: str, stage: str, protocol: str, label: str, source: str = "hub"
) -> dict:
    """The card's YAML front matter (``source``: config ``data.source``; synthetic data
    name no Hub dataset)."""
    lic, _ = licence(spec)
    real = source != "synthetic"
    meta = {
        "base_model": base_name(spec, path),
        **({"datasets": [DATASET]} if real else {}),
        "library_name": "peft" if stage.endswith("_adapter") else "transformers",
        "license": lic,
        "tags": [
            "trl",
            stage.split("_")[0],
            "hh-rlhf" if real else "synthetic-data",
            f"protocol:{protocol}",
            "hhalign",
        ],
        "pipeline_tag": "text-classification" if stage == "reward" else "text-generation",
    }
    if spec["source"] == "hub":
        meta["base_model_revision"] = spec.get("revision")
    if lic == "other":
        meta["license_name"] = "opt-license"
    if label:
        meta["run_label"] = label
    return meta


CARD = """---
{front}---

# {title}

Trained by the hhalign pipeline, which reproduces and corrects *Improving LLM Safety and
Helpfulness using SFT and DPO: A Study on OPT-350M* (arXiv 2509.09055).
{label}

## Training

Base model: `{base}`{at}.
Data: {data_name}, {sft_rows} SFT rows and {dpo_rows}
preference pairs after the data stage ({rows_in} raw rows). This run: {trained}.

| hyperparameter | value |
| --- | --- |
{hyper}

## Evaluation

Table 1 rows (HmR, HpR, CAS with 95% intervals in brackets; the judge and thresholds are the
run's):

{evaluation}

The paper's claims that involve this model:

{verdicts}

## Limitations

A small model aligned on HH-RLHF; evaluated on {prompts} by the run's judges, whose scores it
may game (check the run's response audit before trusting a rate).
HH-RLHF's card warns that its harmlessness data are not meant for supervised training of
dialogue agents: this is a research artefact for studying alignment, not an assistant.
Licence: {licence_text}.

## Citation

```bibtex
{citation}
```
"""


def verdict_lines(claims: pd.DataFrame) -> str:
    """The claims that concern a model, one line each, with scope and flag."""
    return (
        "\n".join(
            f"- {r['statement']} ({r['protocol']}): **{r['verdict']}**"
            + (f" for {r['scope']}" if r.get("scope") not in (None, "n/a") else "")
            + (f"; flag: {r['flags']}" if isinstance(r.get("flags"), str) and r["flags"] else "")
            for _, r in claims.iterrows()
        )
        or "No claim of the paper concerns this model."
    )


def prompt_counts(table1: pd.DataFrame) -> str:
    """How many prompts the model was evaluated on, from its Table 1 rows."""
    if not len(table1) or not {"n_harmful", "n_helpful"} <= set(table1):
        return "the run's harmful and helpful prompts"
    return f"{int(table1['n_harmful'].iloc[0])} + {int(table1['n_helpful'].iloc[0])} prompts"


def card(
    meta: dict,
    title: str,
    section: dict,
    summary: dict,
    data: dict,
    table1: pd.DataFrame,
    claims: pd.DataFrame,
    licence_text: str,
    data_name: str = DATASET,
) -> str:
    """A model card: ``section`` the model's config section (every hyperparameter),
    ``summary`` its training summary, ``data`` the data stage's summary (``data_name``: what
    the data were), ``table1`` and ``claims`` its rows (may be empty)."""
    revision = meta.get("base_model_revision")
    return CARD.format(
        front=yaml.safe_dump(meta, sort_keys=False, allow_unicode=True),
        title=title,
        label=("**" + meta["run_label"] + "**") if meta.get("run_label") else "",
        base=meta["base_model"],
        at=f" at `{revision}`" if revision else "",
        data_name=data_name,
        **{k: data.get(k, "?") for k in ("sft_rows", "dpo_rows", "rows_in")},
        trained=", ".join(
            f"{k} {summary[k]}"
            for k in ("rows_trained", "steps", "epochs", "train_loss")
            if k in summary
        ),
        hyper="\n".join(f"| `{k}` | `{json.dumps(v)}` |" for k, v in sorted(section.items())),
        evaluation=markdown_table(table1) if len(table1) else "Not evaluated.",
        verdicts=verdict_lines(claims),
        prompts=prompt_counts(table1),
        licence_text=licence_text,
        citation=CITATION,
    )


def with_intervals(rows: pd.DataFrame) -> pd.DataFrame:
    """Table 1 rows for a card: each rate with its 95% interval in brackets."""
    out = rows[[c for c in ("protocol", "model", "seed") if c in rows]].copy()
    for m in ("HmR", "HpR", "CAS"):
        out[f"{m} [95% CI]"] = [
            f"{v:.1f} [{lo:.1f}, {hi:.1f}]"
            for v, lo, hi in zip(rows[m], rows[f"{m}_lo"], rows[f"{m}_hi"], strict=True)
        ]
    for col in ("n_harmful", "n_helpful"):
        if col in rows:
            out[col] = rows[col]
    return out


POLICY_TITLES = {"sft": "SFT", "dpo": "DPO (from Base)", "sft_dpo": "SFT+DPO (DPO from SFT)"}


def policy_section(plan, protocol: str, variant: str) -> tuple[dict, str]:
    """(config section, title) of a trained policy: SFT's, DPO's, or a method's (its
    section with the reward model it optimised, for RLOO)."""
    if variant not in METHODS:
        return plan.view(protocol, "sft" if variant == "sft" else "dpo"), POLICY_TITLES[variant]
    section = plan.view(protocol, "methods")[variant]
    title = f"{METHODS[variant].name} (from {'SFT' if section['start'] == 'sft' else 'Base'})"
    if variant == "rloo":
        judge = reward_is_judge(plan.config)
        section = {**section, "reward_is_judge": judge}
        if judge:
            title += f", reward model = judge {judge}: that judge was optimised directly"
    return section, title


def policy_cards(plan, protocol: str, run: str) -> list[dict]:
    """The card of a trained policy (and of its LoRA adapter, for a stage with LoRA)."""
    variant = split_run(run, plan.seeds)[0]
    section, title = policy_section(plan, protocol, variant)
    common = {
        "protocol": protocol,
        "run": run,
        "base": plan.view(protocol, "models")["policy"],
        "base_path": plan.policy_ref(protocol).path,
        "section": section,
        "summary": f"{plan.results}/train/{protocol}/{run}/summary.json",
    }
    cards = [
        {
            **common,
            "stage": variant,
            "title": f"{title}, {protocol} protocol, {run}",
            "out": f"{plan.results}/model_cards/{protocol}/{run}/README.md",
        }
    ]
    if variant != "sft" and section["lora"]["enabled"]:
        cards.append(
            {
                **common,
                "stage": f"{variant}_adapter" if variant in METHODS else "dpo_adapter",
                "title": f"LoRA adapter of {title}, {protocol} protocol, {run}",
                "out": f"{plan.results}/model_cards/{protocol}/{run}_adapter/README.md",
            }
        )
    return cards


def run_cards(plan) -> list[dict]:
    """One card per model a run (``plan``: an ``hhalign.plan.Plan``) trains: its SFT, DPO
    (merged and, with LoRA, its adapter) and SFT+DPO models, the reward model when the judge
    is trained, trained judges; each with what the card says and where it goes."""
    cards = [card for p, r in plan.trained() for card in policy_cards(plan, p, r)]
    reward = {
        "protocol": "all",
        "stage": "reward",
        "section": plan.config["reward_model"],
        "base": plan.config["reward_model"]["base"],
    }
    if plan.config["models"]["judge"]["source"] == "trained":
        cards.append(
            {
                **reward,
                "run": "reward",
                "title": "Reward model (the run's judge)",
                "base_path": plan.reward_base_ref().path,
                "summary": f"{plan.results}/train/reward/summary.json",
                "out": f"{plan.results}/model_cards/reward/README.md",
            }
        )
    for name, judge in plan.judges.items():
        if judge["train"]:
            cards.append(
                {
                    **reward,
                    "run": name,
                    "title": f"Judge {name} ({judge['kind']})",
                    "base": judge["model"],
                    "base_path": plan.judge_start_ref(name).path,
                    "summary": f"{plan.results}/train/judges/{name}/summary.json",
                    "out": f"{plan.results}/model_cards/judges/{name}/README.md",
                }
            )
    return cards
