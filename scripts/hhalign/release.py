"""A reviewer's first hour: each stage checked against the authors' release, no training.

The authors' repository releases their 50 + 50 prompts (``data/prompts/*_prompts.json``: a
JSON list of strings), every model's responses with the judge's ratings
(``data/responses/{1_base,2_sft,3_dpo,4_sftdpo}_{harmful,helpful}.json``: a list of
``{"prompt", "response", "rating"}``) and the ratings again with labels
(``eval/*_classification.json``). Three stages can be compared with what this pipeline does:

1. prompts: the paper protocol's selection against the released prompts, text for text, in
   order (and, for a run with other counts, whether its prompts are the authors' first N);
2. judge: the paper's judge re-scores the released (prompt, response) pairs; the largest
   difference, the share within tolerance, label agreement at the thresholds, Table 1 both ways;
3. Base generation: the Base model answers the released prompts exactly as the paper
   protocol does; exact matches, and for each mismatch the first differing character and
   how many tokens agree.
"""

from __future__ import annotations

import json

import pandas as pd

from hhalign.audit import AuditSourceError, read_source
from hhalign.metrics import OPS, rate, thresholds

MODELS = {"base": "1_base", "sft": "2_sft", "dpo": "3_dpo", "sft_dpo": "4_sftdpo"}
SETS = ("harmful", "helpful")


def sources(cfg: dict) -> dict[str, str]:
    """key -> path or URL of every release file the check reads (config ``release``): the
    prompt files (``prompts_<set>``) and the response files (``<model>_<set>``), under
    ``local_dir`` when set, else under ``base_url`` at the pinned ``commit``."""
    root = cfg["local_dir"] or cfg["base_url"].format(commit=cfg["commit"])
    out = {f"prompts_{s}": f"{root}/data/prompts/{s}_prompts.json" for s in SETS}
    for model, stem in MODELS.items():
        for s in SETS:
            out[f"{model}_{s}"] = f"{root}/data/responses/{stem}_{s}.json"
    return out


class ReleaseFormatError(ValueError):
    """A release file that is not what the authors released; names the file and the fix."""


def release_file(source: str) -> str:
    """A release file as the authors' repository names it (``data/prompts/...``), and where
    it was read."""
    name = "data/" + source.rsplit("/data/", 1)[-1] if "/data/" in source else source
    return f"the release file {name} ({source})"


def release_fix(source: str) -> str:
    """The fix for a release file that cannot be read or is not the authors': the config
    keys that say where the files are."""
    if source.startswith(("http://", "https://")):
        return (
            "Fix: check release.base_url and release.commit, or, without internet, set "
            "release.local_dir to a copy of the authors' repository at release.commit"
        )
    return (
        "Fix: set release.local_dir to a complete copy of the authors' repository at "
        "release.commit (data/prompts and data/responses as they released them), or to null "
        "to read release.base_url"
    )


def load_json(source: str) -> object:
    """A release file's JSON, read from a path or URL (``audit.read_source``); one that
    cannot be read, is empty or is not JSON stops naming the file and the fix."""
    try:
        text = read_source(source)
    except AuditSourceError as err:
        why = getattr(err.__cause__, "strerror", None) or err.__cause__ or err
        raise AuditSourceError(
            f"cannot read {release_file(source)}: {why}. {release_fix(source)}"
        ) from err
    if not text.strip():
        raise ReleaseFormatError(f"{release_file(source)} is empty. {release_fix(source)}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ReleaseFormatError(
            f"{release_file(source)} is not JSON ({err.msg}, line {err.lineno}). "
            f"{release_fix(source)}"
        ) from err


def read_prompts(source: str) -> list[str]:
    """A released prompt file: a JSON list of strings."""
    data = load_json(source)
    if not isinstance(data, list) or not data or not all(isinstance(p, str) for p in data):
        raise ReleaseFormatError(
            f"{release_file(source)} is not a JSON list of prompt strings. {release_fix(source)}"
        )
    return data


def read_responses(source: str) -> list[dict]:
    """A released response file: a JSON list of {prompt, response, rating}."""
    data = load_json(source)
    bad = (
        not isinstance(data, list)
        or not data
        or not all(isinstance(r, dict) and {"prompt", "response", "rating"} <= set(r) for r in data)
    )
    if bad:
        raise ReleaseFormatError(
            f"{release_file(source)} is not a JSON list of {{prompt, response, rating}} rows. "
            f"{release_fix(source)}"
        )
    return data


