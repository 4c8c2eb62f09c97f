"""Supervised fine-tuning with TRL's SFTTrainer."""

from __future__ import annotations

import pandas as pd
from trl import SFTConfig, SFTTrainer

from hhalign.models import check_length, load_model, load_tokenizer
from hhalign.train import (
    fit,
    seed_everything,
    sft_dataset,
    trainer_kwargs,
    training_backends,
)


def train_sft(
    section: dict,
    data_path: str,
    start: str,
    revision: str | None,
    out_dir: str,
    checkpoint_dir: str,
    safetensors_only: bool = True,
    processes: int = 1,
    stop_after: int | None = None,
) -> tuple[SFTTrainer, dict]:
    """Fine-tune ``start`` on the SFT set and save the model and tokenizer to ``out_dir``.

    ``section["loss"]`` picks the protocol's loss: ``full_text`` trains on the
    whole chosen dialogue (the authors' ``{"text": chosen}``), ``completion_only``
    masks the prompt tokens. Packing and padding-free batches stay off: under
    SDPA or eager attention OPT's mask ignores position_ids, so packed examples
    would attend to each other.
    """
    seed_everything(section["seed"])
    training_backends()
    tokenizer = load_tokenizer(start, revision)
    model = load_model(start, revision, "causal", safetensors_only)
    check_length(model, section["max_length"], "sft.max_length")
    dataset = sft_dataset(pd.read_parquet(data_path), section["loss"], section["max_train_samples"])
    args = SFTConfig(
        **trainer_kwargs(section, checkpoint_dir, processes),
        dataset_text_field="text",
        completion_only_loss=section["loss"] == "completion_only",
        packing=False,
        padding_free=False,
        shuffle_dataset=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    summary = fit(trainer, checkpoint_dir, stop_after)
    trainer.save_model(out_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out_dir)
    return trainer, {"stage": "sft", "loss_mode": section["loss"], "start": start, **summary}
