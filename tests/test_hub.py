"""The first real run, offline: the default configuration (data and models from the Hub at
the paper's pinned commits) from a Hugging Face cache laid out as huggingface_hub writes it,
and the failures of a run that cannot reach the Hub, each explained in its rule's log."""

import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub.errors import (
    GatedRepoError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from support import CORES, ROOT, snakemake

from hhalign.config import deep_merge, validate_config
from hhalign.hub import cause_and_fix
from hhalign.io import read_jsonl, write_jsonl
from hhalign.synthetic import generate_rows
from hhalign.tiny import build_tiny_world

SHARED_TEST = ROOT.parent / "shared" / "data" / "hh-rlhf" / "harmless-base" / "test.jsonl.gz"
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
POLICY, JUDGE, DATA = CONFIG["models"]["policy"], CONFIG["models"]["judge"], CONFIG["data"]["hub"]


def put(cache: Path, repo_type: str, repo_id: str, commit: str, files: dict[str, Path]) -> None:
    """Files into ``cache`` exactly as huggingface_hub stores them: content-addressed blobs,
    a snapshot per commit of relative symlinks, and refs/main naming the commit."""
    repo = cache / f"{repo_type}s--{repo_id.replace('/', '--')}"
    for name, src in files.items():
        data = src.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)


def pickle_only(model_dir: Path) -> None:
    """Turn a saved model into the layout of a repository that has only pytorch_model.bin."""
    from safetensors.torch import load_file

    state = load_file(model_dir / "model.safetensors")
    torch.save(state, model_dir / "pytorch_model.bin")
    (model_dir / "model.safetensors").unlink()


@pytest.fixture(scope="module")
def hub_cache(tmp_path_factory) -> Path:
    """A Hugging Face cache holding the paper's pinned commits: the dataset (the real
    harmless-base test split from ../shared where present, synthetic files for the other
    subsets and splits), the policy with model.safetensors, the judge with only a pickled
    pytorch_model.bin (as the real repositories have), both tiny models of the real classes."""
    root = tmp_path_factory.mktemp("hf")
    raw = root / "release"
    files = {}
    for subset in CONFIG["data"]["train_subsets"]:
        path = raw / subset / "train.jsonl.gz"
        write_jsonl(path, generate_rows(subset, "train", 120, 0, 0.0))
        files[f"{subset}/train.jsonl.gz"] = path
    helpful = raw / "helpful-base" / "test.jsonl.gz"
    write_jsonl(helpful, generate_rows("helpful-base", "test", 200, 0, 0.0))
    files["helpful-base/test.jsonl.gz"] = helpful
    harmless = raw / "harmless-base" / "test.jsonl.gz"
    if SHARED_TEST.is_file():
        shutil.copyfile(SHARED_TEST, harmless)
    else:  # a clone without ../shared: the same path with synthetic rows
        write_jsonl(harmless, generate_rows("harmless-base", "test", 300, 0, 0.0))
    files["harmless-base/test.jsonl.gz"] = harmless
    cache = root / "hub"
    put(cache, "dataset", DATA["repo_id"], DATA["revision"], files)
    texts = [r[k] for p in files.values() for r in read_jsonl(p) for k in ("chosen", "rejected")]
    tiny = {**CONFIG["tiny"], "max_position_embeddings": 2048}  # real prompts are long
    for role, (model, tok) in build_tiny_world(texts, tiny).items():
        out = root / "models" / role
        model.save_pretrained(out)
        tok.save_pretrained(out)
        spec = POLICY if role == "policy" else JUDGE
        if role == "judge":
            pickle_only(out)
        put(cache, "model", spec["name"], spec["revision"], {p.name: p for p in out.iterdir()})
    return cache


