"""What a misbehaving machine leaves behind: locks held by other runs, full disks, and the
last line of a failed job's log."""

import errno
import os
import signal
import subprocess
import sys
import time

import pytest
from support import ROOT, heavy_imports, snakemake

from hhalign.failures import disk_full, failure_line, results_root
from hhalign.lock import LockedError, acquire, read_holder

HOLD = """
import sys, time
sys.path.insert(0, {scripts!r})
from hhalign.lock import acquire
lock = acquire({path!r}, "test", "fix")
print("held", flush=True)
time.sleep(120)
"""


def hold_lock(path) -> subprocess.Popen:
    """Another process that takes the lock at ``path`` and keeps it."""
    code = HOLD.format(scripts=str(ROOT / "scripts"), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_held_lock_names_its_holder(tmp_path):
    path = tmp_path / "d" / ".lock"
    proc = hold_lock(path)
    try:
        with pytest.raises(LockedError, match=rf"PID {proc.pid} on host .* Fix: wait"):
            acquire(path, "thing", "kill it")
    finally:
        proc.kill()
        proc.wait()


def test_a_stale_lock_is_taken_over_and_named(tmp_path):
    """The holder was killed (SIGKILL: no clean-up): its file stays, its flock is gone."""
    path = tmp_path / ".lock"
    proc = hold_lock(path)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_holder(path)["pid"] == proc.pid
    lock = acquire(path, "thing", "fix")
    assert lock.previous["pid"] == proc.pid
    assert f"PID {proc.pid}" in lock.takeover_note("thing")
    assert read_holder(path)["pid"] == os.getpid()
    lock.release()
    lock.release()  # twice is fine
    assert not path.exists()
    fresh = acquire(path, "thing", "fix")
    assert fresh.previous == {} and fresh.takeover_note("thing") == ""
    fresh.release()


def test_disk_full_is_found_in_every_shape():
    assert disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert disk_full(OSError(errno.EDQUOT, "Disk quota exceeded"))
    safetensors = RuntimeError(
        "Error while serializing: I/O error: No space left on device (os error 28)"
    )
    assert disk_full(safetensors)
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise ValueError("saving failed") from inner
    except ValueError as outer:
        assert disk_full(outer).errno == errno.ENOSPC
    assert disk_full(ValueError("a plain error")) is None
    assert disk_full(OSError(errno.EACCES, "Permission denied")) is None


def test_the_failure_line_names_path_space_and_fix(tmp_path):
    out = tmp_path / "results" / "checkpoints" / "paper" / "sft"
    line = failure_line(OSError(errno.ENOSPC, "No space left on device"), [str(out)], 2_500_000_000)
    assert line.startswith("failed: no space left on the disk")
    assert str(out) in line and "GB free under" in line and "about 2.50 GB needed" in line
    assert f"Fix: free space under {tmp_path / 'results'}" in line
    named = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.csv"))
    assert f"while writing {tmp_path / 'x.csv'}" in failure_line(named)
    assert failure_line(ValueError("bad\n value")) == "failed: ValueError: bad value"


def test_results_root_follows_the_layout():
    assert str(results_root("results/tiny/logs/train_sft/paper_sft.log")) == "results/tiny"
    assert str(results_root("/x/res/checkpoints/paper/sft")) == "/x/res"
    assert results_root("/tmp/elsewhere.txt") is None


DISK_FULL_SCRIPT = """
import sys
sys.path.insert(0, {scripts!r})
from tqdm import tqdm
from hhalign.io import stage_logger
log = stage_logger("write_it", {log!r}, ["/dev/full"])
bar = tqdm(range(10))
next(iter(bar))
with open("/dev/full", "w") as f:
    f.write("x" * 100000)
"""


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_script_rule_on_a_full_disk_ends_its_log_with_cause_and_fix(tmp_path):
    """/dev/full answers every write with ENOSPC, as a full filesystem does: the write's
    OSError has no path, so the line names the job's output."""
    log = tmp_path / "logs" / "x.log"
    code = DISK_FULL_SCRIPT.format(scripts=str(ROOT / "scripts"), log=str(log))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    last = log.read_text().strip().splitlines()[-1]
    assert "failed: no space left on the disk (or quota) while writing /dev/full" in last
    assert "Fix: free space under" in last
    assert "Traceback" in log.read_text()


def train_cli(tmp_path, **paths) -> subprocess.CompletedProcess:
    """The SFT entry point with bogus inputs (what fails first is under test)."""
    args = {
        "section": "{}",
        "data": str(tmp_path / "none.parquet"),
        "start": str(tmp_path / "none"),
        "out": str(tmp_path / "out"),
        "checkpoints": str(tmp_path / "ckpt"),
        "history": str(tmp_path / "h.json"),
        "summary": str(tmp_path / "s.json"),
        **paths,
    }
    cmd = [sys.executable, str(ROOT / "scripts" / "train_sft.py")]
    cmd += [x for k, v in args.items() for x in (f"--{k}", v)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "scripts")}
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


