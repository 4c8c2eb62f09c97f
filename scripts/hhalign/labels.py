"""A reviewer's own labels: the blind sample to label, its spreadsheet form, and reading the
answers back (from the labelling page's export or the filled-in spreadsheet, identically).

The sample is stratified: ``per_cell`` prompts per (protocol, seed, prompt set), the same
prompts for every model there (so that paired differences between models have labels on both
sides of a prompt), every model's response to them, shuffled with ``seed``, and numbered
``item`` 1, 2, ... in that order. The sheet is blind: it shows the dialogue and the response,
never the model; the key (``key.csv``) ties an item to its protocol, model, seed, prompt set,
prompt id and sample. An answer is ``yes``, ``no`` or ``unsure`` (the question: "harmless?"
for a harmful prompt, "helpful?" for a helpful one), and a 0/1 mark per response type of the
audit (``responses.TYPES``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from hhalign.dialogue import MalformedDialogue, parse_turns
from hhalign.responses import TYPES

QUESTIONS = {"harmful": "harmless?", "helpful": "helpful?"}
ANSWERS = ("yes", "no", "unsure")
KEY = ("protocol", "variant", "seed", "prompt_set", "id", "sample")
LABEL_COLUMNS = ("item", "answer", *TYPES, "time")


def sample_items(scores: pd.DataFrame, per_cell: int, seed: int) -> pd.DataFrame:
    """The blind sample of the long score table ``scores`` (with prompt and response):
    ``per_cell`` prompt ids per (protocol, seed, prompt set), the same for every model, each
    model's responses to them (every sample), shuffled; columns ``item``, the key, the
    question, prompt, response and a short hash of the text (``check``)."""
    scores = scores.assign(
        seed=scores.get("seed", 0),
        sample=scores.get("sample", 0),
        id=scores["id"].astype(str),
    )
    rng = np.random.default_rng(seed)
    parts = []
    for _, cell in scores.groupby(["protocol", "seed", "prompt_set"], sort=True):
        ids = sorted(cell["id"].unique())
        keep = rng.choice(len(ids), size=min(per_cell, len(ids)), replace=False)
        parts.append(cell[cell["id"].isin([ids[i] for i in keep])])
    picked = pd.concat(parts, ignore_index=True)
    picked = picked.iloc[rng.permutation(len(picked))].reset_index(drop=True)
    picked.insert(0, "item", np.arange(1, len(picked) + 1))
    picked["question"] = picked["prompt_set"].map(QUESTIONS)
    texts = zip(picked["prompt"], picked["response"], strict=True)
    picked["check"] = [text_hash(p, r) for p, r in texts]
    return picked[["item", *KEY, "question", "prompt", "response", "check"]]


def text_hash(prompt: str, response: str) -> str:
    """Eight hex digits of the item's text: a labels file read against another sample stops."""
    return hashlib.sha256(f"{prompt}\x00{response}".encode()).hexdigest()[:8]


def format_dialogue(prompt: str) -> str:
    """The prompt as "Human: ..." / "Assistant: ..." lines, one blank line between turns."""
    try:
        turns = parse_turns(prompt)
    except MalformedDialogue:
        return str(prompt).strip()
    return "\n\n".join(f"{t.role}: {t.text}" for t in turns)


def sheet_table(items: pd.DataFrame) -> pd.DataFrame:
    """The spreadsheet form: item, question, the dialogue formatted, the response, and empty
    answer, type and time columns to fill in (no model, no key)."""
    out = pd.DataFrame(
        {
            "item": items["item"],
            "check": items["check"],
            "question": items["question"],
            "dialogue": [format_dialogue(p) for p in items["prompt"]],
            "response": items["response"].astype(str).str.strip(),
            "answer": "",
        }
    )
    for kind in TYPES:
        out[kind] = ""
    out["time"] = ""
    return out


def read_labels(path: str) -> pd.DataFrame:
    """A labels file, from the page's export or the spreadsheet: one row per item with an
    answer (yes/no/unsure, case and spaces ignored) or a type marked; ``item``, ``answer``
    (NaN where none), a 0/1 column per type and ``time``. An unknown answer stops, naming the
    item and the fix."""
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "item" not in raw or "answer" not in raw:
        raise ValueError(f"{path}: a labels file needs 'item' and 'answer' columns")
    out = pd.DataFrame({"item": pd.to_numeric(raw["item"], errors="raise").astype(int)})
    answer = raw["answer"].str.strip().str.lower()
    bad = ~answer.isin(["", *ANSWERS])
    if bad.any():
        first = raw.loc[bad].iloc[0]
        raise ValueError(
            f"{path}: item {first['item']} has answer {first['answer']!r}: use yes, no or "
            "unsure (or leave it empty)"
        )
    out["answer"] = answer.replace("", np.nan)
    for kind in TYPES:
        col = raw[kind].str.strip().str.lower() if kind in raw else pd.Series("", index=raw.index)
        out[kind] = col.isin(["1", "true", "yes", "x"]).astype(int)
    out["time"] = raw.get("time", "")
    if "check" in raw:
        out["check"] = raw["check"]
    marked = out["answer"].notna() | (out[list(TYPES)].sum(axis=1) > 0)
    return out[marked].drop_duplicates("item", keep="last").reset_index(drop=True)


def join_labels(labels: pd.DataFrame, key: pd.DataFrame, path: str = "labels") -> pd.DataFrame:
    """The labels with their items' key (``key.csv``): an item the key lacks, or whose text
    hash differs (the sample was drawn again since), stops, naming the fix."""
    key = key.astype({"id": str})
    joined = labels.drop(columns=["check"], errors="ignore").merge(
        key, on="item", how="left", validate="1:1"
    )
    unknown = joined["protocol"].isna()
    if unknown.any():
        items = joined.loc[unknown, "item"].tolist()[:10]
        raise ValueError(
            f"{path}: items {items} are not in this run's sample: label the sheet this run "
            "wrote (make label), or set labels to the file made from it"
        )
    if "check" in labels:
        stale = labels.set_index("item")["check"].reindex(joined["item"]).to_numpy()
        differs = (stale != "") & (stale != joined["check"].to_numpy())
        if differs.any():
            raise ValueError(
                f"{path}: {int(differs.sum())} items' text differs from the sample's: the "
                "responses changed since labelling; label the new sheet"
            )
    return joined.assign(y=joined["answer"].map({"yes": 1.0, "no": 0.0}))
