# Shared helpers: config validation, protocol views, and the paths of every stage.
import json
import os
import re
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from hhalign.config import (
    ModelRef,
    model_source,
    prepare,
    protocol_view,
    run_name,
    split_run,
)
from hhalign.deps import code_inputs

# Validates config.yaml (+ presets) and each protocol's view; stops naming the key on error.
VIEWS = prepare(config, workflow.basedir)
RESULTS = config["results_dir"]
PROTOCOLS = config["protocols"]
PROMPT_SETS = ["harmful", "helpful"]
SEEDS = config["seeds"]
# Experiments: protocols that extend another (exploration: their claims are adjusted for
# false discoveries across the family, Benjamini-Hochberg).
EXPERIMENTS = [p for p in PROTOCOLS if config["protocol_overrides"][p].get("extends")]
AUDIT = (
    f"{RESULTS}/audit"  # tables and figures rebuilt from the authors' released scores
)


wildcard_constraints:
    protocol="|".join(PROTOCOLS),
    prompt_set="harmful|helpful",
    split=r"[A-Za-z0-9_-]+",
    subset=r"[A-Za-z0-9_-]+",
    variant=rf"({'|'.join(config['variants'])})(_seed\d+)?",
    report_dir="|".join(re.escape(d) for d in (RESULTS, AUDIT)),


def any_view(protocol, section):
    """A config section as ``protocol`` sees it, whether or not this run includes that
    protocol (the benchmark suite measures the paper's setup and estimates both)."""
    return (VIEWS.get(protocol) or protocol_view(config, protocol))[section]


def code(script):
    """A rule's entry script and every library module it imports: editing any reruns it."""
    return code_inputs(Path(workflow.basedir) / "scripts" / script)


def view(protocol, section):
    """One config section as the given protocol sees it."""
    return VIEWS[protocol][section]


def _key(*parts):
    return json.dumps(parts, sort_keys=True, default=str)


def train_key(protocol, run):
    """Everything a trained run's weights depend on: equal keys, equal models."""
    variant, seed = split_run(run, SEEDS)
    context = [view(protocol, s) for s in ("data", "models", "tiny", "training")]
    if variant == "base":
        return _key("base", view(protocol, "models")["policy"], view(protocol, "tiny"))
    if variant == "sft_dpo":
        sft = train_key(protocol, run_name("sft", seed, SEEDS))
        return _key("sft_dpo", view(protocol, "dpo"), seed, sft)
    section = "sft" if variant == "sft" else "dpo"
    return _key(variant, view(protocol, section), seed, context)


def prompts_key(protocol):
    return _key(view(protocol, "prompts"), view(protocol, "data"))


def evaluation_key(protocol, run):
    """Everything a run's generations and scores depend on."""
    return _key(
        train_key(protocol, run),
        prompts_key(protocol),
        view(protocol, "generation"),
        view(protocol, "scoring"),
        view(protocol, "models")["judge"],
    )


def owner(protocol, key, *args):
    """The first protocol (in config order) whose ``key(protocol, *args)`` equals this
    one's: its files serve both, so a stage two experiments share runs once."""
    mine = key(protocol, *args)
    return next(p for p in PROTOCOLS if key(p, *args) == mine)


def prompts_dir(protocol):
    return f"{RESULTS}/prompts/{owner(protocol, prompts_key)}"


def raw_path(subset, split):
    return f"{RESULTS}/data/raw/{subset}/{split}.jsonl.gz"


def local_raw_file(subset, split):
    """The release copy's file that fetch_raw_data copies when data.source is local (an
    input, so a corrected copy reruns the data stage and what follows)."""
    data = config["data"]
    if data["source"] != "local":
        return []
    return [f"{data['local_dir']}/{subset}/{split}.jsonl.gz"]


def train_raw_files():
    data = config["data"]
    return [raw_path(s, data["train_split"]) for s in data["train_subsets"]]


def prompt_raw_file(protocol, prompt_set):
    ref = view(protocol, "prompts")[prompt_set]
    return raw_path(ref["subset"], ref["split"])


def tiny_model_dir(role):
    return f"{RESULTS}/models/tiny/{role}"


def model_dir(protocol, run):
    """Where a trained run's weights are: under the protocol that owns that training."""
    return f"{RESULTS}/models/{owner(protocol, train_key, run)}/{run}"


def built_model(path):
    """A model directory this pipeline writes (always safetensors)."""
    return ModelRef(path, None, [path], True)