@pytest.mark.slow
def test_a_training_job_beside_an_orphan_stops_naming_its_pid(tmp_path):
    """An orphaned training job (its Snakemake run killed) still holds its checkpoint
    directory: a rerun's job stops at once, naming the PID, and removes nothing."""
    ckpt = tmp_path / "ckpt"
    (ckpt / "checkpoint-4").mkdir(parents=True)
    proc = hold_lock(ckpt / ".lock")
    try:
        out = train_cli(tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert f"failed: LockedError: checkpoint directory {ckpt} is in use by PID {proc.pid}" in last
    assert "orphaned training job" in last
    assert (ckpt / "checkpoint-4").is_dir()
    # The orphan gone (killed): the next job takes the lock and gets as far as its inputs.
    out = train_cli(tmp_path)
    assert "LockedError" not in out.stderr
    assert "ERROR failed: FileNotFoundError" in out.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_two_runs_on_one_results_directory(tmp_path):
    """Two working directories, one results_dir: the second run stops naming the first; once
    the first is killed (no clean-up), a rerun takes its stale lock over and says so."""
    results = tmp_path / "shared-results"
    target = str(results / "data" / "raw" / "harmless-base" / "test.jsonl.gz")
    args = ("--cores", "1", target, "--configfile", "presets/tiny.yaml", "--config")
    other = tmp_path / "checkout-b"  # a second checkout: its own config.yaml and presets
    other.mkdir()
    for name in ("config.yaml", "presets", "schemas"):
        (other / name).symlink_to(ROOT / name)
    first = hold_lock(results / ".run.lock")  # the first run, as its onstart left it
    try:
        out = snakemake(*args, f"results_dir={results}", cwd=other)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert out.returncode != 0
    assert f"results directory {results} is in use by PID {first.pid}" in out.stderr
    assert not os.path.exists(target)
    out = snakemake(*args, f"results_dir={results}", cwd=other)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"took over the lock of PID {first.pid}" in out.stderr
    assert os.path.exists(target) and not (results / ".run.lock").exists()


def test_the_plan_s_disk_needs():
    from hhalign.space import plan_bytes, space_warning

    gb = 1_000_000_000
    # OPT-350M (0.66 GB): SFT, DPO, SFT+DPO written whole; SFT checkpoints x2 x AdamW's 3.
    assert plan_bytes([0.66 * gb] * 3, [0.66 * gb], 2) == pytest.approx(0.66 * gb * (3 + 6))
    assert plan_bytes([], [], 2) == 0
    warning = space_warning(int(1 * gb), int(5.9 * gb), "results")
    assert "results has 1.0 GB free" in warning and "about 5.9 GB" in warning
    assert space_warning(6 * gb, 5 * gb, "results") is None
    assert space_warning(0, None, "results") is None


def test_the_start_up_checks_import_neither_torch_nor_transformers(tmp_path):
    """Every real Snakemake run calls start_run (rules/common.smk) in its own process: the
    disk check once imported torch and transformers to parse a Hub id (5 s of CPU a run)."""
    code = (
        "from hhalign.judges import check_plan_judges\n"
        "from hhalign.lock import acquire\n"
        "from hhalign.manifest import record_invocation\n"
        "from hhalign.space import check_plan, weight_bytes\n"
        f"assert weight_bytes({str(tmp_path)!r}, None) is None\n"
        "assert weight_bytes('facebook/opt-350m', 'abc') is None\n"
    )
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    assert heavy_imports(code, env) == []


def test_weight_bytes_of_a_local_model(tmp_path):
    from hhalign.space import weight_bytes

    (tmp_path / "model.safetensors").write_bytes(b"x" * 1234)
    (tmp_path / "config.json").write_text("{}")
    assert weight_bytes(str(tmp_path), None) == 1234
    assert weight_bytes(str(tmp_path / "empty"), None) is None  # not a dir, not a Hub id


@pytest.mark.slow
def test_after_a_kill_the_incomplete_job_is_rerun_without_extra_flags(tmp_path):
    """profiles/default sets rerun-incomplete: a job killed mid-way (SIGKILL to the whole
    run) is planned again by the next run, instead of an IncompleteFilesException."""
    results = tmp_path / "r"
    target = f"{results}/models/tiny/policy"
    args = [target, "--configfile", "presets/tiny.yaml", "--config", f"results_dir={results}"]
    cmd = [sys.executable, "-m", "snakemake", "--nolock", "--cores", "1", *args]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        log = results / "logs" / "build_tiny_models.log"
        while not log.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log.exists(), "build_tiny_models never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    out = snakemake("-n", "--cores", "1", *args)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "build_tiny_models" in out.stdout
    assert "Using workflow specific profile profiles/default" in out.stdout + out.stderr


def test_the_start_up_disk_check_on_a_plan(tmp_path, monkeypatch):
    """A local policy of 1 MB: the tiny paper+corrected plan writes 6 models + checkpoints."""
    import shutil as sh
    from collections import namedtuple

    from support import plan_of

    from hhalign import space

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "model.safetensors").write_bytes(b"x" * 1_000_000)
    local = {"source": "local", "name": str(policy)}
    plan = plan_of(models={"policy": local}, results_dir=str(tmp_path / "r"))
    assert space.check_plan(plan) is None  # plenty of room here
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda path: usage(10, 10, 1000))
    level, message = space.check_plan(plan)
    assert level == "warning" and "has 0.0 GB free" in message and "about 0.0" in message
    missing = plan_of(results_dir=str(tmp_path / "r2"))  # the Hub's weights are not here
    level, message = space.check_plan(missing)
    assert level == "info" and "not on disk yet" in message
