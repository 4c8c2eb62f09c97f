"""One shape for SFT, DPO and reward-model training: a run record and a shared runner.

``TrainingRun`` says what a job needs; ``run_training`` loads the start model, lets
the stage module build its trainer (dataset and TRL config live in ``sft.py``,
``dpo.py`` and ``reward.py``), fits with exact resume, and returns the trainer and
a summary. Thin glue over TRL and PEFT, no trainer of our own.

Every hyperparameter comes from the config section of the stage (``sft``,
``dpo``, ``reward_model``); nothing is left to a library default that has
changed between TRL releases. Checkpoints live under ``results/checkpoints``,
outside the declared outputs, so a failed or interrupted job resumes from
its last checkpoint when the rule is run again.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers import TrainerCallback, set_seed
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from hhalign.io import write_json
from hhalign.models import InputError, load_model, load_tokenizer
from hhalign.switches import HOST_SWITCHES

log = logging.getLogger(__name__)

# Keys of a stage section that map one-to-one onto TRL/transformers training arguments.
TRAINER_KEYS = (
    "num_train_epochs",
    "learning_rate",
    "per_device_train_batch_size",
    "gradient_accumulation_steps",
    "lr_scheduler_type",
    "warmup_steps",
    "weight_decay",
    "max_grad_norm",
    "optim",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "bf16",
    "seed",
    "logging_steps",
    "save_steps",
    "save_total_limit",
    "max_length",
    "disable_dropout",
    "train_sampling_strategy",
    "pad_to_multiple_of",
    "torch_compile",
    "torch_compile_mode",
)


def nonempty(df: pd.DataFrame, what: str) -> pd.DataFrame:
    """``df`` with a fresh index, or a clear error if the training set has no rows."""
    if len(df) == 0:
        raise InputError(
            f"the {what} training set is empty: check the data stage's summary and rejects"
        )
    return df.reset_index(drop=True)


def trainer_kwargs(
    section: dict, output_dir: str, processes: int = 1, report_to: str = "none"
) -> dict:
    """Training arguments from a config section, with our fixed logging and saving policy;
    ``report_to``: a tracker (config ``training.report_to``; not a training parameter)."""
    kwargs = {k: section[k] for k in TRAINER_KEYS if k in section}
    host = {k: section.get(k, off) for k, off in HOST_SWITCHES.items()}
    # transformers 5 renamed gradient_checkpointing; the config keeps the familiar name.
    kwargs["activation_checkpointing"] = section["gradient_checkpointing"]
    kwargs.update(
        output_dir=output_dir,
        report_to=report_to,
        save_strategy="steps",
        logging_first_step=True,
        include_num_input_tokens_seen=host["include_num_input_tokens_seen"],
        logging_nan_inf_filter=host["logging_nan_inf_filter"],
        use_cpu=not torch.cuda.is_available(),
        ddp_backend="gloo" if not torch.cuda.is_available() and processes > 1 else None,
        dataloader_num_workers=host["dataloader_num_workers"],
        dataloader_persistent_workers=host["dataloader_num_workers"] > 0,
    )
    return kwargs


def use_foreach_adamw(trainer: Any, section: dict) -> Any:
    """With ``adamw_foreach``, torch's AdamW updates all tensors with foreach kernels, as it
    does on CUDA by default, on CPU too: the same arithmetic in fewer calls (bit-identical
    weights on CPU, tested). Only for ``optim: adamw_torch``."""
    if not section.get("adamw_foreach", HOST_SWITCHES["adamw_foreach"]):
        return trainer
    cls, kwargs = trainer.get_optimizer_cls_and_kwargs(trainer.args, trainer.model)
    if cls is not torch.optim.AdamW or kwargs.get("fused"):
        raise InputError(
            f"adamw_foreach needs optim: adamw_torch, not {section.get('optim')!r}: "
            "set adamw_foreach: false or optim: adamw_torch"
        )
    trainer.optimizer_cls_and_kwargs = (cls, {**kwargs, "foreach": True})
    return trainer


class EpochSeededLengthGroupedSampler(LengthGroupedSampler):
    """transformers' LengthGroupedSampler whose order depends only on (seed, epoch).

    The stock sampler draws each epoch's order from torch's global RNG. A run resumed
    in its second epoch finds that RNG elsewhere than the uninterrupted run did (which
    had trained a whole epoch with dropout first), so it drew another order and skipped
    the wrong batches. The Trainer calls ``set_epoch`` before every epoch, resumed too.
    """

    def __init__(self, *args, seed: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return super().__iter__()


def use_epoch_seeded_order(trainer: Any) -> None:
    """Make ``trainer``'s length-grouped order a function of (seed, epoch), so a resumed
    run skips exactly the batches the interrupted one trained on."""
    stock = trainer._get_train_sampler

    def sampler(train_dataset=None):
        found = stock(train_dataset)
        if type(found) is not LengthGroupedSampler:
            return found  # random order: accelerate's seedable sampler is already per epoch
        seed = trainer.args.data_seed if trainer.args.data_seed is not None else trainer.args.seed
        return EpochSeededLengthGroupedSampler(found.batch_size, lengths=found.lengths, seed=seed)

    trainer._get_train_sampler = sampler


RESUME_EXACT = (
    "bit-identical to an uninterrupted run on CPU (tested); on a GPU, kernels that are not "
    "deterministic can make any two runs differ in the last bits, resumed or not"
)


class RunLoss(TrainerCallback):
    """The sum of the training loss over the whole run, across resumes.

    transformers reports ``training_loss`` over the steps of the last ``train()`` call
    only; each checkpoint gets the sum so far (``run_loss.json``), and a resumed run
    starts from the sum saved in its checkpoint.
    """

    FILE = "run_loss.json"

    def __init__(self, trainer: Any, resumed_from: str | None) -> None:
        self.trainer = trainer
        self.before = 0.0
        if resumed_from:
            saved = Path(resumed_from) / self.FILE
            if not saved.is_file():
                raise InputError(
                    f"{saved} is missing (a checkpoint from older code): delete "
                    f"{Path(resumed_from).parent} to train from the start"
                )
            self.before = json.loads(saved.read_text())["loss_sum"]

    def loss_sum(self) -> float:
        """Summed per-step loss of every step so far (logged, and not yet logged)."""
        return self.before + self.trainer._total_loss_scalar + float(self.trainer._tr_loss)

    def on_save(self, args, state, control, **kwargs):
        """Written last, atomically: a checkpoint with this file is complete."""
        if state.is_world_process_zero:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}" / self.FILE
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"loss_sum": self.loss_sum(), "step": state.global_step}))
            os.replace(tmp, path)

    def train_loss(self) -> float:
        """Mean per-step loss of the whole run (after ``train()`` has returned)."""
        return (self.before + self.trainer._total_loss_scalar) / max(
            self.trainer.state.global_step, 1
        )


class StopAt(TrainerCallback):
    """Stop (as if interrupted) right after the checkpoint of step ``step`` is saved: how
    the tests interrupt a run at a chosen step."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise KeyboardInterrupt(f"stopped after step {state.global_step} (test hook)")