def tiny_policy_dir(protocol):
    """Where a protocol's tiny policy is built: the run's own (models/tiny/policy), or, for
    a protocol that changes tiny.policy (a model ladder: another family or size), under the
    first protocol with the same sizes (models/tiny/policy_<protocol>)."""
    if view(protocol, "tiny") == config["tiny"]:
        return tiny_model_dir("policy")
    first = owner(protocol, lambda p: _key(view(p, "tiny")))
    return f"{tiny_model_dir('policy')}_{first}"


def model_ref(spec, tiny_dir):
    """A configured model (Hub, local, tiny built in ``tiny_dir``, or our trained reward
    model). Loading refuses pickled weights (models.safetensors_only) unless the model's own
    allow_pickle says its pinned commit has none."""
    if spec["source"] == "trained":
        return built_model(f"{RESULTS}/models/reward")
    path, revision = model_source(spec, tiny_dir)
    return ModelRef(
        path,
        revision,
        [path] if spec["source"] == "tiny" else [],
        config["models"]["safetensors_only"]
        and (spec["source"] == "tiny" or not spec.get("allow_pickle", False)),
    )


def policy_ref(protocol):
    """A protocol's base model (a model ladder's protocols override models.policy or
    tiny.policy)."""
    return model_ref(view(protocol, "models")["policy"], tiny_policy_dir(protocol))


def judge_ref():
    """The judge that scores responses (the run's: protocols may not change it)."""
    return model_ref(config["models"]["judge"], tiny_model_dir("judge"))


def reward_base_ref():
    """Where the reward model's training starts."""
    return model_ref(config["reward_model"]["base"], tiny_model_dir("judge"))


def variant_ref(protocol, run):
    """A run's weights (``run``: a variant, with _seed<N> for seeds after the first): base
    is the policy itself, the others what training wrote."""
    if run == "base":
        return policy_ref(protocol)
    return built_model(model_dir(protocol, run))


def start_ref(protocol, run):
    """Where a trained run starts: SFT and DPO from the base, SFT+DPO from the SFT model of
    the same seed."""
    variant, seed = split_run(run, SEEDS)
    return variant_ref(
        protocol, run_name("sft", seed, SEEDS) if variant == "sft_dpo" else "base"
    )


def training_section(protocol, section, run):
    """A protocol's training section with the run's seed, as JSON for the entry point."""
    return section_json({**view(protocol, section), "seed": split_run(run, SEEDS)[1]})


def python_exe():
    """The interpreter for jobs: the conda env's under conda deployment, else Snakemake's own."""
    settings = getattr(workflow, "deployment_settings", None)
    methods = getattr(settings, "deployment_method", None) or set()
    return (
        "python" if any("conda" in str(m).lower() for m in methods) else sys.executable
    )


def launcher(gpus):
    """How a training job starts: plain python, or accelerate launch with one process per
    GPU the job holds (its ``gpu`` resource, set by a profile) unless config fixes the count.
    """
    train = config["training"]
    if train["launcher"] == "python":
        return python_exe()
    processes = train["num_processes"] or max(int(gpus), 1)
    return (
        f"{python_exe()} -m accelerate.commands.launch --num_processes {processes}"
        f" --num_machines 1 {train['accelerate_args']}"
    )


# Options added after runs existed, at the values that leave a run as it was: left out of a
# training job's section, so adding them to the config retrains nothing that exists.
SWITCHES_OFF = {
    "pad_to_multiple_of": None,
    "torch_compile": False,
    "clean_pairs": False,
}


def section_json(section):
    """A config section as JSON, handed to a training entry point (switches that are off
    left out)."""
    kept = {
        k: v
        for k, v in section.items()
        if k not in SWITCHES_OFF or SWITCHES_OFF[k] != v
    }
    return json.dumps(kept, sort_keys=True)


# The shell command of the three training rules; each gives its start model's arguments
# (ModelRef.args), and DPO the directory of its adapter.
TRAIN_COMMAND = (
    "{params.launch} {input.entry} --section {params.section:q} --data {input.data}"
    " {params.start} --out {output.model} {params.adapter} --checkpoints {params.checkpoints}"
    " --history {output.history} --summary {output.summary} --threads {threads} > {log} 2>&1"
)


def runs(seeds=None):
    """Run directory names in table order: Base once, each trained variant once per seed."""
    seeds = seeds or SEEDS
    return [
        run_name(v, seed, seeds)
        for v in config["variants"]
        for seed in (seeds[:1] if v == "base" else seeds)
    ]


