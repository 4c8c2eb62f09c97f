"""Training stages on tiny models: what changes, what is the reference, resume, seeds, errors."""

import json
import math
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
from peft import PeftModel
from support import ROOT
from transformers import AutoModelForCausalLM

from hhalign.dpo import train_dpo
from hhalign.models import InputError
from hhalign.reward import train_reward
from hhalign.sft import train_sft
from hhalign.train import StopAt, TrainingRun

pytestmark = pytest.mark.slow


def small(section: dict, **extra) -> dict:
    return {**section, "max_train_samples": 48, "logging_steps": 1, "save_steps": 2, **extra}


@pytest.fixture(scope="module")
def world(tiny_world):
    return tiny_world


def training_run(world, section: dict, start, name: str, data="sft", **extra) -> TrainingRun:
    """A run of ``section`` from ``start`` on the world's ``data`` set, written under ``name``."""
    root = world["root"]
    return TrainingRun(
        section=section,
        data=str(root / f"{data}.parquet"),
        start=str(start),
        out_dir=str(root / name),
        checkpoint_dir=str(root / f"ckpt-{name}"),
        **extra,
    )


def weights(path) -> dict:
    model = AutoModelForCausalLM.from_pretrained(path)
    return {k: v.clone() for k, v in model.state_dict().items()}


def run_sft(world, name, stop_after=None, **extra):
    callbacks = (StopAt(stop_after),) if stop_after is not None else ()
    section = small(world["cfg"]["sft"], **extra)
    return train_sft(
        training_run(world, section, world["root"] / "policy", name, callbacks=callbacks)
    )


def run_dpo(world, name, start, **extra):
    section = small(world["cfg"]["dpo"], **extra)
    adapter = str(world["root"] / f"{name}-adapter")
    return train_dpo(training_run(world, section, start, name, "dpo", adapter_dir=adapter))


@pytest.fixture(scope="module")
def sft_model(world):
    _, summary = run_sft(world, "sft")
    return world["root"] / "sft", summary


def test_sft_changes_every_weight_and_lowers_the_loss(world, sft_model):
    path, summary = sft_model
    before, after = weights(world["root"] / "policy"), weights(path)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) >= 0.9 * len(before)
    assert summary["final_loss"] < summary["first_loss"]
    assert summary["steps"] == 2 * 48 // 8


def test_lora_dpo_changes_only_adapters_and_exports_a_merged_model(world, sft_model):
    trainer, summary = run_dpo(world, "dpo", world["root"] / "policy")
    root = world["root"]
    peft_model = trainer.model
    before = weights(root / "policy")
    trained = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trained and all("lora_" in n for n in trained)
    assert all(("q_proj" in n or "v_proj" in n) for n in trained)
    # The merged export differs from the start only in the LoRA targets.
    merged = weights(root / "dpo")
    changed = {k for k in before if not torch.equal(before[k], merged[k])}
    assert changed and all(k.endswith(("q_proj.weight", "v_proj.weight")) for k in changed)
    assert summary["reference"] == str(root / "policy")
    # The paper protocol's DPO trains on the ids the authors' TRL 0.16.1 built, unchanged.
    from hhalign.dialogue import common_prefix_split
    from hhalign.dpo import tokenize_like_trl016

    first = pd.read_parquet(root / "dpo.parquet").iloc[0]
    section = world["cfg"]["dpo"]
    want = tokenize_like_trl016(
        *common_prefix_split(first["chosen_text"], first["rejected_text"]),
        trainer.processing_class,
        section["max_prompt_length"],
        section["max_length"],
    )
    row = trainer.train_dataset[0]
    assert {k: row[k] for k in want} == want


def test_merged_model_equals_the_adapter_wrapped_model(world):
    root = world["root"]
    if not (root / "dpo").is_dir():
        run_dpo(world, "dpo", root / "policy")
    merged = AutoModelForCausalLM.from_pretrained(root / "dpo").eval()
    wrapped = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(root / "policy"), root / "dpo-adapter"
    ).eval()
    batch = torch.randint(4, 300, (3, 17))
    with torch.no_grad():
        a, b = merged(batch).logits, wrapped(batch).logits
    assert torch.allclose(a, b, atol=1e-5)
    assert not torch.allclose(
        a, AutoModelForCausalLM.from_pretrained(root / "policy")(batch).logits
    )


