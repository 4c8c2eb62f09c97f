"""Which checkpoint a rerun resumes from: the newest complete one, whatever a kill left."""

import json

import pytest

from hhalign.models import InputError
from hhalign.train import checkpoint_state, resumable_checkpoint


def checkpoint(root, step: int, files=("trainer_state.json", "run_loss.json")):
    """A checkpoint directory holding ``files`` (JSON ones with valid JSON)."""
    path = root / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_text("{}" if name.endswith(".json") else "x")
    return path


def test_a_complete_checkpoint_is_resumed(tmp_path):
    checkpoint(tmp_path, 2)
    checkpoint(tmp_path, 10)
    assert resumable_checkpoint(tmp_path) == str(tmp_path / "checkpoint-10")


@pytest.mark.parametrize(
    "left",
    [
        (),  # mkdir only: killed as the save began
        ("config.json",),  # the weights' save under way, or the disk full
        ("config.json", "model.safetensors", "optimizer.pt"),
        ("trainer_state.json", "run_loss.tmp"),  # killed before run_loss.json was renamed
    ],
)
def test_unfinished_newer_checkpoints_are_removed_and_the_complete_one_resumed(
    tmp_path, left, caplog
):
    checkpoint(tmp_path, 100)
    checkpoint(tmp_path, 150, left)
    checkpoint(tmp_path, 200, ("config.json",))
    caplog.set_level("WARNING", logger="hhalign.train")
    assert resumable_checkpoint(tmp_path) == str(tmp_path / "checkpoint-100")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint-100"]
    assert "checkpoint-150" in caplog.text and "checkpoint-200" in caplog.text


def test_a_truncated_trainer_state_is_unfinished(tmp_path):
    checkpoint(tmp_path, 4)
    (checkpoint(tmp_path, 6) / "trainer_state.json").write_text('{"global_step": ')
    assert checkpoint_state(tmp_path / "checkpoint-6") == "partial"
    assert resumable_checkpoint(tmp_path).endswith("checkpoint-4")


def test_only_unfinished_checkpoints_mean_training_from_the_start(tmp_path):
    checkpoint(tmp_path, 50, ("config.json",))
    assert resumable_checkpoint(tmp_path) is None
    assert not (tmp_path / "checkpoint-50").exists()
    assert resumable_checkpoint(tmp_path / "absent") is None


def test_a_checkpoint_of_older_code_is_named(tmp_path):
    """Complete as transformers writes it, but without run_loss.json and with no complete
    checkpoint before it: the whole-run loss cannot be resumed exactly."""
    checkpoint(tmp_path, 8, ("trainer_state.json", "model.safetensors"))
    with pytest.raises(InputError, match=r"checkpoint-8/run_loss.json is missing .*older code"):
        resumable_checkpoint(tmp_path)
    assert (tmp_path / "checkpoint-8").is_dir()  # nothing removed


def test_a_save_killed_before_run_loss_falls_back(tmp_path):
    """trainer_state.json written, run_loss.json not yet: with a complete one before it, the
    newer one is an interrupted save, not older code."""
    checkpoint(tmp_path, 4)
    checkpoint(tmp_path, 6, ("trainer_state.json",))
    assert resumable_checkpoint(tmp_path).endswith("checkpoint-4")
    assert json.loads((tmp_path / "checkpoint-4" / "run_loss.json").read_text()) == {}


def test_a_fresh_job_does_not_say_it_removes_checkpoints(tmp_path):
    """A fresh training job's checkpoint directory holds its lock file alone: it logged
    "come from other inputs: removing them" with nothing to remove."""
    import argparse
    import logging

    from hhalign.cli import LOCK_FILE, prepare_checkpoints

    data = tmp_path / "d.parquet"
    data.write_text("x")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / LOCK_FILE).write_text("")
    args = argparse.Namespace(
        checkpoints=str(ckpt), section="{}", data=str(data), start="s", revision=None
    )
    said = []
    log = logging.getLogger("test_fresh_job")
    log.info = lambda msg, *a: said.append(msg % a)
    prepare_checkpoints(args, log)
    assert said == [] and (ckpt / LOCK_FILE).exists()
    (ckpt / "checkpoint-5").mkdir()
    args.section = '{"changed": 1}'
    prepare_checkpoints(args, log)
    assert len(said) == 1 and "removing them" in said[0]
    assert not (ckpt / "checkpoint-5").exists() and (ckpt / LOCK_FILE).exists()