@pytest.fixture(scope="module")
def default_run(
    hub_cache, tmp_path_factory, unreachable_model_load, unreachable_runs
) -> tuple[Path, subprocess.CompletedProcess]:
    """The default configuration through Snakemake, offline from the cache, up to Table 1 and
    the manifest (what reads the Hub; the stages after scoring read only files, and run on
    the tiny preset in test_e2e). Only sizes are cut (one protocol, short training); sources
    and revisions are the paper's. (The unreachable-Hub model load and runs wait out their
    retries meanwhile.)"""
    results = tmp_path_factory.mktemp("run") / "results"
    small = {
        "results_dir": str(results),
        "protocols": ["paper"],
        "sft": {"max_train_samples": 48, "max_length": 128, "save_steps": 1000},
        "dpo": {"max_train_samples": 48, "max_length": 192, "max_prompt_length": 128},
        "generation": {"max_new_tokens": 16},
    }
    validate_config(deep_merge(CONFIG, small))
    cfg = results.parent / "small.yaml"
    cfg.write_text(yaml.safe_dump(small))
    env = {"HF_HUB_CACHE": str(hub_cache), "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "0"}
    targets = [str(results / "table1.csv"), str(results / "manifest.json")]
    out = snakemake("--cores", CORES, *targets, "--configfile", str(cfg), env=env)
    return results, out


@pytest.mark.slow
def test_the_default_configuration_runs_offline_from_the_cache(default_run):
    results, out = default_run
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    table = (results / "table1.csv").read_text().splitlines()
    assert len(table) == 1 + 4 and all(line.startswith("paper,") for line in table[1:])


@pytest.mark.slow
def test_the_manifest_and_the_logs_name_every_commit(default_run):
    results, out = default_run
    assert out.returncode == 0, out.stderr[-3000:]
    manifest = json.loads((results / "manifest.json").read_text())
    assert manifest["models"]["policy"]["commit"] == POLICY["revision"]
    assert manifest["models"]["judge"]["commit"] == JUDGE["revision"]
    assert set(manifest["data"]["files"].values()) == {DATA["revision"]}
    assert (
        manifest["libraries"]["torch"].startswith("2.13.0") and len(manifest["config_sha256"]) == 64
    )
    # What code and machine: the pipeline's commit, the command, the hardware, each stage's
    # times, and telemetry off for every job.
    assert len(manifest["code"]["commit"]) == 40 and isinstance(manifest["code"]["dirty"], bool)
    assert "snakemake" in manifest["snakemake"]["command"]
    assert manifest["snakemake"]["version"] == "9.27.1"
    assert manifest["hardware"]["cores"] >= 1 and isinstance(manifest["hardware"]["gpus"], list)
    assert manifest["environment"]["HF_HUB_DISABLE_TELEMETRY"] == "1"
    stage = manifest["stages"]["train_sft/paper_sft"]
    assert stage["start"] <= stage["end"] and stage["seconds"] > 0
    gen = (results / "logs/generate_responses/paper_base.log").read_text()
    assert f"commit {POLICY['revision']}) from model.safetensors" in gen
    score = (results / "logs/score_responses/paper_base.log").read_text()
    assert f"commit {JUDGE['revision']}) from pytorch_model.bin" in score
    assert "weights-only unpickler" in score  # the warning names the file and commit
    fetch = (results / "logs/fetch_raw_data/harmless-base_test.log").read_text()
    assert f"{DATA['repo_id']}@{DATA['revision']}" in fetch


def load_in_subprocess(cache: Path, name: str, revision: str, kind: str, **kw):
    """``load_model`` in a fresh interpreter reading only ``cache``, offline."""
    args = ", ".join(
        [repr(name), repr(revision), repr(kind)] + [f"{k}={v!r}" for k, v in kw.items()]
    )
    env = {
        **os.environ,
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT / "scripts"),
    }
    code = f"from hhalign.models import load_model\nload_model({args})\n"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


@pytest.mark.slow
def test_pickled_weights_are_refused_unless_the_model_allows_them(hub_cache):
    out = load_in_subprocess(
        hub_cache, JUDGE["name"], JUDGE["revision"], "reward", safetensors_only=True
    )
    assert out.returncode != 0
    assert "holds no safetensors weights" in out.stderr and "allow_pickle: true" in out.stderr


@pytest.mark.slow
def test_a_revision_missing_from_the_offline_cache_is_explained(hub_cache):
    out = load_in_subprocess(hub_cache, POLICY["name"], "0" * 40, "causal")
    assert out.returncode != 0
    assert f"model {POLICY['name']}@{'0' * 40}: it is not in the local Hugging Face cache" in (
        out.stderr
    )
    assert "Fix: point the model's source to local" in out.stderr