def test_sft_dpo_reference_is_the_sft_model(world, sft_model):
    sft_path, _ = sft_model
    trainer, summary = run_dpo(world, "sft_dpo", sft_path, max_train_samples=16)
    assert summary["reference"] == str(sft_path)
    batch = torch.randint(4, 300, (2, 13))
    model = trainer.model.eval()
    with torch.no_grad(), model.disable_adapter():  # what DPOTrainer uses as the reference
        reference = model(input_ids=batch).logits
    sft = AutoModelForCausalLM.from_pretrained(sft_path).eval()
    base = AutoModelForCausalLM.from_pretrained(world["root"] / "policy").eval()
    with torch.no_grad():
        assert torch.allclose(reference, sft(batch).logits, atol=1e-5)
        assert not torch.allclose(reference, base(batch).logits, atol=1e-3)


def test_completion_only_masks_the_prompt(world):
    root, cfg = world["root"], world["cfg"]
    section = small(cfg["sft"], loss="completion_only", num_train_epochs=0.01)
    trainer, _ = train_sft(training_run(world, section, root / "policy", "sft-co"))
    example = trainer.train_dataset[0]
    labels = trainer.data_collator([example])["labels"][0].tolist()
    ids = example["input_ids"]
    prompt = pd.read_parquet(root / "sft.parquet")["prompt"][0]
    n_prompt = len(trainer.processing_class(prompt)["input_ids"])
    assert 0 < n_prompt < len(ids)
    assert labels[:n_prompt] == [-100] * n_prompt  # prompt tokens carry no loss
    assert labels[n_prompt : len(ids)] == ids[n_prompt:]  # completion tokens do


def test_same_seed_same_weights(world, sft_model):
    run_sft(world, "sft-again")
    a, b = weights(sft_model[0]), weights(world["root"] / "sft-again")
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("stop", [4, 10])  # 12 steps in 2 epochs: early, and late in epoch 2
def test_resume_after_interruption_matches_an_uninterrupted_run(world, sft_model, stop):
    """Stopped after a checkpoint and rerun: the same weights, bit for bit, and the same
    whole-run loss. The length-grouped order is drawn per (seed, epoch): with the global
    RNG a resume in epoch 2 trained on other batches (weights off by up to 0.026)."""
    name = f"sft-resumed-{stop}"
    with pytest.raises(KeyboardInterrupt):
        run_sft(world, name, stop_after=stop)
    ckpt = world["root"] / f"ckpt-{name}"
    assert (ckpt / f"checkpoint-{stop}").is_dir()
    _, summary = run_sft(world, name)
    assert summary["resumed_from"].endswith(f"checkpoint-{stop}")
    assert summary["steps"] == sft_model[1]["steps"]
    a, b = weights(sft_model[0]), weights(world["root"] / name)
    assert all(torch.equal(a[k], b[k]) for k in a), max(float((a[k] - b[k]).abs().max()) for k in a)
    assert summary["train_loss"] == pytest.approx(sft_model[1]["train_loss"], rel=1e-9)
    assert summary["final_loss"] == sft_model[1]["final_loss"]


def test_a_kill_during_a_checkpoint_save_resumes_from_the_previous_one(
    world, sft_model, monkeypatch
):
    """The trainer itself is killed inside the save of step 6 (weights and optimizer
    written, RNG state and trainer_state.json not), and a save of step 8 is left as a full
    disk leaves it: the rerun resumes from checkpoint-4 and ends bit-identical to an
    uninterrupted run. Before the fix every rerun failed on the newest directory."""
    from transformers import Trainer

    from hhalign.train import checkpoint_state

    name = "sft-killed-in-save"
    stock = Trainer._save_rng_state

    def killed(self, output_dir):
        if self.state.global_step == 6:
            raise KeyboardInterrupt("killed while saving step 6 (test)")
        return stock(self, output_dir)

    monkeypatch.setattr(Trainer, "_save_rng_state", killed)
    with pytest.raises(KeyboardInterrupt):
        run_sft(world, name)
    monkeypatch.undo()
    ckpt = world["root"] / f"ckpt-{name}"
    assert checkpoint_state(ckpt / "checkpoint-4") == "complete"
    assert checkpoint_state(ckpt / "checkpoint-6") == "partial"
    (ckpt / "checkpoint-8").mkdir()
    (ckpt / "checkpoint-8" / "config.json").write_text("{}")
    _, summary = run_sft(world, name)
    assert summary["resumed_from"].endswith("checkpoint-4")
    a, b = weights(sft_model[0]), weights(world["root"] / name)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert summary["train_loss"] == pytest.approx(sft_model[1]["train_loss"], rel=1e-9)