def _parses(path: Path) -> bool:
    """Whether ``path`` is a JSON file that reads to its end."""
    try:
        json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return True


def checkpoint_state(path: Path) -> str:
    """``complete``, ``no_run_loss`` or ``partial``.

    transformers writes a checkpoint in place: weights, optimizer, scheduler and RNG
    states, then ``trainer_state.json``; ``RunLoss`` then writes ``run_loss.json``. A save
    killed part-way (a kill, a full disk) leaves a directory without the last of these.
    """
    if not _parses(path / "trainer_state.json"):
        return "partial"
    return "complete" if _parses(path / RunLoss.FILE) else "no_run_loss"


def checkpoints_by_step(checkpoint_dir: str | Path) -> list[Path]:
    """The ``checkpoint-N`` directories of ``checkpoint_dir``, newest first."""
    pattern = re.compile(rf"^{PREFIX_CHECKPOINT_DIR}-(\d+)$")
    found = [
        (int(m.group(1)), p)
        for p in Path(checkpoint_dir).glob(f"{PREFIX_CHECKPOINT_DIR}-*")
        if p.is_dir() and (m := pattern.match(p.name))
    ]
    return [p for _, p in sorted(found, reverse=True)]


def resumable_checkpoint(checkpoint_dir: str | Path) -> str | None:
    """The newest complete checkpoint, after removing the newer ones a save left unfinished.

    A complete checkpoint without ``run_loss.json`` is one of older code when no
    complete one precedes it (the run cannot be resumed exactly: ``InputError``); with a
    complete one before it, it is a save killed just before its last file, and is removed
    like any other unfinished one.
    """
    unfinished = []
    for path in checkpoints_by_step(checkpoint_dir):
        state = checkpoint_state(path)
        if state == "complete":
            break
        unfinished.append((path, state))
    else:
        path = None
        older = [p for p, state in unfinished if state == "no_run_loss"]
        if older:
            raise InputError(
                f"{older[0] / RunLoss.FILE} is missing (a checkpoint from older code): delete "
                f"{Path(checkpoint_dir)} to train from the start"
            )
    for bad, state in unfinished:
        log.warning(
            "removing %s: an interrupted save left it incomplete (%s); resuming from %s",
            bad,
            "no run_loss.json" if state == "no_run_loss" else "no trainer_state.json",
            path or "the start",
        )
        shutil.rmtree(bad)
    return None if path is None else str(path)