def score_keys(protocols=None, seeds=None):
    """(protocol, run, prompt set) of every score file, in table order."""
    return [
        (p, r, s)
        for p in (protocols or PROTOCOLS)
        for r in runs(seeds)
        for s in PROMPT_SETS
    ]


def score_file(root, protocol, run, prompt_set):
    """The path of a score file, wildcards welcome (for the outputs of score_responses)."""
    return f"{root}/scores/{protocol}/{run}/{prompt_set}.csv"


def score_path(root, protocol, run, prompt_set):
    """The score file a table reads for (protocol, run): in the run's own results, the one
    of the protocol that owns that evaluation (the audit's are its own)."""
    if root != AUDIT:
        protocol = owner(protocol, evaluation_key, run)
    return score_file(root, protocol, run, prompt_set)


# Judges beside the paper's (config judges[1:]): each scores the same generations into
# results/judges/<name>/; a guard reads the harmful set alone.
JUDGES = {j["name"]: j for j in config["judges"][1:]}
JUDGE_SETS = {
    name: ["harmful"] if j["kind"] == "guard" else PROMPT_SETS
    for name, j in JUDGES.items()
}


def names_regex(names):
    """A wildcard constraint matching exactly ``names`` (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def judge_start_ref(name):
    """A judge's configured model: from the Hub or a directory, or the tiny one the
    pipeline builds (where training starts, for a judge with train: true)."""
    return model_ref(JUDGES[name]["model"], f"{tiny_model_dir('judge')}_{name}")


def extra_judge_ref(name):
    """The model a judge scores with: its configured one, or what rule train_judge made."""
    if JUDGES[name]["train"]:
        return built_model(f"{RESULTS}/models/judges/{name}")
    return judge_start_ref(name)


def check_judges_early():
    """A bad Hub or local judge (its tokenizer wrong for its kind) stops the run before any
    job starts; where the files are not here yet, the judge's scoring job checks first.
    """
    from hhalign.judges import check_before_start

    for name, judge in JUDGES.items():
        if judge["model"]["source"] in ("hub", "local"):
            ref = judge_start_ref(name)
            check_before_start(judge, ref.path, ref.revision)


check_judges_early()


def reading(name):
    """What a judge's scoring job needs of its entry (not its thresholds: changing them
    reruns only the comparison)."""
    return {k: JUDGES[name][k] for k in ("name", "kind", "guard")}


def judge_score_file(judge, protocol, run, prompt_set):
    """Where a judge's scores of one (protocol, run, prompt set) go (wildcards welcome)."""
    return f"{RESULTS}/scores/judges/{judge}/{protocol}/{run}/{prompt_set}.csv"


def judge_keys():
    """(judge, protocol, run, prompt set) of every extra judge's score file: one per
    evaluation the run owns (shared evaluations are judged once)."""
    keys = []
    for judge, sets in JUDGE_SETS.items():
        for p, r, s in score_keys():
            if s in sets and owner(p, evaluation_key, r) == p:
                keys.append((judge, p, r, s))
    return keys


def judged_files():
    """(keys, paths) of every judge's score files, the paper's judge first: (judge,
    protocol, run, prompt set) -> the file, under the protocol that owns the evaluation.
    """
    first = config["judges"][0]["name"]
    keys = [(first, *k) for k in score_keys()]
    keys += [(j, *k) for j in JUDGES for k in score_keys() if k[2] in JUDGE_SETS[j]]
    paths = [
        (
            score_path(RESULTS, p, r, s)
            if j == first
            else judge_score_file(j, owner(p, evaluation_key, r), r, s)
        )
        for j, p, r, s in keys
    ]
    return keys, paths


def judge_outputs():
    """What the judges comparison writes (rule compare_judges)."""
    out = f"{RESULTS}/judges"
    return {
        "judges_table1": f"{out}/table1.csv",
        "judges_thresholds": f"{out}/thresholds.csv",
        "judges_agreement": f"{out}/agreement.csv",
        "judges_claims": f"{out}/claims.csv",
        "judges_table1_html": f"{out}/table1.html",
        "judges_agreement_html": f"{out}/agreement.html",
        "judges_claims_html": f"{out}/claims.html",
        "judges_figure_pdf": f"{RESULTS}/figures/fig7_judges.pdf",
        "judges_figure_png": f"{RESULTS}/figures/fig7_judges.png",
    }


