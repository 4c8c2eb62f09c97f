# Shared helpers: config validation, protocol views, and the paths of every stage.
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from hhalign.config import prepare, model_source

# Validates config.yaml (+ presets) and each protocol's view; stops naming the key on error.
VIEWS = prepare(config, workflow.basedir)
R = config["results_dir"]
PROTOCOLS = config["protocols"]
PROMPT_SETS = ["harmful", "helpful"]


wildcard_constraints:
    protocol="|".join(PROTOCOLS),
    prompt_set="harmful|helpful",
    split=r"[A-Za-z0-9_-]+",
    subset=r"[A-Za-z0-9_-]+",


def view(protocol, section):
    """One config section as the given protocol sees it."""
    return VIEWS[protocol][section]


def raw_path(subset, split):
    return f"{R}/data/raw/{subset}/{split}.jsonl.gz"


def train_raw_files():
    data = config["data"]
    return [raw_path(s, data["train_split"]) for s in data["train_subsets"]]


def prompt_raw_file(protocol, prompt_set):
    ref = view(protocol, "prompts")[prompt_set]
    return raw_path(ref["subset"], ref["split"])


def tiny_model_dir(role):
    return f"{R}/models/tiny/{role}"


def model_dir(protocol, variant):
    return f"{R}/models/{protocol}/{variant}"


def policy_start():
    """(name or path, revision) of the base model."""
    return model_source(config["models"]["policy"], tiny_model_dir("policy"))


def variant_start(protocol, variant):
    """Where a trained variant starts: DPO from the base, SFT+DPO from the SFT model."""
    return model_dir(protocol, "sft") if variant == "sft_dpo" else policy_start()[0]


def local_model_input(spec, tiny_dir):
    """A model directory the pipeline builds, as a rule input (nothing for Hub models)."""
    return [tiny_dir] if spec["source"] == "tiny" else []


def python_exe():
    """The interpreter for jobs: the conda env's under conda deployment, else Snakemake's own."""
    settings = getattr(workflow, "deployment_settings", None)
    methods = getattr(settings, "deployment_method", None) or set()
    return (
        "python" if any("conda" in str(m).lower() for m in methods) else sys.executable
    )


def launcher():
    """How training jobs start: plain python, or accelerate launch with N processes."""
    train = config["training"]
    if train["launcher"] == "python":
        return python_exe()
    return (
        f"{python_exe()} -m accelerate.commands.launch --num_processes "
        f"{train['num_processes']} --num_machines 1 {train['accelerate_args']}"
    )


def section_json(protocol, section):
    """A protocol's config section as JSON, handed to a training entry point."""
    return json.dumps(view(protocol, section), sort_keys=True)


def revision_arg(revision):
    return f"--revision {revision}" if revision else ""


def default_targets():
    """What `snakemake` builds with no target: every deliverable of the configured run."""
    trained = [v for v in config["variants"] if v != "base"]
    return [
        f"{R}/data/summary.json",
        *expand(f"{R}/prompts/{{protocol}}/summary.json", protocol=PROTOCOLS),
        *expand(
            f"{R}/train/{{protocol}}/{{variant}}/summary.json",
            protocol=PROTOCOLS,
            variant=trained,
        ),
    ]
