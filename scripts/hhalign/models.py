"""Loading models and tokenizers: safetensors, no remote code, clear errors.

Kept apart from the training glue so that generation and scoring jobs import
only transformers (a job's start-up time is paid 16 times per protocol).
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
)


class TrainingInputError(ValueError):
    """The inputs of a training stage cannot work; the message says why and what to do."""


def _from_pretrained(loader: Any, path: str, revision: str | None, **kwargs: Any) -> Any:
    """Call a from_pretrained, turning a missing or unreadable model into a clear error."""
    try:
        return loader(path, revision=revision, trust_remote_code=False, **kwargs)
    except (OSError, ValueError) as err:
        raise TrainingInputError(
            f"cannot load the starting model {path!r} (revision {revision}): {err}\n"
            "Check the path or Hub id; if the repository has only .bin weights, pin a revision "
            "with safetensors or set models.safetensors_only: false."
        ) from err


def load_model(
    path: str,
    revision: str | None,
    kind: str,
    safetensors_only: bool = True,
    dtype: str = "float32",
) -> PreTrainedModel:
    """Load a causal LM (kind="causal") or a one-output classifier (kind="reward").

    Remote code is never run; with ``safetensors_only`` pickled weights are refused.
    """
    auto = AutoModelForCausalLM if kind == "causal" else AutoModelForSequenceClassification
    extra = {"num_labels": 1} if kind == "reward" else {}
    use_safetensors = True if safetensors_only else None
    return _from_pretrained(
        auto.from_pretrained,
        path,
        revision,
        use_safetensors=use_safetensors,
        dtype=getattr(torch, dtype),
        **extra,
    )


def load_tokenizer(path: str, revision: str | None = None) -> Any:
    """Load a tokenizer without remote code; give it a pad token if it has none."""
    tok = _from_pretrained(AutoTokenizer.from_pretrained, path, revision)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
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
