"""GPU throughput switches, checked on CPU where they can be: each leaves the mathematics
alone (the same loss on a fixed batch, the same weights after training). Their speed is a
GPU measurement (the benchmark suite); none is on by default."""

import pytest
import torch

from hhalign.bench.stages import fixed_batch_loss
from hhalign.dpo import dpo_trainer, train_dpo
from hhalign.models import load_model, load_tokenizer
from hhalign.sft import sft_trainer, train_sft
from hhalign.train import TrainingRun

pytestmark = pytest.mark.slow


def section(world, stage: str, **extra) -> dict:
    base = {**world["cfg"][stage], "max_train_samples": 16, "logging_steps": 1}
    return {**base, "save_steps": 1000, "per_device_train_batch_size": 8, **extra}


def run(world, stage: str, name: str, **extra) -> TrainingRun:
    root = world["root"]
    return TrainingRun(
        section=section(world, stage, **extra),
        data=str(root / f"{stage}.parquet"),
        start=str(root / "policy"),
        out_dir=str(root / f"switch-{name}"),
        checkpoint_dir=str(root / f"switch-ckpt-{name}"),
        adapter_dir=str(root / f"switch-{name}-adapter"),
    )


def trainer_of(world, stage: str, name: str, **extra):
    """A trainer on the untrained policy (no step taken), for fixed-batch losses."""
    r = run(world, stage, name, **extra)
    torch.manual_seed(0)
    tok = load_tokenizer(r.start, None)
    build = sft_trainer if stage == "sft" else dpo_trainer
    return build(r, load_model(r.start, None, "causal"), tok)


@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_padding_to_a_multiple_of_64_changes_shapes_not_the_loss(tiny_world, stage):
    plain = trainer_of(tiny_world, stage, f"{stage}-plain")
    padded = trainer_of(tiny_world, stage, f"{stage}-pad", pad_to_multiple_of=64)
    batch = padded.data_collator([padded.train_dataset[i] for i in range(8)])
    lengths = [v.shape[1] for k, v in batch.items() if k.endswith(("input_ids", "_ids"))]
    assert lengths and all(n % 64 == 0 for n in lengths), lengths
    a, b = fixed_batch_loss(plain, 8), fixed_batch_loss(padded, 8)
    assert a == pytest.approx(b, rel=1e-5, abs=1e-6)


def weights(path) -> dict:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(path).state_dict()


def test_fused_adamw_trains_to_the_same_weights(tiny_world):
    _, plain = train_sft(run(tiny_world, "sft", "adamw"))
    _, fused = train_sft(run(tiny_world, "sft", "adamw-fused", optim="adamw_torch_fused"))
    assert plain["first_loss"] == pytest.approx(fused["first_loss"], rel=1e-6)
    a = weights(tiny_world["root"] / "switch-adamw")
    b = weights(tiny_world["root"] / "switch-adamw-fused")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)  # moves are ~1e-2


@pytest.mark.xfail(
    strict=True,
    reason="measured: TRL 1.16's precomputed reference log-probs do not give the live run's "
    "losses here (first-step loss 0.7004 vs 0.6979 live, paper protocol, LoRA): the switch "
    "stays off until that is explained; strict, so a fix shows up as a failure to update",
)
def test_precomputed_reference_log_probs_give_the_same_dpo_run(tiny_world):
    _, live = train_dpo(run(tiny_world, "dpo", "ref-live"))
    _, pre = train_dpo(run(tiny_world, "dpo", "ref-pre", precompute_ref_log_probs=True))
    assert live["first_loss"] == pytest.approx(pre["first_loss"], rel=1e-5)
    assert live["final_loss"] == pytest.approx(pre["final_loss"], rel=1e-4)
    a = weights(tiny_world["root"] / "switch-ref-live")
    b = weights(tiny_world["root"] / "switch-ref-pre")
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)
