"""Configuration: schema validation with defaults, protocol views, and model references.

``config.yaml`` is the paper's setup. A protocol's view of it is the config
with ``protocol_overrides[protocol]`` merged in; both are validated against
the same JSON schema, so an unknown key or a wrong type anywhere stops the
run before any job starts, naming the key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, NamedTuple

import jsonschema
import yaml

SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "config.schema.yaml"


class ModelRef(NamedTuple):
    """Which model, from where: what a job loads (``path``: Hub id or directory, and its
    ``revision``), what a rule waits for (``input``: the directory when the pipeline builds
    it), and whether loading refuses pickled weights (``safetensors_only``)."""

    path: str
    revision: str | None
    input: list
    safetensors_only: bool

    def args(self) -> str:
        """The training entry points' start arguments: --start, --revision, --allow-pickle."""
        revision = f" --revision {self.revision}" if self.revision else ""
        pickle = "" if self.safetensors_only else " --allow-pickle"
        return f"--start {self.path}{revision}{pickle}"


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key and the fix."""


def check_yaml(path: str | Path) -> None:
    """Raise ``ConfigError`` naming the file, line and column of a YAML syntax error.

    Snakemake's own message ("Config file is not valid JSON or YAML") names neither.
    """
    try:
        yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError(
            f"{path}: YAML syntax error at {at}: {err.problem or err.context}. Fix the file "
            f"(indentation uses spaces only; lists and mappings close their brackets)"
        ) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None


def check_files(paths: list[str], base_dir: str | Path = ".") -> str:
    """Check config files as a run would read them (``snakemake --configfile`` stacks them
    in order): each file's YAML syntax, then the merged config against the schema, its
    cross-key checks and every protocol's view. Return what was checked; raise
    ``ConfigError`` naming the key and the reason."""
    merged: dict = {}
    for path in paths:
        check_yaml(path)
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: a config file is a mapping of keys, got {loaded!r}")
        merged = deep_merge(merged, loaded)
    views = prepare(merged, base_dir)
    return (
        f"{' + '.join(str(p) for p in paths)}: YAML syntax, the schema "
        f"({len(list(_leaf_keys(merged)))} keys with defaults), cross-key checks and the "
        f"protocol views {', '.join(views)}: valid"
    )


def _leaf_keys(config: dict, path: str = ""):
    """Dotted paths of a config's non-mapping values."""
    for key, value in config.items():
        if isinstance(value, dict) and value:
            yield from _leaf_keys(value, f"{path}{key}.")
        else:
            yield f"{path}{key}"


def main(argv: list[str]) -> int:
    """``python -m hhalign.config FILE...`` (make check-config): the files' YAML syntax and
    the merged config validated as the workflow validates it (Snakemake parses --configfile
    files before any of the workflow's code runs, and names neither file nor line)."""
    try:
        print(check_files(argv, SCHEMA.parents[1]))
    except ConfigError as err:
        print(f"{' + '.join(argv)}: {err}")
        return 1
    return 0


def load_schema(path: str | Path = SCHEMA) -> dict:
    """Read the YAML JSON schema (libyaml's parser where PyYAML has it: a Snakemake start
    validates each protocol's view, and the pure-Python parser took 56 ms a read)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(Path(path).read_text(), Loader=loader)


def _with_defaults(validator_class: type) -> type:
    """Extend a validator so that validating also fills in schema defaults."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub and name not in instance:
                instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def _key(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "<top level>"


def validate_config(config: dict, schema: dict | None = None, where: str = "config") -> dict:
    """Validate ``config`` in place (filling defaults) and return it.

    Raises ConfigError listing every problem as ``key: message``.
    """
    schema = schema if schema is not None else load_schema()
    errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_key(e)}: {e.message}" for e in errors]
        raise ConfigError(f"invalid {where}:\n" + "\n".join(lines))
    return config


