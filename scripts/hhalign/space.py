"""Disk space a run's plan needs, checked once at start-up against what results_dir has.

An estimate, on the safe side: every trained model is written whole (SFT models and
the merged DPO models; LoRA adapters are small), and one job at a time holds
``save_total_limit`` checkpoints of full weights plus AdamW's two moments (3x the
weights). Checkpoints are removed when their job finishes.
"""

from __future__ import annotations

from pathlib import Path

from hhalign.failures import existing_parent
from hhalign.hub import is_hub_id

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
ADAMW_COPIES = 3  # weights + first and second moments, same dtype


def weight_bytes(path: str, revision: str | None) -> int | None:
    """Bytes of a model's weights where they are on disk already (a local directory, or
    the Hugging Face cache at ``revision``); None when not known yet."""
    local = Path(path)
    if local.is_dir():
        files = list(local.glob("*.safetensors")) or list(local.glob("pytorch_model*.bin"))
        return sum(p.stat().st_size for p in files) or None
    from huggingface_hub import try_to_load_from_cache

    if not is_hub_id(path):
        return None

    for name in WEIGHT_FILES:
        found = try_to_load_from_cache(path, name, revision=revision)
        if isinstance(found, str):
            return Path(found).stat().st_size
    return None


def plan_bytes(trained: list[int], checkpointed: list[int], save_total_limit: int) -> int:
    """Bytes a plan writes at its peak: every trained model's weights (``trained``: one
    entry per model written whole) plus the checkpoints of the largest job that keeps
    full optimizer states (``checkpointed``: the weights of each such job)."""
    peak = max(checkpointed, default=0) * ADAMW_COPIES * save_total_limit
    return sum(trained) + peak


def space_warning(free: int, needed: int | None, results_dir: str) -> str | None:
    """A warning when ``free`` bytes under results_dir are fewer than ``needed``."""
    if needed is None or free >= needed:
        return None
    return (
        f"results_dir {results_dir} has {free / 1e9:.1f} GB free, and this run's plan writes "
        f"about {needed / 1e9:.1f} GB (trained models, plus one job's checkpoints). Free space "
        f"there or set results_dir on a larger disk before a job fails on a full disk"
    )


def check_plan(plan) -> tuple[str, str] | None:
    """("warning" | "info", message) about the free space under a run's results_dir
    (``plan``: an ``hhalign.plan.Plan``), or None when there is room. Weights not on disk
    yet (a first run from the Hub, a tiny run) make the estimate impossible: "info"."""
    import shutil

    trained, checkpointed = [], []
    for p, r in plan.trained():
        ref = plan.policy_ref(p)
        size = weight_bytes(ref.path, ref.revision)
        if size is None:
            return "info", f"disk check skipped: {ref.path}'s weights are not on disk yet"
        trained.append(size)
        full = r.split("_seed")[0] == "sft" or not plan.view(p, "dpo")["lora"]["enabled"]
        if full:
            checkpointed.append(size)
    limit = max(plan.config[s]["save_total_limit"] for s in ("sft", "dpo"))
    free = shutil.disk_usage(existing_parent(plan.results)).free
    warning = space_warning(free, plan_bytes(trained, checkpointed, limit), plan.results)
    return ("warning", warning) if warning else None
