"""Direct preference optimisation with TRL's DPOTrainer, LoRA through PEFT.

The walk from config to TRL stays in this module: ``dpo_dataset`` (which prompt),
``lora_config`` and ``check_lora_targets`` (``dpo.lora``), ``dpo_trainer``
(``DPOConfig`` from the ``dpo`` section), ``train_dpo`` and ``export``.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from peft import LoraConfig
from trl import DPOConfig, DPOTrainer

from hhalign.dialogue import common_prefix_split
from hhalign.models import InputError, check_length
from hhalign.train import TrainingRun, nonempty, note_rows, run_training, trainer_kwargs


def dpo_dataset(df: pd.DataFrame, prompt_mode: str, max_samples: int | None) -> Dataset:
    """The preference set as TRL expects it.

    ``explicit`` (corrected): the prompt cut at the last "Assistant:" by the data stage.
    ``common_prefix`` (paper): the raw dialogues split at their longest common prefix,
    which is what the authors' TRL release did implicitly.
    """
    df = nonempty(df, "DPO")[:max_samples]
    if prompt_mode == "explicit":
        cols = {k: df[k].tolist() for k in ("prompt", "chosen", "rejected")}
    elif prompt_mode == "common_prefix":
        pairs = zip(df["chosen_text"], df["rejected_text"], strict=True)
        split = [common_prefix_split(c, r) for c, r in pairs]
        cols = {k: [s[i] for s in split] for i, k in enumerate(("prompt", "chosen", "rejected"))}
    else:
        raise InputError(f"unknown dpo.prompt {prompt_mode!r} (explicit or common_prefix)")
    return Dataset.from_dict(cols)


def lora_wrappable() -> tuple[type, ...]:
    """Module types PEFT's LoRA can wrap: linear and embedding layers, convolutions,
    GPT-2's Conv1D (``c_attn``) and multi-head attention."""
    from transformers.pytorch_utils import Conv1D

    nn = torch.nn
    return (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.MultiheadAttention, Conv1D)


def check_lora_targets(model: torch.nn.Module, targets: list[str]) -> None:
    """Fail naming the missing LoRA target modules and listing the ones the model has."""
    kinds = lora_wrappable()
    names = {
        name.rsplit(".", 1)[-1] for name, mod in model.named_modules() if isinstance(mod, kinds)
    }
    missing = [t for t in targets if t not in names]
    if missing:
        raise InputError(
            f"LoRA target modules {missing} do not exist in {type(model).__name__}; "
            f"it has: {sorted(names)}. Fix dpo.lora.target_modules."
        )


def truncate_prompts(ds: Dataset, tokenizer, max_length: int, max_prompt_length: int):
    """Keep the last ``max_prompt_length`` prompt tokens where a pair exceeds ``max_length``.

    This is what the authors' TRL release did (``max_prompt_length``, prompt
    truncated from the left); TRL 1.x has no such option. Returns the dataset
    and the number of prompts cut.
    """

    def cut(batch: dict) -> dict:
        ids = {k: tokenizer(batch[k], add_special_tokens=False)["input_ids"] for k in batch}
        prompts, flags = [], []
        for i, prompt in enumerate(batch["prompt"]):
            p = ids["prompt"][i]
            longest = max(len(ids["chosen"][i]), len(ids["rejected"][i]))
            flags.append(len(p) + longest > max_length and len(p) > max_prompt_length)
            prompts.append(tokenizer.decode(p[-max_prompt_length:]) if flags[-1] else prompt)
        return {"prompt": prompts, "cut": flags}

    ds = ds.map(cut, batched=True)
    n_cut = sum(ds["cut"])
    return ds.remove_columns("cut"), n_cut


def tokenize_like_trl016(
    prompt: str,
    chosen: str,
    rejected: str,
    tokenizer,
    max_prompt_length: int | None,
    max_length: int | None,
) -> dict[str, list[int]]:
    """One pair's token ids as the authors' TRL 0.16.1 built them (``tokenize_row``): prompt,
    chosen and rejected tokenized apart without special tokens, EOS appended to each
    completion, the prompt cut to its last ``max_prompt_length`` tokens. Then, as its
    ``truncation_mode="keep_end"`` did when a sequence passed ``max_length``, the same
    number of leading tokens leaves both sequences (the prompt's first, then the
    completions') until the longer one fits.
    """
    enc = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in (prompt, chosen, rejected)]
    p, c, r = enc[0], enc[1] + [tokenizer.eos_token_id], enc[2] + [tokenizer.eos_token_id]
    if max_prompt_length:
        p = p[-max_prompt_length:]
    over = len(p) + max(len(c), len(r)) - (max_length or 10**12)
    if over > 0:
        rest, p = over - len(p), p[over:]
        if rest > 0:
            c, r = c[rest:], r[rest:]
    return {"prompt_ids": p, "chosen_ids": c, "rejected_ids": r}