def deep_merge(base: dict, override: dict) -> dict:
    """A copy of ``base`` with ``override`` merged in (dicts recursively, the rest replaced)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def override_chain(overrides: dict, protocol: str) -> list[dict]:
    """The override entries a protocol applies, in order: those of the protocol it
    ``extends`` (and so on up), then its own. An experiment is a protocol that extends
    another: ``{extends: corrected, dpo: {loss_type: ipo}}``."""
    chain, seen = [], []
    while protocol is not None:
        if protocol in seen:
            raise ConfigError(f"protocol_overrides: extends forms a cycle: {' -> '.join(seen)}")
        if protocol not in overrides:
            raise ConfigError(
                f"protocol {seen[-1]!r} extends {protocol!r}, which protocol_overrides lacks"
                if seen
                else f"protocol {protocol!r} has no protocol_overrides entry"
            )
        seen.append(protocol)
        chain.insert(0, overrides[protocol])
        protocol = overrides[protocol].get("extends")
    return chain


def protocol_view(config: dict, protocol: str, schema: dict | None = None) -> dict:
    """The config as one protocol sees it (``protocol_overrides[protocol]`` applied, after
    the entries of the protocols it extends)."""
    overrides = config.get("protocol_overrides", {})
    if protocol not in overrides:
        raise ConfigError(
            f"protocols lists {protocol!r} but protocol_overrides has no entry for it "
            f"(known: {sorted(overrides)}); add `protocol_overrides: {{{protocol}: {{}}}}`"
        )
    view = config
    for entry in override_chain(overrides, protocol):
        view = deep_merge(view, {k: v for k, v in entry.items() if k != "extends"})
    view = validate_config(view, schema, where=f"config for protocol {protocol!r}")
    check_rendering(view["generation"], protocol)
    check_dpo_loss(view["dpo"], protocol)
    return view


# TRL 1.16 loss types that read dpo.label_smoothing; the others ignore it.
SMOOTHED_LOSSES = {"robust", "exo_pair", "aot", "aot_unpaired"}


def check_dpo_loss(dpo: dict, protocol: str) -> None:
    """Refuse a label smoothing that TRL would silently ignore. The authors' TRL 0.16.1
    applied it to the sigmoid loss (conservative DPO); TRL removed that in 0.29, and
    1.16's sigmoid loss ignores ``label_smoothing`` without a word."""
    if dpo["loss_type"] == "robust" and not 0 <= dpo["label_smoothing"] < 0.5:
        raise ConfigError(
            f"protocol {protocol!r}: dpo.label_smoothing: {dpo['label_smoothing']} is the "
            "robust loss's label-flip rate and must lie in [0, 0.5). Fix: e.g. 0.1"
        )
    if dpo["label_smoothing"] and dpo["loss_type"] not in SMOOTHED_LOSSES:
        raise ConfigError(
            f"protocol {protocol!r}: dpo.label_smoothing: {dpo['label_smoothing']} has no "
            f"effect with dpo.loss_type: {dpo['loss_type']} in TRL 1.16 (conservative DPO, "
            "the sigmoid loss with label smoothing, was removed in TRL 0.29). Fix: "
            "dpo.label_smoothing: 0, or loss_type: robust (label flips at that rate)"
        )


def check_rendering(generation: dict, protocol: str) -> None:
    """A chat-template rendering is for instruct policies in protocols of one's own: never
    the paper's, and only with the extraction that decodes new tokens alone. Sampled
    decoding is never the paper's either (the authors decoded greedily)."""
    if protocol == "paper" and generation["samples"] > 1:
        raise ConfigError(
            f"generation.samples: {generation['samples']} is not allowed in the paper protocol "
            "(the authors decoded greedily, one response a prompt); set it under "
            "protocol_overrides of another protocol (e.g. corrected, or an experiment that "
            "extends paper)"
        )
    if generation["prompt_rendering"] != "chat_template":
        return
    if protocol == "paper":
        raise ConfigError(
            "generation.prompt_rendering: chat_template is not allowed in the paper protocol "
            "(the authors fed raw HH text); set it under protocol_overrides of another protocol"
        )
    if generation["extraction"] != "corrected":
        raise ConfigError(
            f"protocol {protocol!r}: generation.prompt_rendering: chat_template needs "
            "generation.extraction: corrected (the paper's extraction cuts len(prompt) "
            "characters from the decoded text, which a rendered prompt does not match)"
        )