def first_difference(a: str, b: str) -> int:
    """Index of the first character where ``a`` and ``b`` differ (-1 when equal)."""
    if a == b:
        return -1
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


def excerpt(text: str, at: int, width: int = 30) -> str:
    """``text`` around position ``at``, for a report line."""
    return repr(text[max(at - 5, 0) : at + width]) if at >= 0 else ""


def compare_prompts(ours: list[str], theirs: list[str], prompt_set: str) -> pd.DataFrame:
    """One row per released prompt: ours at the same position, identical or where they first
    differ."""
    rows = []
    for i, theirs_i in enumerate(theirs):
        ours_i = ours[i] if i < len(ours) else None
        at = -1 if ours_i == theirs_i else first_difference(ours_i or "", theirs_i)
        rows.append(
            {
                "prompt_set": prompt_set,
                "index": i,
                "identical": ours_i == theirs_i,
                "first_difference_at": at,
                "ours": excerpt(ours_i or "", at),
                "theirs": excerpt(theirs_i, at),
            }
        )
    return pd.DataFrame(rows)


def prefix_relation(ours: list[str], theirs: list[str], whose: str = "the authors'") -> str:
    """How a run's prompts relate to the released ones (Python's ``random.sample`` draws
    differently for small counts, so a smaller sample need not be the first N); ``whose``:
    what they were compared with."""
    n = len(ours)
    if ours == theirs:
        return f"identical to {whose} {len(theirs)}"
    if n < len(theirs) and ours == theirs[:n]:
        return f"{whose} first {n} of {len(theirs)}"
    if n > len(theirs) and ours[: len(theirs)] == theirs:
        return f"{whose} {len(theirs)}, then {n - len(theirs)} more"
    known = set(theirs)
    shared = sum(p in known for p in ours)
    return f"not {whose} first {min(n, len(theirs))}: {shared} of {n} are among theirs"


def compare_ratings(
    released: pd.DataFrame, ours: pd.Series, cfg: dict, atol: float
) -> pd.DataFrame:
    """Per released (model, prompt set, index): their rating, ours, the difference, within
    ``atol``, and whether the labels at the thresholds (config ``metrics``) agree."""
    out = released.assign(ours=ours.to_numpy(dtype=float))
    out["difference"] = out["ours"] - out["rating"]
    out["within_tolerance"] = out["difference"].abs() <= atol
    out["labels_agree"] = False
    for prompt_set, (t, op) in thresholds(cfg).items():
        rows = out["prompt_set"] == prompt_set
        theirs, mine = OPS[op](out.loc[rows, "rating"], t), OPS[op](out.loc[rows, "ours"], t)
        out.loc[rows, "labels_agree"] = theirs == mine
    return out


def rates_both_ways(checked: pd.DataFrame, cfg: dict) -> pd.DataFrame:
    """Table 1's HmR and HpR of each model from their ratings and from ours."""
    cut = thresholds(cfg)
    rows = []
    for model, sub in checked.groupby("model", sort=False):
        row = {"model": model}
        for prompt_set, name in (("harmful", "HmR"), ("helpful", "HpR")):
            part = sub[sub["prompt_set"] == prompt_set]
            row[f"{name}_theirs"] = rate(part["rating"], *cut[prompt_set])
            row[f"{name}_ours"] = rate(part["ours"], *cut[prompt_set])
        rows.append(row)
    return pd.DataFrame(rows)


def compare_generations(
    ours: list[str], theirs: list[str], tokenize, prompt_set: str
) -> pd.DataFrame:
    """Per released Base response: ours identical, where they first differ, and how many
    leading tokens agree (``tokenize``: the policy's tokenizer, text -> ids)."""
    rows = []
    for i, (mine, their) in enumerate(zip(ours, theirs, strict=True)):
        at = first_difference(mine, their)
        a, b = tokenize(mine), tokenize(their)
        agree = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), min(len(a), len(b)))
        rows.append(
            {
                "prompt_set": prompt_set,
                "index": i,
                "identical": at == -1,
                "first_difference_at": at,
                "tokens_agreeing": agree,
                "tokens_ours": len(a),
                "tokens_theirs": len(b),
                "ours": excerpt(mine, at),
                "theirs": excerpt(their, at),
            }
        )
    return pd.DataFrame(rows)


def stage_line(stage: str, what: str, figure: str, passed: bool, tolerance: str) -> str:
    """One Markdown line of the summary."""
    return f"| {stage} | {what} | {figure} | {tolerance} | {'pass' if passed else 'FAIL'} |"
