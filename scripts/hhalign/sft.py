"""Supervised fine-tuning with TRL's SFTTrainer: the SFT set and the trainer config."""

from __future__ import annotations

import pandas as pd
from datasets import Dataset
from trl import SFTConfig, SFTTrainer

from hhalign.models import InputError, check_length
from hhalign.train import (
    TrainingRun,
    nonempty,
    note_rows,
    run_training,
    save,
    trainer_kwargs,
)


def sft_dataset(df: pd.DataFrame, loss: str, max_samples: int | None) -> Dataset:
    """The SFT set as TRL expects it.

    ``full_text`` (paper): ``{"text": chosen}``, loss on every token.
    ``completion_only`` (corrected): ``{"prompt", "completion"}``, prompt tokens masked.
    """
    df = nonempty(df, "SFT")[:max_samples]
    if loss == "full_text":
        return Dataset.from_dict({"text": df["text"].tolist()})
    if loss == "completion_only":
        return Dataset.from_dict(
            {"prompt": df["prompt"].tolist(), "completion": df["completion"].tolist()}
        )
    raise InputError(f"unknown sft.loss {loss!r} (full_text or completion_only)")


def sft_trainer(run: TrainingRun, model, tokenizer) -> SFTTrainer:
    """TRL's SFTTrainer for ``run.section``. Packing and padding-free batches stay off:
    under SDPA or eager attention OPT's mask ignores position_ids, so packed examples
    would attend to each other."""
    section = run.section
    check_length(model, section["max_length"], "sft.max_length")
    dataset = sft_dataset(pd.read_parquet(run.data), section["loss"], section["max_train_samples"])
    args = SFTConfig(
        **trainer_kwargs(section, run.checkpoint_dir, run.processes, run.report_to),
        dataset_text_field="text",
        completion_only_loss=section["loss"] == "completion_only",
        packing=False,
        padding_free=False,
        shuffle_dataset=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    return note_rows(
        trainer,
        len(dataset),
        f"no completion token left after truncation to sft.max_length={section['max_length']} "
        "(the prompt alone fills it)",
    )


def train_sft(run: TrainingRun) -> tuple[SFTTrainer, dict]:
    """Fine-tune ``run.start`` on the SFT set; save the model and tokenizer to ``run.out_dir``.

    ``sft.loss`` picks the protocol's loss: ``full_text`` trains on the whole chosen
    dialogue (the authors' ``{"text": chosen}``), ``completion_only`` masks the prompt.
    """
    trainer, tokenizer, summary = run_training(run, "causal", sft_trainer)
    save(trainer, tokenizer, run.out_dir)
    return trainer, {
        "stage": "sft",
        "loss_mode": run.section["loss"],
        "start": run.start,
        **summary,
    }
