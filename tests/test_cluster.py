"""Scale-out: the SLURM profile, GPU resources, the multi-GPU launcher, and the container."""

import re

import pytest
from support import ROOT, pins, snakemake

pytestmark = pytest.mark.dag

GPU_RULES = {
    "train_sft",
    "train_dpo",
    "train_reward_model",
    "generate_responses",
    "score_responses",
    "train_judge",
    "score_with_judge",
}


def dry_run_resources(*args: str) -> dict[str, list[str]]:
    """rule name -> the `resources:` lines of its jobs in a dry run."""
    out = snakemake("-n", *args)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    jobs: dict[str, list[str]] = {}
    rule = None
    for line in (out.stdout + out.stderr).splitlines():
        if m := re.match(r"^(?:local)?rule (\w+):", line):
            rule = m.group(1)
        elif rule and line.strip().startswith("resources:"):
            jobs.setdefault(rule, []).append(line.strip())
    return jobs


def test_slurm_profile_loads_and_gives_gpus_to_gpu_jobs_only(tmp_path):
    jobs = dry_run_resources(
        "--profile",
        "profiles/slurm",
        "--configfile",
        "presets/tiny.yaml",
        "--config",
        f"results_dir={tmp_path}",
    )
    assert set(jobs) >= GPU_RULES, sorted(jobs)
    for rule, lines in jobs.items():
        for line in lines:
            if rule in GPU_RULES:
                assert "gpu=1" in line and "slurm_partition=gpu" in line, (rule, line)
                assert "runtime=" in line and "mem_mb=" in line, (rule, line)
            elif rule != "all":
                assert "gpu=" not in line and "slurm_partition=cpu" in line, (rule, line)
    assert {"fetch_raw_data", "build_datasets", "make_tables", "plot_figures"} <= set(jobs)


def test_training_runs_one_process_per_gpu_of_the_job(tmp_path):
    """accelerate launch gets --num_processes from the job's gpu resource (set by a profile)."""
    out = snakemake(
        "-n",
        "-p",
        "--cores",
        "8",
        "--configfile",
        "presets/tiny.yaml",
        "--config",
        f"results_dir={tmp_path}",
        "training={'launcher': 'accelerate', 'accelerate_args': '--multi_gpu'}",
        "--set-resources",
        "train_sft:gpu=4",
        "train_dpo:gpu=2",
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    sft = [line for line in text.splitlines() if "train_sft.py --section" in line]
    dpo = [line for line in text.splitlines() if "train_dpo.py --section" in line]
    assert sft and all("accelerate.commands.launch --num_processes 4" in s for s in sft)
    assert dpo and all("--num_processes 2" in s and "--multi_gpu" in s for s in dpo)


def test_fixed_process_count_overrides_the_gpu_resource(tmp_path):
    """The 2-process CPU run: training.num_processes fixes the count where there is no GPU."""
    launch = tmp_path / "launch.yaml"
    launch.write_text(
        "training: {launcher: accelerate, num_processes: 2, accelerate_args: '--multi_gpu'}\n"
    )
    out = snakemake(
        "-n",
        "-p",
        "--cores",
        "2",
        "--configfile",
        "presets/tiny.yaml",
        str(launch),
        "--config",
        f"results_dir={tmp_path}",
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "accelerate.commands.launch --num_processes 2 --num_machines 1 --multi_gpu" in text


def test_container_installs_exactly_the_pinned_requirements():
    docker = (ROOT / "container" / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", docker, re.M), "base image must be Python 3.11"
    assert "COPY requirements.txt" in docker and "pip install -r requirements.txt" in docker
    req = pins((ROOT / "requirements.txt").read_text().splitlines())
    # Any version written into the recipe itself must be the pinned one.
    for name, version in re.findall(r"([A-Za-z0-9_.-]+)==([0-9][^\s\"']*)", docker):
        assert req.get(name.lower()) == version, f"Dockerfile pins {name}=={version}"
    assert f"'{req['torch']}'" in docker, "the torch check must name the pinned torch"
    for env in (ROOT / "envs").glob("*.yaml"):
        assert "python=3.11" in env.read_text(), env.name


@pytest.mark.parametrize("name", ["dvc", "snakemake-executor-plugin-slurm"])
def test_scale_out_tools_are_pinned(name):
    assert name in pins((ROOT / "requirements.txt").read_text().splitlines())


@pytest.mark.parametrize(("name", "kind"), [("ddp", "MULTI_GPU"), ("fsdp", "FSDP")])
def test_shipped_accelerate_configs_load(name, kind):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(ROOT / "accelerate" / f"{name}.yaml"))
    assert str(config.distributed_type).endswith(kind)
    if kind == "FSDP":
        assert config.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "OPTDecoderLayer"