def note_rows(trainer: Any, asked: int, drop_reason: str) -> Any:
    """Record on ``trainer`` how many rows the stage handed to TRL and what TRL drops
    (``row_accounting`` counts and logs them)."""
    trainer.rows_asked, trainer.drop_reason = asked, drop_reason
    return trainer


def longest_rows(dataset: Any, max_length: int) -> int:
    """Rows of a tokenized TRL dataset longer than ``max_length`` tokens, or exactly that
    long (``input_ids`` cut to it, or a prompt and either response that exceed it)."""
    import pyarrow.compute as pc

    table = dataset.data
    names = set(table.column_names)

    def length(col: str):
        return pc.list_value_length(table.column(col)) if col in names else 0

    if "input_ids" in names:
        return int(pc.sum(pc.greater_equal(length("input_ids"), max_length)).as_py() or 0)
    if not {"chosen_ids", "rejected_ids"} <= names:
        return 0
    longest = pc.max_element_wise(length("chosen_ids"), length("rejected_ids"))
    total = pc.add(longest, length("prompt_ids")) if "prompt_ids" in names else longest
    return int(pc.sum(pc.greater_equal(total, max_length)).as_py() or 0)


def row_accounting(trainer: Any, max_length: int) -> dict:
    """Rows asked for, trained, dropped by TRL (with the reason) and at ``max_length``
    (truncated); logged, so no stage trains on fewer rows than asked without saying so."""
    asked = getattr(trainer, "rows_asked", None)
    trained = len(trainer.train_dataset)
    dropped = 0 if asked is None else asked - trained
    out = {
        "rows_asked": asked,
        "rows_trained": trained,
        "rows_dropped": dropped,
        "drop_reason": getattr(trainer, "drop_reason", None) if dropped else None,
        "rows_at_max_length": longest_rows(trainer.train_dataset, max_length),
    }
    log.info("rows: %s", json.dumps(out))
    if dropped:
        log.warning("TRL dropped %d of %d rows: %s", dropped, asked, out["drop_reason"])
    return out