def test_rows_trl_drops_are_counted_with_their_reason(world, capfd):
    """Completion-only SFT with prompts longer than max_length: TRL drops the rows left with
    no completion token. Before, the summary said only how many rows trained."""
    from hhalign.models import load_tokenizer

    max_length = 40
    rows = pd.read_parquet(world["root"] / "sft.parquet")[:48]
    tok = load_tokenizer(str(world["root"] / "policy"))
    expected = sum(len(tok(p)["input_ids"]) >= max_length for p in rows["prompt"])
    assert 0 < expected < 48
    _, summary = run_sft(world, "sft-short", loss="completion_only", max_length=max_length)
    assert summary["rows_asked"] == 48
    assert summary["rows_dropped"] == expected
    assert summary["rows_trained"] == summary["examples"] == 48 - expected
    assert "no completion token left" in summary["drop_reason"]
    assert summary["rows_at_max_length"] > 0
    assert "indexing errors" not in capfd.readouterr().err


def test_length_grouped_order_is_a_function_of_seed_and_epoch():
    from hhalign.train import EpochSeededLengthGroupedSampler

    lengths = list(range(5, 405))
    a = EpochSeededLengthGroupedSampler(8, lengths=lengths, seed=1)
    b = EpochSeededLengthGroupedSampler(8, lengths=lengths, seed=1)
    first = list(a)
    torch.rand(100)  # the global RNG moves on: the order must not care
    a.set_epoch(1)
    second = list(a)
    b.set_epoch(1)
    assert list(b) == second and second != first
    a.set_epoch(0)
    assert list(a) == first


@pytest.fixture(scope="module")
def reward_model(world):
    root, cfg = world["root"], world["cfg"]
    section = {**cfg["reward_model"], "max_train_samples": None, "num_train_epochs": 3}
    _, summary = train_reward(training_run(world, section, root / "judge", "reward", "dpo"))
    return root / "reward", summary


def test_reward_model_learns_to_rank(reward_model):
    _, summary = reward_model
    assert summary["held_out_pairs"] > 0
    assert summary["final_loss"] < summary["first_loss"]


def test_clean_pairs_finds_the_flipped_pairs(world, reward_model):
    """Pairs with chosen and rejected swapped (a known 20%) are what a judge that learned the
    data's preferences drops: recall of the flipped pairs among the dropped ones."""
    from hhalign.clean import judge_pairs, split_pairs
    from hhalign.models import load_for_inference

    pairs = pd.read_parquet(world["root"] / "dpo.parquet").reset_index(drop=True)
    flipped = pairs.index % 5 == 0
    noisy = pairs.copy()
    noisy.loc[flipped, ["chosen", "rejected"]] = pairs.loc[flipped, ["rejected", "chosen"]].values
    model, tok, _ = load_for_inference(str(reward_model[0]), None, "reward", True, "float32")
    kept, dropped = split_pairs(judge_pairs(model, tok, noisy, 32, 160), 0.0)
    assert len(kept) + len(dropped) == len(pairs)
    found = dropped["chosen"].isin(noisy.loc[flipped, "chosen"]).sum()
    assert found / flipped.sum() >= 0.8, (found, flipped.sum(), len(dropped))
    assert (dropped["margin"] <= 0).all() and (kept["margin"] > 0).all()


def test_clear_failures(world, tmp_path):
    root, cfg = world["root"], world["cfg"]
    empty = tmp_path / "empty.parquet"
    pd.DataFrame(columns=["prompt", "completion", "text"]).to_parquet(empty)
    out = {"out_dir": str(tmp_path / "o"), "checkpoint_dir": str(tmp_path / "c")}
    with pytest.raises(InputError, match="training set is empty"):
        train_sft(TrainingRun(small(cfg["sft"]), str(empty), str(root / "policy"), **out))
    with pytest.raises(InputError, match="cannot load the model"):
        train_sft(
            TrainingRun(small(cfg["sft"]), str(root / "sft.parquet"), str(tmp_path / "nope"), **out)
        )
    bad = small(cfg["dpo"], lora={**cfg["dpo"]["lora"], "target_modules": ["query", "v_proj"]})
    with pytest.raises(InputError, match=r"\['query'\] do not exist.*k_proj"):
        train_dpo(TrainingRun(bad, str(root / "dpo.parquet"), str(root / "policy"), **out))


