"""Loading models and tokenizers: safetensors, no remote code, clear errors.

Kept apart from the training glue so that generation and scoring jobs import
only transformers (a job's start-up time is paid 16 times per protocol).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)

from hhalign.hub import cached_commit, explain, is_hub_id


class InputError(ValueError):
    """A model, training set or setting a stage cannot use (training and evaluation loads
    alike); the message says why and what to do."""


log = logging.getLogger("hhalign.models")
NO_SAFETENSORS = "cannot be loaded with `safetensors`"


def _from_pretrained(loader: Any, path: str, revision: str | None, **kwargs: Any) -> Any:
    """Call a from_pretrained, turning a missing or unreadable model into a clear error."""
    try:
        return loader(path, revision=revision, trust_remote_code=False, **kwargs)
    except (OSError, ValueError) as err:
        if NO_SAFETENSORS in str(err):
            raise InputError(
                f"{path} at revision {revision} holds no safetensors weights and "
                "models.safetensors_only refuses pickled ones. Fix: pin a revision that has "
                "model.safetensors, or set allow_pickle: true for this model to read its .bin "
                "through torch's weights-only unpickler (no code is run)"
            ) from err
        if is_hub_id(path):
            raise explain(err, f"model {path}@{revision}", "model", revision) from err
        raise InputError(
            f"cannot load the model {path!r} (revision {revision}): {err}\n"
            "Check the path: a directory written by save_pretrained, or a Hub id."
        ) from err


def weights_file(path: str, commit: str | None) -> str:
    """Which weight file a loaded model came from: a local file, or the Hub cache's."""
    from huggingface_hub import try_to_load_from_cache

    for name in (
        "model.safetensors",
        "model.safetensors.index.json",
        "pytorch_model.bin",
        "pytorch_model.bin.index.json",
    ):
        if not is_hub_id(path):
            if (Path(path) / name).is_file():
                return name
        elif isinstance(try_to_load_from_cache(path, name, revision=commit), str):
            return name
    return "unknown"


def describe(model: PreTrainedModel, path: str, revision: str | None) -> dict:
    """Log what was loaded (the commit a revision resolved to, the weight file) and return it.

    Pickled weights are read by transformers through torch's weights-only unpickler
    (``torch.load(weights_only=True)``), which rebuilds tensors and runs no code; the
    warning names the file and its commit so a reviewer sees it in the job's log.
    """
    commit = cached_commit(path, revision, "config.json") if is_hub_id(path) else None
    info = {"model": path, "revision": revision, "commit": commit}
    info["weights"] = weights_file(path, commit)
    log.info("loaded %s (revision %s, commit %s) from %s", path, revision, commit, info["weights"])
    if info["weights"].startswith("pytorch_model"):
        log.warning(
            "%s@%s: read pickled weights %s through torch's weights-only unpickler",
            path,
            commit or revision,
            info["weights"],
        )
    return info


def load_model(
    path: str,
    revision: str | None,
    kind: str,
    safetensors_only: bool = True,
    dtype: str = "float32",
) -> PreTrainedModel:
    """Load a causal LM (kind="causal") or a one-output classifier (kind="reward").

    Remote code is never run; with ``safetensors_only`` pickled weights are refused,
    without it they are read through torch's weights-only unpickler. Transformers'
    background conversion to safetensors (which asks the Hub) is switched off.
    """
    os.environ.setdefault("DISABLE_SAFETENSORS_CONVERSION", "1")
    auto = AutoModelForCausalLM if kind == "causal" else AutoModelForSequenceClassification
    extra = {"num_labels": 1} if kind == "reward" else {}
    use_safetensors = True if safetensors_only else None
    model = _from_pretrained(
        auto.from_pretrained,
        path,
        revision,
        use_safetensors=use_safetensors,
        dtype=getattr(torch, dtype),
        **extra,
    )
    describe(model, path, revision)
    return model


def position_limit(model: PreTrainedModel) -> int | None:
    """The longest sequence the model's positions cover (None when its config has no limit)."""
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(model.config, key, None)
        if isinstance(value, int):
            return value
    return None


def check_length(model: PreTrainedModel, needed: int, key: str, detail: str = "") -> None:
    """Fail at start-up, naming the config key and the limit, when ``needed`` positions do not
    fit the loaded model (instead of an indexing error mid-run)."""
    limit = position_limit(model)
    if limit is not None and needed > limit:
        raise InputError(
            f"{key}: {needed} tokens{detail} exceed the {limit} positions of "
            f"{type(model).__name__} (its config's position limit). Fix: lower {key} to at "
            f"most {limit}, or use a model with longer positions"
        )


def load_tokenizer(path: str, revision: str | None = None) -> Any:
    """Load a tokenizer without remote code; give it a pad token if it has none."""
    tok = _from_pretrained(AutoTokenizer.from_pretrained, path, revision)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    # transformers warns "longer than the specified maximum sequence length ... indexing
    # errors" when the pipeline measures a pair before cutting it: the pipeline cuts such
    # inputs itself and counts them (truncated_input, rows_at_max_length) instead.
    tok.deprecation_warnings["sequence-length-is-longer-than-the-specified-maximum"] = True
    return tok


def best_device() -> str:
    """The device evaluation and benchmarks run on: cuda where a GPU is visible, else cpu."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_for_inference(
    path: str, revision: str | None, kind: str, safetensors_only: bool, dtype: str
) -> tuple[PreTrainedModel, Any, str]:
    """(model on the best device, its tokenizer, the device) for an evaluation job."""
    device = best_device()
    model = load_model(path, revision, kind, safetensors_only, dtype).to(device)
    return model, load_tokenizer(path, revision), device
