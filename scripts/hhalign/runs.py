"""Names every stage shares, in a leaf module that imports nothing of the package: the
prompt sets, the pseudo-model of the dataset's chosen answers, and run directory names.

Kept apart so that reading a score file or a run name makes no stage depend on the config
validation, the run plan or the judges (``hhalign.deps``: a module a rule imports is code it
reruns for).
"""

from __future__ import annotations

import re

PROMPT_SETS = ("harmful", "helpful")
CHOSEN = "chosen"  # the dataset's chosen answers, scored like a model's responses


def run_name(variant: str, seed: int, seeds: list[int]) -> str:
    """Directory name of ``variant`` trained with ``seed``: the variant itself for Base (not
    trained) and for the first of ``seeds`` (a one-seed run keeps its paths), else
    ``{variant}_seed{seed}``."""
    return variant if variant == "base" or seed == seeds[0] else f"{variant}_seed{seed}"


def split_run(name: str, seeds: list[int]) -> tuple[str, int]:
    """(variant, seed) of a run directory name (the inverse of ``run_name``)."""
    match = re.fullmatch(r"(.+)_seed(\d+)", name)
    return (match[1], int(match[2])) if match else (name, seeds[0])
