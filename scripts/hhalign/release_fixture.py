"""The release check's offline fixture: a copy of the authors' repository layout built from
a run's own paper protocol (its prompts, every model's responses and its judge's ratings).

With ``release.fixture`` on (the tiny preset) and no ``release.local_dir``, the check reads
this copy (rule build_release_fixture writes it under ``results_dir``), so ``make
check-release RUN=tiny`` runs offline with no extra step. A faithful copy of the run passes
every stage exactly; what it checks is the pipeline's own consistency, not the paper, and
the summary says so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hhalign.release import MODELS, SETS, sources

FIXTURE_DIR = "release_fixture"


def fixture_dir(results: str) -> str:
    """Where a run's fixture lives."""
    return f"{results}/{FIXTURE_DIR}"


def resolve(release: dict, results: str) -> dict:
    """``release`` as the check reads it: with ``fixture`` on and no ``local_dir``,
    ``local_dir`` is the run's fixture; a configured ``local_dir`` wins, and ``fixture`` then
    reads false (after this, ``fixture`` means "the check reads the run's own copy")."""
    if release.get("fixture") and not release.get("local_dir"):
        return {**release, "local_dir": fixture_dir(results)}
    return {**release, "fixture": False}


def fixture_files(release: dict) -> list[str]:
    """The fixture's files when the check reads them (the check rules' inputs), else []."""
    return list(sources(release).values()) if release.get("fixture") else []


def describe(release: dict) -> tuple[str, str]:
    """(what the check compared with, for the summary's title; whose prompts, for its
    lines): the authors' repository at the pinned commit, a local copy of it, or the run's
    own fixture (``release`` as ``resolve`` returns it)."""
    commit = release["commit"][:12]
    if release.get("fixture"):
        return (
            f"a fixture built from this run's own paper protocol ({release['local_dir']}; "
            "not the authors' release: this checks the pipeline, not the paper)",
            "the fixture's",
        )
    if release.get("local_dir"):
        return (
            f"a local copy ({release['local_dir']}) of the authors' repository at {commit}",
            "the local copy's",
        )
    return f"the authors' repository at {commit}", "the authors'"


def release_rows(scores: pd.DataFrame) -> list[dict]:
    """A released response file's rows from a score table (prompt, response, score)."""
    return [
        {"prompt": p, "response": r, "rating": float(s)}
        for p, r, s in zip(scores["prompt"], scores["response"], scores["score"], strict=True)
    ]


def write_fixture(prompts: dict[str, list[str]], scores: dict[str, pd.DataFrame], out: str) -> None:
    """Write the authors' layout under ``out``: ``prompts[set]`` (prompt texts) and
    ``scores[f"{model}_{set}"]`` (a score table per model of ``release.MODELS``)."""
    files = sources({"local_dir": out, "base_url": "", "commit": ""})
    for prompt_set in SETS:
        path = Path(files[f"prompts_{prompt_set}"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(prompts[prompt_set], indent=2))
        for model in MODELS:
            key = f"{model}_{prompt_set}"
            path = Path(files[key])
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(release_rows(scores[key]), indent=2))
