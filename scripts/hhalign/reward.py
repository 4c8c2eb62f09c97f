"""Reward-model training with TRL's RewardTrainer (the offline world's judge)."""

from __future__ import annotations

import pandas as pd
from datasets import Dataset
from trl import RewardConfig, RewardTrainer

from hhalign.judges import KINDS, clip, conversation, render, score_rows
from hhalign.scoring import score_pairs
from hhalign.train import TrainingRun, nonempty, note_rows, run_training, save, trainer_kwargs


def split_held_out(df: pd.DataFrame, fraction: float, seed: int):
    """Split preference pairs into (train, held-out) by a seeded shuffle."""
    shuffled = df.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    n_eval = round(len(shuffled) * fraction)
    return shuffled[n_eval:], shuffled[:n_eval]


def reward_dataset(
    df: pd.DataFrame, tokenizer, max_length: int, max_samples: int | None, kind: str = "pair"
):
    """Preference pairs tokenized exactly as the judge will read responses: ``pair``, as
    (prompt, response) text pairs; ``chat``, as the conversation through the chat template
    (its last ``max_length`` tokens)."""
    df = nonempty(df, "reward model")[:max_samples]

    def encode(prompts: list[str], responses: list[str]) -> list[list[int]]:
        if KINDS[kind].chat_template:
            return [
                clip(render(tokenizer, conversation(p, r)), max_length)[0]
                for p, r in zip(prompts, responses, strict=True)
            ]
        return tokenizer(prompts, responses, truncation=True, max_length=max_length)["input_ids"]

    prompts = df["prompt"].tolist()
    return Dataset.from_dict(
        {
            "chosen_ids": encode(prompts, df["chosen"].tolist()),
            "rejected_ids": encode(prompts, df["rejected"].tolist()),
        }
    )


def pairwise_accuracy(
    model, tokenizer, df: pd.DataFrame, batch_size: int, max_length: int, kind: str = "pair"
) -> float:
    """Share of pairs whose chosen response scores above the rejected one."""
    prompts = df["prompt"].tolist()
    if KINDS[kind].chat_template:
        cfg = {"batch_size": batch_size, "max_batch_tokens": None, "max_length": max_length}
        chosen, rejected = (
            score_rows(
                model,
                tokenizer,
                kind,
                [
                    {"id": str(i), "prompt": p, "response": r}
                    for i, (p, r) in enumerate(zip(prompts, df[side], strict=True))
                ],
                cfg,
            )["score"].tolist()
            for side in ("chosen", "rejected")
        )
    else:
        chosen, rejected = (
            score_pairs(model, tokenizer, prompts, df[side].tolist(), batch_size, max_length)[0]
            for side in ("chosen", "rejected")
        )
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / max(len(df), 1)


def held_out_split(run: TrainingRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, held-out) pairs of ``run``: a seeded share is kept aside to measure accuracy."""
    section = run.section
    return split_held_out(pd.read_parquet(run.data), section["held_out_fraction"], section["seed"])


def reward_trainer(run: TrainingRun, model, tokenizer) -> RewardTrainer:
    """TRL's RewardTrainer for ``run.section`` on the training share of the pairs."""
    section = run.section
    model.config.pad_token_id = tokenizer.pad_token_id
    dataset = reward_dataset(
        held_out_split(run)[0],
        tokenizer,
        section["max_length"],
        section["max_train_samples"],
        run.judge_kind,
    )
    args = RewardConfig(
        **trainer_kwargs(section, run.checkpoint_dir, run.processes, run.report_to),
        center_rewards_coefficient=section["center_rewards_coefficient"],
    )
    trainer = RewardTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer
    )
    return note_rows(
        trainer,
        len(dataset),
        f"chosen or rejected longer than reward_model.max_length={section['max_length']}",
    )


def train_reward(run: TrainingRun) -> tuple[RewardTrainer, dict]:
    """Train a one-output sequence classifier on the preference pairs.

    Pairs are tokenized as (prompt, response) text pairs, the same call that
    scores responses later, and a seeded held-out share measures accuracy.
    """
    section = run.section
    trainer, tokenizer, summary = run_training(run, "reward", reward_trainer)
    save(trainer, tokenizer, run.out_dir)
    held_out = held_out_split(run)[1]
    accuracy = pairwise_accuracy(
        trainer.model,
        tokenizer,
        held_out,
        section["per_device_train_batch_size"] * 4,
        section["max_length"],
        run.judge_kind,
    )
    return trainer, {
        "stage": "reward_model",
        "kind": run.judge_kind,
        "start": run.start,
        "held_out_pairs": len(held_out),
        "held_out_accuracy": accuracy,
        **summary,
    }
