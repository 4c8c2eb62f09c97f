"""Training the methods beside SFT and DPO with TRL 1.16's trainers: ORPO and CPO (SimPO)
from ``trl.experimental``, KTO and RLOO from ``trl`` itself. This is the one module that
imports them (``TRAINERS``; tests/test_methods.py checks them against the pinned TRL).

Every method reads the data stage's DPO pairs, its prompts split as ``dpo.prompt`` does and
cut to ``max_prompt_length`` the same way (``hhalign.dpo``); KTO turns each pair into a
desirable and an undesirable row (``methods.kto_rows``), RLOO keeps the prompts alone and
samples from the policy, rewarded by the reward model the plan names (``methods.reward_judge``:
rule train_reward_model's model unless a judge is chosen on purpose). LoRA, export, resume,
locks and failure lines are the DPO stage's (``hhalign.dpo``, ``hhalign.train``,
``hhalign.cli``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from datasets import Dataset
from trl import KTOConfig, KTOTrainer, RLOOConfig, RLOOTrainer
from trl.experimental.cpo import CPOConfig, CPOTrainer
from trl.experimental.orpo import ORPOConfig, ORPOTrainer

from hhalign.dpo import dpo_dataset, export, model_lora, truncate_prompts
from hhalign.methods import METHODS, budget_epochs, kto_rows, token_budget
from hhalign.models import InputError, check_length
from hhalign.train import TrainingRun, note_rows, run_training, trainer_kwargs

# method -> (TRL config class, TRL trainer class), as pinned (requirements.txt: trl 1.16).
TRAINERS = {
    "orpo": (ORPOConfig, ORPOTrainer),
    "simpo": (CPOConfig, CPOTrainer),
    "kto": (KTOConfig, KTOTrainer),
    "rloo": (RLOOConfig, RLOOTrainer),
}

# Keys of a method's section that are its own, not training arguments.
OWN_KEYS = ("start", "prompt", "lora", "max_prompt_length", "method", "budget_from", "reward")


def pairs(run: TrainingRun, tokenizer) -> tuple[Dataset, int]:
    """The DPO pairs as (prompt, chosen, rejected) text, split as ``prompt`` says and cut to
    ``max_prompt_length`` where a pair passes ``max_length``; and the number of prompts cut."""
    section = run.section
    ds = dpo_dataset(pd.read_parquet(run.data), section["prompt"], section["max_train_samples"])
    if not section["max_prompt_length"]:
        return ds, 0
    return truncate_prompts(ds, tokenizer, section["max_length"], section["max_prompt_length"])


def method_args(run: TrainingRun, epochs: float | None = None) -> dict:
    """The TRL config's keyword arguments: the training keys of the section, the method's
    own hyperparameters, and ``epochs`` when an equal budget sets them."""
    section = run.section
    kwargs = trainer_kwargs(section, run.checkpoint_dir, run.processes, run.report_to)
    method = section["method"]
    if method == "orpo":
        kwargs.update(beta=section["beta"])
    elif method == "simpo":
        kwargs.update(
            loss_type="simpo",
            beta=section["beta"],
            simpo_gamma=section["simpo_gamma"],
            cpo_alpha=section["cpo_alpha"],
        )
    elif method == "kto":
        kwargs.update(
            beta=section["beta"],
            loss_type=section["loss_type"],
            desirable_weight=section["desirable_weight"],
            undesirable_weight=section["undesirable_weight"],
        )
    else:  # rloo: its lengths are the prompt's and the completion's
        kwargs.pop("max_length", None)
        kwargs.update(
            beta=section["beta"],
            num_generations=section["num_generations"],
            max_completion_length=section["max_completion_length"],
            temperature=section["temperature"],
            top_p=section["top_p"],
            shuffle_dataset=False,
            log_completions=False,
        )
    if epochs is not None:
        kwargs["num_train_epochs"] = epochs
    return kwargs


def supported(config_class: type, method: str, kwargs: dict) -> dict:
    """``kwargs`` without the switches ``config_class`` lacks while they are off (None or
    False); one that is on and unsupported fails, naming the key."""
    fields = config_class.__dataclass_fields__
    for key in [k for k in kwargs if k not in fields]:
        if kwargs[key] not in (None, False):
            raise InputError(
                f"methods.{method}.{key}: {kwargs[key]!r} is not an option of TRL 1.16's "
                f"{config_class.__name__}. Fix: leave that key out of the method's section"
            )
        del kwargs[key]
    return kwargs


def text_tokens(tokenizer, texts: list[str]) -> int:
    """Tokens of ``texts`` as the tokenizer counts them (no special tokens)."""
    return sum(len(ids) for ids in tokenizer(list(texts), add_special_tokens=False)["input_ids"])


def epoch_tokens(method: str, ds: Dataset, tokenizer, section: dict) -> int:
    """Tokens one epoch of ``ds`` feeds the model: prompt + chosen and prompt + rejected
    for a pair, prompt + completion for a KTO row, for RLOO each prompt and its
    completions (``num_generations`` of at most ``max_completion_length``) a prompt."""
    if method == "rloo":
        k = section["num_generations"]
        return k * (
            text_tokens(tokenizer, ds["prompt"]) + len(ds) * section["max_completion_length"]
        )
    if method == "kto":
        return text_tokens(tokenizer, ds["prompt"]) + text_tokens(tokenizer, ds["completion"])
    prompt = text_tokens(tokenizer, ds["prompt"])
    return (
        2 * prompt + text_tokens(tokenizer, ds["chosen"]) + text_tokens(tokenizer, ds["rejected"])
    )


def rloo_prompts(ds: Dataset) -> Dataset:
    """Each distinct prompt of the pairs once, in pair order (RLOO samples its own answers)."""
    seen = list(dict.fromkeys(list(ds["prompt"])))
    return Dataset.from_dict({"prompt": seen})


def reward_function(job: dict):
    """RLOO's reward: the configured reward model scoring (prompt, completion) as the
    judges score responses (``hhalign.judges``), loaded once."""
    from hhalign.judges import judge_rows, load_judge  # imports torch models lazily
    from hhalign.scoring import score_pairs  # imports torch: this job has it

    judge, cfg = job["reward"], job["scoring"]
    model, tokenizer, _ = load_judge(judge, judge["ref"], "float32")

    def reward(prompts: list[str], completions: list[str], **_) -> list[float]:
        if judge["kind"] == "pair":  # without the progress bar the scoring rule shows
            return score_pairs(
                model,
                tokenizer,
                prompts,
                completions,
                cfg["batch_size"],
                cfg["max_length"],
                max_batch_tokens=cfg["max_batch_tokens"],
            )[0]
        rows = [
            {"id": str(i), "prompt": p, "response": c}
            for i, (p, c) in enumerate(zip(prompts, completions, strict=True))
        ]
        return judge_rows(judge, model, tokenizer, rows, cfg)["score"].tolist()

    reward.__name__ = f"reward_{judge['name']}"
    return reward


def training_set(run: TrainingRun, tokenizer) -> tuple[Dataset, dict]:
    """The method's rows and what building them counted (prompts cut; KTO's rows)."""
    method = run.section["method"]
    ds, n_cut = pairs(run, tokenizer)
    counts: dict = {"prompts_truncated": n_cut}
    if method == "kto":  # shuffled once: sequential order must not pair a row with its twin
        rows, kto = kto_rows(ds.to_pandas())
        counts["kto_rows"] = kto
        rows = rows.sample(frac=1.0, random_state=run.section["seed"]).reset_index(drop=True)
        ds = Dataset.from_pandas(rows, preserve_index=False)
    elif method == "rloo":
        ds = rloo_prompts(ds)
        counts["prompts"] = len(ds)
    return ds, counts


def method_trainer(run: TrainingRun, model, tokenizer):
    """The TRL trainer of ``run.section["method"]``, with LoRA from its ``lora`` section
    (and no ``ref_model``: DPO's reference rule, the start model, for KTO and RLOO)."""
    section, method = run.section, run.section["method"]
    check_length(model, section["max_length"], f"methods.{method}.max_length")
    peft_config = model_lora(model, section["lora"])
    ds, counts = training_set(run, tokenizer)
    per_epoch = epoch_tokens(method, ds, tokenizer, section)
    counts["epoch_tokens"] = per_epoch
    budget = None
    if section.get("budget_from"):
        tokens = token_budget(section["budget_from"])
        budget = {
            "budget_tokens": tokens,
            "epoch_tokens": per_epoch,
            "budget_epochs": budget_epochs(tokens, per_epoch),
        }
    config_class, trainer_class = TRAINERS[method]
    args = config_class(
        **supported(config_class, method, method_args(run, budget and budget["budget_epochs"]))
    )
    common = {"args": args, "train_dataset": ds, "processing_class": tokenizer}
    if method == "rloo":
        trainer = trainer_class(
            model=model, reward_funcs=reward_function(section), peft_config=peft_config, **common
        )
    else:
        trainer = trainer_class(model=model, peft_config=peft_config, **common)
    trainer.method_counts = {**counts, **({"budget": budget} if budget else {})}
    return note_rows(
        trainer, len(ds), f"TRL's {trainer_class.__name__} dropped rows it could not tokenize"
    )


def train_method(run: TrainingRun) -> tuple:
    """Train ``run.section["method"]`` from ``run.start``; the merged model goes to
    ``run.out_dir``, the LoRA adapter alone to ``run.adapter_dir`` (a note there when the
    method trains every weight)."""
    method = run.section["method"]
    trainer, tokenizer, summary = run_training(run, "causal", method_trainer)
    lora = run.section["lora"]["enabled"]
    export(trainer, tokenizer, run.out_dir, run.adapter_dir if lora else None)
    if not lora and run.adapter_dir and trainer.is_world_process_zero():
        Path(run.adapter_dir).mkdir(parents=True, exist_ok=True)
        (Path(run.adapter_dir) / "README.md").write_text(
            f"# No adapter\n\n{METHODS[method].name} trained every weight "
            f"(methods.{method}.lora.enabled: false): the model is in {run.out_dir}.\n"
        )
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    # TRL's ORPO and CPO batches have no input_ids for the Trainer to count
    # (tokens_seen 0): the tokens trained are counted on the rows, epochs x an epoch's.
    counted = round(summary["epochs"] * trainer.method_counts["epoch_tokens"])
    return trainer, {
        "stage": method,
        "method": METHODS[method].name,
        "start": run.start,
        "lora": lora,
        "trainable_params": trainable,
        **trainer.method_counts,
        **({"reward_model": run.section["reward"]["name"]} if method == "rloo" else {}),
        **summary,
        "tokens_seen": summary["tokens_seen"] or counted,
        "tokens_counted_on_rows": not summary["tokens_seen"],
    }
