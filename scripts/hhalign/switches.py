"""Options added after runs existed, each at the value that leaves a run as it was.

A switch at its off value is left out of a training job's section (``plan.section_json``), so
adding one to the config retrains nothing that exists; the training code reads an absent
switch as off (``HOST_SWITCHES``' values).
"""

from __future__ import annotations

# The host's work in a training step (docs/performance.md; the suite's step_overhead stage).
HOST_SWITCHES = {
    # transformers checks every micro-batch's loss for NaN/inf: a host sync on CUDA.
    "logging_nan_inf_filter": True,
    # the real tokens of every micro-batch counted (num_input_tokens_seen): a sync on CUDA.
    "include_num_input_tokens_seen": "non_padding",
    "dataloader_num_workers": 0,  # collation in the training process
    "adamw_foreach": False,  # torch's choice: a per-tensor loop on CPU, foreach on CUDA
}

SWITCHES_OFF = {
    "pad_to_multiple_of": None,
    "torch_compile": False,
    "torch_compile_mode": None,
    "clean_pairs": False,
    **HOST_SWITCHES,
}