def check_local_paths(config: dict, base_dir: str | Path = ".") -> None:
    """Fail when a configured local file or directory does not exist."""
    base = Path(base_dir)
    missing = []
    if config["data"]["source"] == "local":
        local = config["data"]["local_dir"]
        if not local or not (base / local).is_dir():
            missing.append(f"data.local_dir={local!r} (data.source is 'local')")
    for name in ("harmful", "helpful"):
        file = config["prompts"][name].get("file")
        if file and not (base / file).is_file():
            missing.append(f"prompts.{name}.file={file!r}")
    for role, spec in config["models"].items():
        is_local = isinstance(spec, dict) and spec.get("source") == "local"
        if is_local and not (base / spec["name"]).exists():
            missing.append(f"models.{role}.name={spec['name']!r} (source is 'local')")
    for i, judge in enumerate(config.get("judges", [])):
        spec = judge.get("model") or {}
        if spec.get("source") == "local" and not (base / spec["name"]).exists():
            missing.append(f"judges.{i}.model.name={spec['name']!r} (source is 'local')")
    if missing:
        raise ConfigError(
            "configured local paths do not exist:\n  "
            + "\n  ".join(missing)
            + "\nFix the path, or choose another source (hub, synthetic, tiny)."
        )


# What one run shares across its protocols: the data, the judge and the tiny world's
# tokenizer. A protocol may change the policy (models.policy, tiny.policy), not these.
RUN_WIDE = [
    ("data",),
    ("synthetic",),
    ("reward_model",),
    ("models", "judge"),
    ("judges",),
    ("threads",),
    ("models", "safetensors_only"),
    ("tiny", "seed"),
    ("tiny", "vocab_size"),
    ("tiny", "max_position_embeddings"),
    ("tiny", "judge"),
]


def check_run_wide(config: dict, views: dict[str, dict]) -> None:
    """Fail when a protocol overrides a run-wide setting, which its jobs would ignore."""
    for protocol, view in views.items():
        for path in RUN_WIDE:
            mine, run = view, config
            for key in path:
                mine, run = mine[key], run[key]
            if mine != run:
                key = ".".join(path)
                raise ConfigError(
                    f"protocol_overrides.{protocol} changes {key}, which is the run's, not a "
                    f"protocol's (one data build, one judge, one tiny tokenizer). Fix: set "
                    f"{key} at the top level, or run the protocol with its own config"
                )


def check_judges(judges: list[dict]) -> None:
    """The first judge is the paper's (model null: models.judge); every other names its
    model; names are unique."""
    names = [j["name"] for j in judges]
    if len(set(names)) < len(names):
        raise ConfigError(f"judges: names must be unique, got {names}")
    if judges[0]["model"] is not None:
        raise ConfigError(
            f"judges[0] ({names[0]!r}) is the paper's judge: its model is models.judge. "
            "Fix: model: null there, and set models.judge"
        )
    for judge in judges[1:]:
        if judge["model"] is None:
            raise ConfigError(f"judge {judge['name']!r} has no model. Fix: judges[].model")
        if judge["model"]["source"] == "trained":
            raise ConfigError(
                f"judge {judge['name']!r}: source trained is the first judge's alone "
                "(models.judge). Fix: train: true, with the model training starts from"
            )


def check_claims(claims: dict) -> None:
    """The threshold band must lie on the scanned grid: a band beyond the scan made every
    rate claim "not separable", silently."""
    band, scan, step = claims["threshold_band"], claims["threshold_scan"], claims["threshold_step"]
    if band > scan:
        raise ConfigError(
            f"claims.threshold_band: {band} exceeds claims.threshold_scan: {scan}, so no "
            "rate claim could ever be stable. Fix: a band within the scan"
        )
    if abs(band / step - round(band / step)) > 1e-9:
        raise ConfigError(
            f"claims.threshold_band: {band} is not a multiple of claims.threshold_step: "
            f"{step}, so the band's edges are not on the scanned grid. Fix: a multiple"
        )