def sft_cli(world, tmp_path, out, history=None) -> list[str]:
    """The SFT entry point's arguments on the world's SFT set (as rule train_sft passes them)."""
    root, cfg = world["root"], world["cfg"]
    return [
        str(ROOT / "scripts" / "train_sft.py"),
        "--section",
        json.dumps(small(cfg["sft"])),
        "--data",
        str(root / "sft.parquet"),
        "--start",
        str(root / "policy"),
        "--out",
        str(out),
        "--checkpoints",
        str(tmp_path / "ckpt"),
        "--history",
        str(history or tmp_path / "h.json"),
        "--summary",
        str(tmp_path / "s.json"),
    ]


def test_two_process_cpu_run_under_accelerate(world, tmp_path):
    """The SFT entry point under `accelerate launch --multi_cpu --num_processes 2` (gloo)."""
    out = tmp_path / "sft2"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--main_process_port",
        "29517",
        *sft_cli(world, tmp_path, out),
        "--threads",
        "2",
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["processes"] == 2 and summary["threads_per_process"] == 1
    # Two processes of micro-batch 8 see 16 rows per step: half the steps of one process.
    assert summary["steps"] == 2 * 48 // 16
    assert (out / "model.safetensors").is_file()
    assert not (tmp_path / "ckpt").exists()  # removed once the run finished


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_disk_ends_the_training_log_with_path_and_fix(world, tmp_path):
    """The history is written to /dev/full (every write fails with ENOSPC, no path in the
    error): the log's last line names the paths, the free space and the fix; the
    checkpoints stay for the rerun."""
    log = tmp_path / "train.log"
    cmd = [sys.executable, *sft_cli(world, tmp_path, tmp_path / "out", history="/dev/full")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    with open(log, "w") as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    assert proc.returncode == 1
    last = log.read_text().strip().splitlines()[-1]
    assert "failed: no space left on the disk (or quota) while writing one of" in last
    assert "/dev/full" in last and "GB free under" in last and "Fix: free space under" in last
    assert "about" in last  # a checkpoint's size: what one more save needs
    assert (tmp_path / "ckpt" / "checkpoint-12").is_dir()


def test_tensorboard_logs_hold_the_loss_the_history_holds(world, tmp_path):
    """training.report_to: tensorboard, offline: the SFT entry point writes event files under
    the tracking directory (not the checkpoints, which are removed) whose loss scalars are
    the log history's."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "results" / "models" / "paper" / "sft"
    cmd = [sys.executable, *sft_cli(world, tmp_path, out)]
    tracking = tmp_path / "results" / "tracking"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HHALIGN_REPORT_TO": "tensorboard",
        "HHALIGN_TRACKING_DIR": str(tracking),
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = list((tracking / "paper" / "sft").glob("events.out.tfevents.*"))
    assert events, list(tracking.rglob("*"))
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    logged = [e.value for e in acc.Scalars("train/loss")]
    history = [h["loss"] for h in json.loads((tmp_path / "h.json").read_text()) if "loss" in h]
    assert logged == pytest.approx(history, rel=1e-6) and len(logged) > 3


def test_full_parameter_dpo_moves_every_weight_and_keeps_the_reference(world):
    """dpo.lora.enabled: false: every weight is trained, and TRL's reference (a frozen copy
    of the start) stays equal to the start model."""
    lora = {**world["cfg"]["dpo"]["lora"], "enabled": False}
    trainer, summary = run_dpo(
        world, "dpo-full", world["root"] / "policy", lora=lora, max_train_samples=16
    )
    assert not summary["lora"] and summary["trainable_params"] == sum(
        p.numel() for p in trainer.model.parameters()
    )
    start, trained = weights(world["root"] / "policy"), weights(world["root"] / "dpo-full")
    moved = [k for k in start if not torch.equal(start[k], trained[k])]
    assert len(moved) >= 0.9 * len(start)
    reference = trainer.ref_model.state_dict()
    assert set(start) <= set(reference)
    assert all(torch.equal(reference[k], start[k]) for k in start)  # untouched by training


@pytest.mark.parametrize("loss_type", ["ipo", "hinge", "robust", "sigmoid_norm"])
def test_dpo_loss_variants_train(world, loss_type):
    """TRL 1.16's loss types the experiments use: each trains (finite, falling loss)."""
    smoothing = 0.1 if loss_type == "robust" else 0.0
    _, summary = run_dpo(
        world,
        f"dpo-{loss_type}",
        world["root"] / "policy",
        loss_type=loss_type,
        label_smoothing=smoothing,
        max_train_samples=32,
    )
    assert summary["steps"] == 4
    assert all(map(math.isfinite, (summary["first_loss"], summary["final_loss"])))