def report_keys(root):
    """Score files behind the tables in ``root``: the run's own, or the authors' release."""
    return score_keys(["paper"], [SEEDS[0]]) if root == AUDIT else score_keys()


def report_score_files(wildcards):
    """The score files behind the tables and figures of ``{report_dir}``."""
    root = wildcards.report_dir
    return [score_path(root, *k) for k in report_keys(root)]


def run_label(root):
    """What the run behind a report directory is: the config's run_label (empty for the
    paper setup); the audit holds the authors' own scores, so it needs none."""
    return "" if root == AUDIT else config["run_label"]


def report_files(root):
    """The deliverables of one report directory."""
    return {
        "table1": f"{root}/table1.csv",
        "table2": f"{root}/table2.csv",
        "table1_tex": f"{root}/tables/table1.tex",
        "table2_tex": f"{root}/tables/table2.tex",
        "macros": f"{root}/tables/macros.tex",
        "table1_html": f"{root}/tables/table1.html",
        "table2_html": f"{root}/tables/table2.html",
    }


def claims_files(root):
    """The claims deliverables of one report directory (rule make_claims)."""
    return {
        "claims": f"{root}/claims.csv",
        "pairs": f"{root}/pairs.csv",
        "claims_tex": f"{root}/tables/claims.tex",
        "claims_text": f"{root}/tables/claims_text.tex",
        "claims_macros": f"{root}/tables/claims_macros.tex",
        "claims_html": f"{root}/tables/claims.html",
        "pairs_html": f"{root}/tables/pairs.html",
        "figure_pdf": f"{root}/figures/fig4_thresholds.pdf",
        "figure_png": f"{root}/figures/fig4_thresholds.png",
    }


# Outputs shown in Snakemake's HTML report: key -> (caption file, category, labels).
REPORTED = {
    "table1_html": ("table1.rst", "Tables", {"table": "Table 1"}),
    "table2_html": ("table2.rst", "Tables", {"table": "Table 2"}),
    "claims_html": ("claims.rst", "Claims", {"table": "claims"}),
    "pairs_html": ("pairs.rst", "Claims", {"table": "model pairs"}),
    "figure_png": ("fig4.rst", "Claims", {"figure": "threshold sensitivity"}),
    "judges_table1_html": (
        "judges_table1.rst",
        "Judges",
        {"table": "Table 1 by judge"},
    ),
    "judges_agreement_html": ("judges_agreement.rst", "Judges", {"table": "agreement"}),
    "judges_claims_html": ("judges_claims.rst", "Judges", {"table": "claims by judge"}),
    "judges_figure_png": ("fig7.rst", "Judges", {"figure": "judges"}),
}


def reported(files, subcategory="{report_dir}"):
    """``files`` with the entries named in REPORTED flagged for the HTML report."""
    out = dict(files)
    for key, (caption, category, labels) in REPORTED.items():
        if key in out:
            flagged = report(
                out[key],
                caption=f"../report/{caption}",
                category=category,
                subcategory=subcategory,
                labels=labels,
            )
            out[key] = flagged
    return out


def training_histories():
    """(protocol, run) -> log_history.json of every training job of this run (the reward
    model, when the judge is trained, as ("all", "reward"))."""
    out = {}
    for p in PROTOCOLS:
        for r in runs():
            if r != "base":
                p = owner(p, train_key, r)  # a shared run is drawn once
                out[(p, r)] = f"{RESULTS}/train/{p}/{r}/log_history.json"
    if config["models"]["judge"]["source"] == "trained":
        out[("all", "reward")] = f"{RESULTS}/train/reward/log_history.json"
    for name, judge in JUDGES.items():
        if judge["train"]:
            out[("judges", name)] = f"{RESULTS}/train/judges/{name}/log_history.json"
    return out


def authors_logs_input():
    """The authors' logged training losses, for the paper protocol's curves (none when the
    run has no paper protocol or audit.train_logs is null)."""
    if "paper" not in PROTOCOLS or not config["audit"]["train_logs"]:
        return []
    return [f"{AUDIT}/train_logs.csv"]


