"""Shared command line of the training entry points (they run under `accelerate launch`)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import torch


def training_parser(description: str) -> argparse.ArgumentParser:
    """Arguments common to every training entry point."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--section", required=True, help="the stage's config section, as JSON")
    p.add_argument("--data", required=True, help="training set (parquet)")
    p.add_argument("--start", required=True, help="starting model: Hub id or directory")
    p.add_argument("--revision", default=None, help="Hub revision of --start")
    p.add_argument("--out", required=True, help="directory for the trained model")
    p.add_argument("--adapter-out", default=None, help="directory for the LoRA adapter alone")
    p.add_argument("--checkpoints", required=True, help="checkpoint directory (kept on failure)")
    p.add_argument("--history", required=True, help="log history JSON")
    p.add_argument("--summary", required=True, help="run summary JSON")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for this job")
    p.add_argument("--allow-pickle", action="store_true", help="allow .bin weights")
    return p


def set_threads(threads: int) -> int:
    """Split the job's threads between its processes, so the machine is never oversubscribed."""
    per_process = max(1, threads // int(os.environ.get("WORLD_SIZE", "1")))
    torch.set_num_threads(per_process)
    return per_process


def fingerprint(args: argparse.Namespace) -> str:
    """What a checkpoint was made from: config section, data and starting model."""
    data = Path(args.data).stat()
    key = [args.section, args.data, data.st_size, data.st_mtime_ns, args.start, args.revision]
    start = Path(args.start)
    if start.is_dir():
        key += sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in start.iterdir())
    return hashlib.sha256(json.dumps(key, default=str).encode()).hexdigest()


def prepare_checkpoints(args: argparse.Namespace, log) -> None:
    """Keep checkpoints only if they come from the same inputs; otherwise start afresh."""
    ckpt = Path(args.checkpoints)
    stamp = ckpt / "inputs.sha256"
    fp = fingerprint(args)
    if ckpt.is_dir() and (not stamp.is_file() or stamp.read_text() != fp):
        log.info("checkpoints in %s come from other inputs: removing them", ckpt)
        shutil.rmtree(ckpt)
    ckpt.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fp)


def remove_checkpoints(path: str | Path, root_name: str = "checkpoints") -> None:
    """Remove a finished job's checkpoints, then its parent directories that are left empty,
    up to and including the ``root_name`` directory (``results/checkpoints``)."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    for parent in path.parents:
        if not parent.is_dir() or any(parent.iterdir()):
            break
        parent.rmdir()
        if parent.name == root_name:
            break


def is_main_process() -> bool:
    """True in the process that writes files (rank 0, or the only one)."""
    return int(os.environ.get("RANK", "0")) == 0


def wait_for_stamp(args: argparse.Namespace, timeout_s: float = 120.0) -> None:
    """Non-main processes wait until rank 0 has vetted the checkpoint directory."""
    stamp, fp = Path(args.checkpoints) / "inputs.sha256", fingerprint(args)
    deadline = time.monotonic() + timeout_s
    while not (stamp.is_file() and stamp.read_text() == fp):
        if time.monotonic() > deadline:
            raise TimeoutError(f"rank 0 did not prepare {args.checkpoints} in {timeout_s} s")
        time.sleep(0.2)


def main(stage: str, train_fn) -> None:
    """Parse the command line, train with ``train_fn``, write history and summary.

    Checkpoints are removed once the run has finished: they only serve to
    resume an interrupted run, and must not leak into a later run.
    """
    from hhalign.io import stage_logger
    from hhalign.train import write_history

    args = training_parser(f"rule {stage}").parse_args()
    log = stage_logger(stage)
    threads = set_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    log.info("%d process(es), %d torch thread(s) each", world, threads)
    if is_main_process():
        prepare_checkpoints(args, log)
    else:
        wait_for_stamp(args)
    kwargs = {
        "section": json.loads(args.section),
        "data_path": args.data,
        "start": args.start,
        "revision": args.revision,
        "out_dir": args.out,
        "checkpoint_dir": args.checkpoints,
        "safetensors_only": not args.allow_pickle,
        "processes": world,
    }
    if args.adapter_out:
        kwargs["adapter_dir"] = args.adapter_out
    trainer, summary = train_fn(**kwargs)
    summary = {**summary, "processes": world, "threads_per_process": threads}
    if is_main_process():
        write_history(trainer, summary, args.history, args.summary)
        remove_checkpoints(args.checkpoints)
    log.info("summary: %s", json.dumps(summary, sort_keys=True))