def pretokenize_like_trl016(
    ds: Dataset, tokenizer, max_prompt_length: int | None, max_length: int | None
) -> tuple[Dataset, int]:
    """The preference set as token ids built the authors' way (see ``tokenize_like_trl016``),
    with a ``length`` column; returns it and the number of pairs that were cut."""

    def encode(row: dict) -> dict:
        ids = tokenize_like_trl016(
            row["prompt"], row["chosen"], row["rejected"], tokenizer, max_prompt_length, max_length
        )
        full = len(tokenizer(row["prompt"], add_special_tokens=False)["input_ids"])
        longest = max(len(ids["chosen_ids"]), len(ids["rejected_ids"]))
        return {
            **ids,
            "length": len(ids["prompt_ids"]) + longest,
            "cut": len(ids["prompt_ids"]) < full,
        }

    ds = ds.map(encode, remove_columns=["prompt", "chosen", "rejected"])
    return ds.remove_columns("cut"), sum(ds["cut"])


class PretokenizedDPOTrainer(DPOTrainer):
    """TRL's DPOTrainer on rows that are already token ids (``prompt_ids``, ``chosen_ids``,
    ``rejected_ids``). TRL 1.16 tokenizes prompt and prompt + completion jointly and takes
    the completion from where the two diverge; on the paper protocol's implicit prompts they
    diverge in most rows (2,184 of 2,303 real harmless-base pairs), so the authors' ids are
    built here and handed over as they are."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        if "prompt_ids" in dataset.column_names:
            return dataset
        return super()._prepare_dataset(dataset, processing_class, args, dataset_name)


def with_lengths(ds: Dataset, tokenizer) -> Dataset:
    """Add a ``length`` column (prompt + longer response, in tokens) for length grouping.

    transformers' LengthGroupedSampler reads ``length`` when a dataset has no
    ``input_ids`` (TRL's preference datasets hold ``prompt_ids``/``chosen_ids``).
    """

    def count(batch: dict) -> dict:
        keys = ("prompt", "chosen", "rejected")
        n = {k: tokenizer(batch[k], add_special_tokens=False)["input_ids"] for k in keys}
        return {
            "length": [
                len(p) + max(len(c), len(r))
                for p, c, r in zip(n["prompt"], n["chosen"], n["rejected"], strict=True)
            ]
        }

    return ds.map(count, batched=True)


def lora_targets(model: torch.nn.Module, configured: list[str] | None) -> list[str]:
    """The LoRA target modules: ``dpo.lora.target_modules`` as written, or, when it is null,
    PEFT's default for the model's architecture (OPT, Llama, Qwen: q_proj and v_proj; GPT-2:
    c_attn; GPT-NeoX/Pythia: query_key_value). Fails naming the fix for an architecture
    PEFT has no default for."""
    if configured is not None:
        return list(configured)
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as known

    kind = model.config.model_type
    if kind not in known:
        raise InputError(
            f"dpo.lora.target_modules is null and PEFT has no default LoRA targets for "
            f"model_type {kind!r}. Fix: list the attention projections in "
            "dpo.lora.target_modules"
        )
    return list(known[kind])


def lora_config(lora: dict, targets: list[str]) -> LoraConfig | None:
    """PEFT LoRA config from ``dpo.lora`` on ``targets`` (``lora_targets``), or None for
    full-parameter DPO."""
    if not lora["enabled"]:
        return None
    return LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def preference_set(run: TrainingRun, tokenizer) -> tuple[Dataset, int]:
    """The DPO training rows for ``run.section`` and the number of prompts cut.

    The paper protocol's implicit prompts get the authors' token ids exactly (TRL
    0.16.1); explicit prompts are cut to ``max_prompt_length`` where a pair is too
    long, and get a ``length`` column when batches are grouped by length.
    """
    section = run.section
    dataset = dpo_dataset(
        pd.read_parquet(run.data), section["prompt"], section["max_train_samples"]
    )
    if section["prompt"] == "common_prefix":
        return pretokenize_like_trl016(
            dataset, tokenizer, section["max_prompt_length"], section["max_length"]
        )
    n_cut = 0
    if section["max_prompt_length"]:
        dataset, n_cut = truncate_prompts(
            dataset, tokenizer, section["max_length"], section["max_prompt_length"]
        )
    if section["train_sampling_strategy"] == "group_by_length":
        dataset = with_lengths(dataset, tokenizer)
    return dataset, n_cut


def dpo_config(run: TrainingRun) -> DPOConfig:
    """TRL's DPOConfig from the ``dpo`` section: every setting the study depends on."""
    section = run.section
    grouped = section["train_sampling_strategy"] == "group_by_length"
    return DPOConfig(
        **trainer_kwargs(section, run.checkpoint_dir, run.processes, run.report_to),
        # Keep the ``length`` column for the sampler (the collator reads only its own keys).
        remove_unused_columns=not grouped,
        beta=section["beta"],
        loss_type=[section["loss_type"]],
        label_smoothing=section["label_smoothing"],
        precompute_ref_log_probs=section["precompute_ref_log_probs"],
        truncation_mode="keep_start",
        padding_free=False,
    )


def model_lora(model: torch.nn.Module, lora: dict) -> LoraConfig | None:
    """The PEFT config of a ``lora`` section on ``model``'s targets, checked (None: off)."""
    if not lora["enabled"]:
        return None
    targets = lora_targets(model, lora["target_modules"])
    check_lora_targets(model, targets)
    return lora_config(lora, targets)


def dpo_trainer(run: TrainingRun, model, tokenizer) -> PretokenizedDPOTrainer:
    """DPOTrainer with LoRA from ``dpo.lora`` and no ``ref_model``: TRL then uses the
    starting weights as the reference (with LoRA, the policy with its adapter off; without,
    a second copy of ``start``)."""
    section = run.section
    check_length(model, section["max_length"], "dpo.max_length")
    peft_config = model_lora(model, section["lora"])
    dataset, n_cut = preference_set(run, tokenizer)
    trainer = PretokenizedDPOTrainer(
        model=model,
        ref_model=None,
        args=dpo_config(run),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    trainer.prompts_truncated = n_cut
    return note_rows(
        trainer,
        len(dataset),
        f"the prompt alone fills dpo.max_length={section['max_length']} tokens",
    )


def train_dpo(run: TrainingRun) -> tuple[DPOTrainer, dict]:
    """DPO from ``run.start``; the reference model is ``run.start`` itself.

    DPO starts from the base model, SFT+DPO from the SFT model: the same function, a
    different ``start``, so for SFT+DPO the reference is the SFT model, never the base.
    The merged model goes to ``run.out_dir``, the adapter alone to ``run.adapter_dir``.
    """
    trainer, tokenizer, summary = run_training(run, "causal", dpo_trainer)
    lora = run.section["lora"]["enabled"]
    trainable = [n for n, p in trainer.model.named_parameters() if p.requires_grad]
    export(trainer, tokenizer, run.out_dir, run.adapter_dir if lora else None)
    last = [h for h in trainer.state.log_history if "rewards/accuracies" in h]
    return trainer, {
        "stage": "dpo",
        "start": run.start,
        "reference": run.start,
        "prompt_mode": run.section["prompt"],
        "lora": lora,
        "trainable_tensors": len(trainable),
        "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "prompts_truncated": trainer.prompts_truncated,
        "final_reward_accuracy": last[-1]["rewards/accuracies"] if last else None,
        **summary,
    }


def export(trainer: DPOTrainer, tokenizer, out_dir: str, adapter_dir: str | None) -> None:
    """Save the adapter on its own, then the LoRA-merged model as a plain model directory."""
    model = trainer.accelerator.unwrap_model(trainer.model)
    if not trainer.is_world_process_zero():
        return
    if adapter_dir is not None:
        model.save_pretrained(adapter_dir)
        tokenizer.save_pretrained(adapter_dir)
        # PEFT writes a template card ("More Information Needed"); the run's card is built
        # once the model is evaluated (rule write_model_cards, results/model_cards/).
        (Path(adapter_dir) / "README.md").write_text(
            "# LoRA adapter\n\nIts model card, with training setup and evaluation, is written by "
            "the hhalign pipeline to results/model_cards/<protocol>/<run>_adapter/README.md.\n"
        )
        # Merge a copy, so the trainer keeps its adapter-wrapped policy (and its reference).
        model = copy.deepcopy(model).merge_and_unload()
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
