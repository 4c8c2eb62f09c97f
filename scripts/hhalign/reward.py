"""Reward-model training with TRL's RewardTrainer (the offline world's judge)."""

from __future__ import annotations

import pandas as pd
from trl import RewardConfig, RewardTrainer

from hhalign.models import load_model, load_tokenizer
from hhalign.scoring import score_pairs
from hhalign.train import (
    fit,
    reward_dataset,
    seed_everything,
    trainer_kwargs,
)


def split_held_out(df: pd.DataFrame, fraction: float, seed: int):
    """Split preference pairs into (train, held-out) by a seeded shuffle."""
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_eval = round(len(shuffled) * fraction)
    return shuffled[n_eval:], shuffled[:n_eval]


def pairwise_accuracy(
    model, tokenizer, df: pd.DataFrame, batch_size: int, max_length: int
) -> float:
    """Share of pairs whose chosen response scores above the rejected one."""
    prompts = df["prompt"].tolist()
    chosen, _ = score_pairs(
        model, tokenizer, prompts, df["chosen"].tolist(), batch_size, max_length
    )
    rejected, _ = score_pairs(
        model, tokenizer, prompts, df["rejected"].tolist(), batch_size, max_length
    )
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / max(len(df), 1)


def train_reward(
    section: dict,
    data_path: str,
    start: str,
    revision: str | None,
    out_dir: str,
    checkpoint_dir: str,
    safetensors_only: bool = True,
    processes: int = 1,
    stop_after: int | None = None,
) -> tuple[RewardTrainer, dict]:
    """Train a one-output sequence classifier on the preference pairs.

    Pairs are tokenized as (prompt, response) text pairs, the same call that
    scores responses later, and a seeded held-out share measures accuracy.
    """
    seed_everything(section["seed"])
    tokenizer = load_tokenizer(start, revision)
    model = load_model(start, revision, "reward", safetensors_only)
    model.config.pad_token_id = tokenizer.pad_token_id
    train_df, held_out = split_held_out(
        pd.read_parquet(data_path), section["held_out_fraction"], section["seed"]
    )
    dataset = reward_dataset(
        train_df, tokenizer, section["max_length"], section["max_train_samples"]
    )
    args = RewardConfig(
        **trainer_kwargs(section, checkpoint_dir, processes),
        center_rewards_coefficient=section["center_rewards_coefficient"],
    )
    trainer = RewardTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer
    )
    summary = fit(trainer, checkpoint_dir, stop_after)
    trainer.save_model(out_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out_dir)
    accuracy = pairwise_accuracy(
        trainer.model,
        tokenizer,
        held_out,
        section["per_device_train_batch_size"] * 4,
        section["max_length"],
    )
    return trainer, {
        "stage": "reward_model",
        "start": start,
        "held_out_pairs": len(held_out),
        "held_out_accuracy": accuracy,
        **summary,
    }