def fit(trainer: Any, checkpoint_dir: str, callbacks: tuple = ()) -> dict:
    """Train, resuming from the last checkpoint in ``checkpoint_dir`` if there is one.

    A resumed run equals an uninterrupted one: model, optimizer, scheduler and RNG
    states come from the checkpoint, and the batch order from (seed, epoch). ``callbacks``
    run after ours (a checkpoint is complete before they see it).
    """
    last = resumable_checkpoint(checkpoint_dir)
    use_epoch_seeded_order(trainer)
    run_loss = RunLoss(trainer, last)
    trainer.add_callback(run_loss)
    for callback in callbacks:
        trainer.add_callback(callback)
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    history = trainer.state.log_history
    losses = [h["loss"] for h in history if "loss" in h]
    return {
        "resumed_from": last,
        "resume_exact": None if last is None else RESUME_EXACT,
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "tokens_seen": (
            None
            if trainer.args.include_num_input_tokens_seen == "no"
            else trainer.state.num_input_tokens_seen
        ),
        "wall_time_s": round(time.perf_counter() - start, 3),
        "train_loss": run_loss.train_loss(),
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "examples": len(trainer.train_dataset),
    }


def write_history(trainer: Any, summary: dict, history_path: str, summary_path: str) -> None:
    """Write the full log history and the small JSON summary (declared outputs)."""
    write_json(history_path, trainer.state.log_history)
    write_json(summary_path, summary)


def training_backends() -> None:
    """On CUDA, keep SDPA off cuDNN's attention backend while training.

    Length-grouped batches give almost every step a new sequence length, and cuDNN
    builds an execution plan for each new shape, in every layer, forward and backward.
    Measured on an H100 (torch 2.11, OPT-350M, micro-batch 8): the first 50 steps took
    28.6 s with cuDNN and 7.7 s without; once every shape has a plan the two run alike
    (89 vs 91 ms a step). The flash and memory-efficient kernels compute the same
    attention without that warm-up. No effect on CPU.
    """
    if torch.cuda.is_available():
        torch.backends.cuda.enable_cudnn_sdp(False)


@dataclass(frozen=True)
class TrainingRun:
    """What one training job needs, whatever the stage.

    ``section`` is the stage's config section (``sft``, ``dpo``, ``reward_model``);
    ``adapter_dir`` is where DPO writes its LoRA adapter alone; ``judge_kind`` is how a
    reward model reads a pair (``judges.KINDS``: pair, or chat for a trained chat judge);
    ``report_to`` a tracker; ``callbacks`` are extra TrainerCallbacks (the tests' ``StopAt``).
    """

    section: dict
    data: str
    start: str
    out_dir: str
    checkpoint_dir: str
    revision: str | None = None
    adapter_dir: str | None = None
    safetensors_only: bool = True
    processes: int = 1
    judge_kind: str = "pair"
    report_to: str = "none"
    callbacks: tuple[TrainerCallback, ...] = field(default=())


# A stage's trainer factory: (run, model, tokenizer) -> a TRL trainer ready to train.
BuildTrainer = Callable[[TrainingRun, Any, Any], Any]


def run_training(run: TrainingRun, kind: str, build: BuildTrainer) -> tuple[Any, Any, dict]:
    """Seed, load the start model (``kind``: causal or reward) and its tokenizer, build the
    stage's trainer, fit with resume. Returns (trainer, tokenizer, summary); saving is the
    stage's (``save`` for a plain model, DPO exports its adapter too)."""
    set_seed(run.section["seed"])
    training_backends()
    tokenizer = load_tokenizer(run.start, run.revision)
    model = load_model(run.start, run.revision, kind, run.safetensors_only)
    trainer = use_foreach_adamw(build(run, model, tokenizer), run.section)
    rows = row_accounting(trainer, run.section["max_length"])
    return trainer, tokenizer, {**fit(trainer, run.checkpoint_dir, run.callbacks), **rows}


def save(trainer: Any, tokenizer: Any, out_dir: str) -> None:
    """Save the trained model (every rank takes part) and its tokenizer (rank 0)."""
    trainer.save_model(out_dir)
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(out_dir)