def manifest_models():
    """role -> (model spec, the path it is read from) for the run manifest."""
    models = {}
    for (
        p
    ) in PROTOCOLS:  # one entry per distinct policy: "policy", then "policy@<protocol>"
        entry = (view(p, "models")["policy"], policy_ref(p).path)
        if entry not in models.values():
            models["policy" if not models else f"policy@{p}"] = entry
    models["judge"] = (config["models"]["judge"], judge_ref().path)
    # The other judges, as configured (where training starts, for a trained one).
    for name, judge in JUDGES.items():
        models[f"judge@{name}"] = (judge["model"], judge_start_ref(name).path)
    if config["models"]["judge"]["source"] == "trained":
        models["reward_model_base"] = (
            config["reward_model"]["base"],
            reward_base_ref().path,
        )
    return models


def raw_file_keys():
    """(subset, split) of every raw file the run reads: training sets and prompt sets."""
    keys = [(s, config["data"]["train_split"]) for s in config["data"]["train_subsets"]]
    for p in PROTOCOLS:
        for prompt_set in PROMPT_SETS:
            ref = view(p, "prompts")[prompt_set]
            keys.append((ref["subset"], ref["split"]))
    return sorted(set(keys))


FIGURES = ["fig1_rates", "fig2_scores", "fig3_means"]
OVERVIEW = [f"{RESULTS}/figures/{f}.png" for f in ("fig5_training", "fig6_data")]


def report_targets():
    """What the HTML report shows: every deliverable, the training and data figures, and
    the audit of the authors' released scores (audit.in_report; it downloads them)."""
    audit = []
    if config["audit"]["in_report"]:
        audit = [
            *reported_paths(report_files(AUDIT)),
            *reported_paths(claims_files(AUDIT)),
            *expand(f"{AUDIT}/figures/{{fig}}.png", fig=FIGURES),
        ]
    return [*default_targets(), *OVERVIEW, *audit]


def reported_paths(files):
    """The paths of ``files`` that the report shows."""
    return [path for key, path in files.items() if key in REPORTED]


def default_targets():
    """What `snakemake` builds with no target: every deliverable of the configured run."""
    trained = [r for r in runs() if r != "base"]
    return [
        f"{RESULTS}/data/summary.json",
        *sorted({f"{prompts_dir(p)}/summary.json" for p in PROTOCOLS}),
        *sorted(
            {
                f"{RESULTS}/train/{owner(p, train_key, r)}/{r}/summary.json"
                for p in PROTOCOLS
                for r in trained
            }
        ),
        *report_files(RESULTS).values(),
        *claims_files(RESULTS).values(),
        *expand(f"{RESULTS}/figures/{{fig}}.{{ext}}", fig=FIGURES, ext=["pdf", "png"]),
        f"{RESULTS}/manifest.json",
        *(judge_outputs().values() if JUDGES else []),
    ]


# Start-up and end of a real run (not dry runs, not the jobs Snakemake spawns).
RUN_LOCKS = []


def start_run():
    """Lock the results directory for this run (two checkouts or users writing one results
    tree would run the same jobs into the same files), then check its free space."""
    from snakemake.logging import logger

    from hhalign.lock import acquire

    what = f"results directory {RESULTS}"
    lock = acquire(
        f"{RESULTS}/.run.lock",
        what,
        "Ctrl-C in its terminal, or `kill <PID>`; or give this run its own results_dir",
    )
    RUN_LOCKS.append(lock)
    if lock.previous:
        logger.warning(lock.takeover_note(what))
    check_space(logger)


def check_space(logger):
    """Warn when results_dir has less free space than the plan writes (hhalign.space)."""
    from hhalign.failures import existing_parent
    from hhalign.space import plan_bytes, space_warning, weight_bytes

    trained, checkpointed = [], []
    for p, r in sorted(
        {(owner(p, train_key, r), r) for p in PROTOCOLS for r in runs() if r != "base"}
    ):
        ref = policy_ref(p)
        size = weight_bytes(ref.path, ref.revision)
        if size is None:
            logger.info(f"disk check skipped: {ref.path}'s weights are not on disk yet")
            return
        trained.append(size)
        variant = split_run(r, SEEDS)[0]
        if variant == "sft" or not view(p, "dpo")["lora"]["enabled"]:
            checkpointed.append(size)
    limit = max(config[s]["save_total_limit"] for s in ("sft", "dpo"))
    free = shutil.disk_usage(existing_parent(RESULTS)).free
    warning = space_warning(free, plan_bytes(trained, checkpointed, limit), RESULTS)
    if warning:
        logger.warning(warning)


def end_run():
    """Release the results directory."""
    while RUN_LOCKS:
        RUN_LOCKS.pop().release()
