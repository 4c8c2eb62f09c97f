"""Shared command line of the training entry points (they run under `accelerate launch`)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from hhalign.failures import directory_bytes
from hhalign.io import log_failure, stage_logger
from hhalign.lock import acquire
from hhalign.train import TrainingRun, write_history


def training_parser(description: str) -> argparse.ArgumentParser:
    """Arguments common to every training entry point."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--section", required=True, help="the stage's config section, as JSON")
    p.add_argument("--data", required=True, help="training set (parquet)")
    p.add_argument("--start", required=True, help="starting model: Hub id or directory")
    p.add_argument("--revision", default=None, help="Hub revision of --start")
    p.add_argument("--out", required=True, help="directory for the trained model")
    p.add_argument("--adapter-out", default=None, help="directory for the LoRA adapter alone")
    p.add_argument("--judge-kind", default="pair", help="how a reward model reads a pair")
    p.add_argument("--checkpoints", required=True, help="checkpoint directory (kept on failure)")
    p.add_argument("--history", required=True, help="log history JSON")
    p.add_argument("--summary", required=True, help="run summary JSON")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for this job")
    p.add_argument("--allow-pickle", action="store_true", help="allow .bin weights")
    return p


def set_threads(threads: int, processes: int) -> int:
    """Split the job's threads between its processes, so the machine is never oversubscribed."""
    per_process = max(1, threads // processes)
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


LOCK_FILE = ".lock"


def prepare_checkpoints(args: argparse.Namespace, log) -> None:
    """Keep checkpoints only if they come from the same inputs; otherwise start afresh
    (the lock file of this job stays)."""
    ckpt = Path(args.checkpoints)
    stamp = ckpt / "inputs.sha256"
    fp = fingerprint(args)
    kept = [p for p in ckpt.iterdir() if p.name != LOCK_FILE] if ckpt.is_dir() else []
    if kept and (not stamp.is_file() or stamp.read_text() != fp):
        # Said only when there is something to remove (a fresh job has its lock file alone).
        if any(p.name != stamp.name for p in kept):
            log.info("checkpoints in %s come from other inputs: removing them", ckpt)
        for path in kept:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    ckpt.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fp)


def tracker(out: str) -> str:
    """The tracker this job reports to (``HHALIGN_REPORT_TO``, set by the workflow from
    config ``training.report_to``), with TensorBoard's logs in
    ``HHALIGN_TRACKING_DIR/<protocol>/<run>`` (outside the checkpoints, which are removed)."""
    report_to = os.environ.get("HHALIGN_REPORT_TO", "none")
    root = os.environ.get("HHALIGN_TRACKING_DIR")
    if report_to == "tensorboard" and root:
        parts = Path(out).parts
        name = parts[parts.index("models") + 1 :] if "models" in parts else parts[-1:]
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(Path(root, *name))
    return report_to


def lock_checkpoints(path: str):
    """The job's lock on its checkpoint directory: an orphaned training job (its Snakemake
    run killed) and a rerun beside it must not write one directory."""
    return acquire(
        Path(path) / LOCK_FILE,
        f"checkpoint directory {path}",
        "an orphaned training job left by a killed Snakemake run: `kill <PID>`",
    )


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


def distributed_state():
    """accelerate's process state (one process, or one per GPU under ``accelerate launch``;
    on a CPU-only machine the processes talk over gloo)."""
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def main(stage: str, train_fn) -> None:
    """Run ``train`` under the job's log: a failure ends the log with its cause and fix
    (a full disk names the path and the space), as the script rules' logs do."""
    args = training_parser(f"rule {stage}").parse_args()
    log = stage_logger(stage)
    try:
        train(stage, train_fn, args, log)
    except KeyboardInterrupt:
        raise
    except BaseException as err:
        ckpts = sorted(Path(args.checkpoints).glob("checkpoint-*"))
        needed = directory_bytes(ckpts[0]) if ckpts else None
        writing = [args.checkpoints, args.out, args.history, args.summary]
        log_failure(log, err, writing, needed)
        raise SystemExit(1) from None


def train(stage: str, train_fn, args: argparse.Namespace, log) -> None:
    """Train with ``train_fn``, write history and summary.

    Rank 0 locks and vets the checkpoint directory while the others wait; checkpoints
    are removed once the run has finished: they only serve to resume an interrupted
    run, and must not leak into a later run.
    """
    state = distributed_state()
    threads = set_threads(args.threads, state.num_processes)
    log.info("%d process(es), %d torch thread(s) each", state.num_processes, threads)
    lock = None
    with state.main_process_first():
        if state.is_main_process:
            lock = lock_checkpoints(args.checkpoints)
            prepare_checkpoints(args, log)
    try:
        run = TrainingRun(
            section=json.loads(args.section),
            data=args.data,
            start=args.start,
            revision=args.revision,
            out_dir=args.out,
            adapter_dir=args.adapter_out,
            checkpoint_dir=args.checkpoints,
            safetensors_only=not args.allow_pickle,
            processes=state.num_processes,
            judge_kind=args.judge_kind,
            report_to=tracker(args.out),
        )
        trainer, summary = train_fn(run)
        summary = {**summary, "processes": state.num_processes, "threads_per_process": threads}
        if state.is_main_process:
            write_history(trainer, summary, args.history, args.summary)
            lock.release()
            remove_checkpoints(args.checkpoints)
    finally:
        if lock is not None:
            lock.release()
    log.info("summary: %s", json.dumps(summary, sort_keys=True))
