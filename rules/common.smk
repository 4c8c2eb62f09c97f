# Shared helpers: config validation, protocol views, and the paths of every stage.
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


def default_targets():
    """What `snakemake` builds with no target: every deliverable of the configured run."""
    return [
        f"{R}/data/summary.json",
        *expand(f"{R}/prompts/{{protocol}}/summary.json", protocol=PROTOCOLS),
    ]