def reward_is_judge(config: dict) -> str | None:
    """The judge RLOO's reward model is, or None: the trained reward model is the first
    judge when models.judge.source is trained; a judge name is that judge."""
    reward = config["methods"]["rloo"]["reward_model"]
    names = [j["name"] for j in config["judges"]]
    if reward == "trained":
        return names[0] if config["models"]["judge"]["source"] == "trained" else None
    return reward if reward in names else None


def check_methods(config: dict) -> None:
    """Refuse methods settings a run could not honour: a start model that is not trained,
    an equal budget without SFT+DPO, RLOO's reward model unknown or one of the judges
    (unless ``methods.allow_reward_is_judge``), a batch RLOO cannot split into groups."""
    variants, methods = config["variants"], config["methods"]
    # The methods are the sections of `methods` that are mappings (hhalign.methods.METHODS).
    chosen = [v for v in variants if isinstance(methods.get(v), dict)]
    for name in chosen:
        if methods[name]["start"] == "sft" and "sft" not in variants:
            raise ConfigError(
                f"methods.{name}.start: sft, but variants has no sft. Fix: add sft to "
                "variants, or start: base"
            )
    if chosen and methods["equal_budget"] and not {"sft", "sft_dpo"} <= set(variants):
        raise ConfigError(
            "methods.equal_budget: true needs sft and sft_dpo in variants (the budget is "
            "their two stages' tokens). Fix: add them, or equal_budget: false"
        )
    if "rloo" not in chosen:
        return
    rloo = methods["rloo"]
    names = [j["name"] for j in config["judges"]]
    if rloo["reward_model"] not in ["trained", *names]:
        raise ConfigError(
            f"methods.rloo.reward_model: {rloo['reward_model']!r} is neither trained nor a "
            f"judge ({names}). Fix: trained (rule train_reward_model's model)"
        )
    judge = reward_is_judge(config)
    if judge and not methods["allow_reward_is_judge"]:
        raise ConfigError(
            f"methods.rloo.reward_model is judge {judge!r}: RLOO would optimise the judge "
            "that evaluates it. Fix: a reward model apart from the judges (models.judge not "
            "source trained, or another judge), or methods.allow_reward_is_judge: true to "
            "show reward hacking on purpose (the report says so)"
        )
    if rloo["per_device_train_batch_size"] % rloo["num_generations"]:
        raise ConfigError(
            f"methods.rloo.per_device_train_batch_size: {rloo['per_device_train_batch_size']} "
            f"is not a multiple of num_generations: {rloo['num_generations']} (TRL samples "
            "whole groups a batch). Fix: a multiple"
        )


def prepare(config: dict, base_dir: str | Path = ".") -> dict[str, dict]:
    """Validate the config and every protocol view; return the views by protocol."""
    schema = load_schema()
    validate_config(config, schema)
    check_judges(config["judges"])
    check_claims(config["claims"])
    check_methods(config)
    check_local_paths(config, base_dir)
    views = {p: protocol_view(config, p, schema) for p in config["protocols"]}
    check_run_wide(config, views)
    return views


def is_pinned(revision: str | None) -> bool:
    """True for a full 40-hex commit id, the only revision that cannot move."""
    return bool(revision) and len(revision) == 40 and all(c in "0123456789abcdef" for c in revision)


def model_source(spec: dict[str, Any], tiny_dir: str) -> tuple[str, str | None]:
    """Resolve a model spec to (name or path, revision) for from_pretrained.

    ``tiny`` models live under ``tiny_dir``; local paths and built models
    carry no revision.
    """
    if spec["source"] == "hub":
        return spec["name"], spec["revision"]
    if spec["source"] == "tiny":
        return tiny_dir, None
    if spec["source"] == "local":
        return spec["name"], None
    raise ConfigError(f"model source {spec['source']!r} is resolved by the pipeline, not here")


def launch_command(python: str, training: dict, gpus: int) -> str:
    """How a training job starts: plain python, or accelerate launch with one process per
    GPU the job holds unless training.num_processes fixes the count."""
    if training["launcher"] == "python":
        return python
    processes = training["num_processes"] or max(int(gpus), 1)
    return (
        f"{python} -m accelerate.commands.launch --num_processes {processes}"
        f" --num_machines 1 {training['accelerate_args']}"
    )


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