def test_causes_are_read_from_the_whole_exception_chain():
    def raised(outer: Exception, inner: Exception) -> Exception:
        try:
            try:
                raise inner
            except Exception as err:
                raise outer from err
        except Exception as err:
            return err

    offline = raised(OSError("cannot load"), LocalEntryNotFoundError("not cached"))
    assert "not in the local Hugging Face cache" in cause_and_fix(offline, "model", "abc")[0]
    full = raised(OSError("download failed"), OSError(errno.ENOSPC, "No space left on device"))
    assert cause_and_fix(full, "dataset", "abc")[0] == "the disk filled during the download"
    import httpx2

    response = httpx2.Response(401, request=httpx2.Request("GET", "http://127.0.0.1:9/x"))
    for kind, why in [
        (GatedRepoError, "the repository is gated"),
        (RepositoryNotFoundError, "the repository does not exist or is private"),
        (RevisionNotFoundError, "it has no revision 'abc'"),
    ]:
        err = raised(OSError("cannot load"), kind("from the Hub", response=response))
        assert cause_and_fix(err, "model", "abc")[0] == why
    other = cause_and_fix(ValueError("odd"), "dataset", "abc")
    assert other[0] == "ValueError: odd" and "data.source: local" in other[1]


DEAD = "http://127.0.0.1:9"  # a closed local port: the Hub and the audit URLs unreachable


@pytest.fixture(scope="module")
def unreachable_runs(tmp_path_factory) -> dict[str, tuple[subprocess.Popen, Path]]:
    """The data stage and the audit import with the Hub and the audit URLs unreachable,
    started early: they spend most of a minute in retries, idle, while the offline run
    works. name -> (process, results directory)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": DEAD,
        "HF_HOME": str(tmp_path_factory.mktemp("hf_dead")),
        "PYTHONHASHSEED": "0",
    }
    audit = json.dumps({"harmful": f"{DEAD}/h.json", "helpful": f"{DEAD}/p.json"})
    runs = {}
    for name, target, extra in (
        ("data", "data/raw/harmless-base/test.jsonl.gz", []),
        ("audit", "audit/table1.csv", [f"audit={audit}"]),
    ):
        results = tmp_path_factory.mktemp(f"dead_{name}") / "results"
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile")]
        cmd += ["--nolock", "--cores", "1", str(results / target)]
        cmd += ["--config", f"results_dir={results}", *extra]
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        runs[name] = (proc, results)
    return runs


@pytest.mark.slow
def test_no_network_data_and_audit_failures_are_explained_in_the_rules_logs(unreachable_runs):
    """Each rule fails with one line of cause and fix in its own log, and no partial output
    is left behind."""
    proc, results = unreachable_runs["data"]
    assert proc.wait() != 0 and not (results / "data/raw/harmless-base/test.jsonl.gz").exists()
    log = (results / "logs/fetch_raw_data/harmless-base_test.log").read_text()
    assert "the Hub cannot be reached" in log and "Fix: set data.source: local" in log
    proc, results = unreachable_runs["audit"]
    assert proc.wait() != 0
    log = (results / "audit/logs/import_audit_scores.log").read_text()
    assert f"cannot download the authors' release from {DEAD}/h.json" in log
    assert "set audit.harmful and audit.helpful to local paths" in log


@pytest.fixture(scope="module")
def unreachable_model_load(tmp_path_factory) -> subprocess.Popen:
    """A model load with the Hub unreachable (a closed local port), started early: it spends
    about a minute in huggingface_hub's retries, idle, while the offline run works."""
    code = (
        "from hhalign.models import load_model\n"
        f"load_model({POLICY['name']!r}, {POLICY['revision']!r}, 'causal')\n"
    )
    home = str(tmp_path_factory.mktemp("hf"))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "0",
        "HF_ENDPOINT": "http://127.0.0.1:9",
        "HF_HOME": home,
        "PYTHONPATH": str(ROOT / "scripts"),
    }
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_no_network_model_load_is_explained(unreachable_model_load):
    """A model job's loader with the Hub unreachable."""
    _, stderr = unreachable_model_load.communicate()
    assert unreachable_model_load.returncode != 0
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(f"hhalign.hub.HubError: model {POLICY['name']}@{POLICY['revision']}")
    assert "the Hub cannot be reached" in last and "Fix: point the model's source to local" in last
