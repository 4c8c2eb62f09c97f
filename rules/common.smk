# Shared helpers: the config and its run plan (scripts/hhalign/plan.py, unit-tested), and the
# few wrappers that need Snakemake (code inputs, the interpreter, report flags, start-up).
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from hhalign.config import launch_command, prepare
from hhalign.deps import code_inputs
from hhalign.methods import claims_extras, method_inputs
from hhalign.pages import transcript_files
from hhalign.plan import (
    CHOSEN,
    FIGURES,
    PROMPT_SETS,
    REPORTED,
    Plan,
    section_json,
)

# Hugging Face libraries send telemetry unless told not to: every job of a run inherits this.
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

# ---- The config and the plan ---------------------------------------------------------------
# Validates config.yaml (+ presets) and each protocol's view; stops naming the key on error.
PLAN = Plan(config, prepare(config, workflow.basedir))
RESULTS, AUDIT = PLAN.results, PLAN.audit
PROTOCOLS, SEEDS, JUDGES = PLAN.protocols, PLAN.seeds, PLAN.judges
MAIN_JUDGE = config["judges"][0]["name"]
# One transcript page per protocol, model and prompt set (rule write_transcripts).
TRANSCRIPTS = transcript_files(RESULTS, PROTOCOLS, PLAN.runs())
# The tracker reaches training jobs through their environment, not their command line or
# params: choosing one reruns nothing (scripts/hhalign/cli.py reads these).
os.environ.update(
    HHALIGN_REPORT_TO=config["training"]["report_to"],
    HHALIGN_TRACKING_DIR=f"{RESULTS}/tracking",
)
# A failed job's fix line is a command to paste: the run's config files, through the same
# channel (hhalign.readers.fix_line).
os.environ["HHALIGN_CONFIGFILES"] = " ".join(
    os.path.relpath(f) if Path(f).resolve().is_relative_to(Path.cwd()) else str(f)
    for f in workflow.overwrite_configfiles or ()
)


envvars:
    # Passed on to every job, on a cluster too.
    "HHALIGN_REPORT_TO",
    "HHALIGN_TRACKING_DIR",
    "HHALIGN_CONFIGFILES",
    "HF_HUB_DISABLE_TELEMETRY",


# A trained or Base run; the scoring rules also take the dataset's chosen answers.
VARIANTS = rf"({'|'.join(config['variants'])})(_seed\d+)?"
SCORED = rf"{VARIANTS}|{CHOSEN}"


wildcard_constraints:
    protocol="|".join(PROTOCOLS),
    prompt_set="harmful|helpful",
    split=r"[A-Za-z0-9_-]+",
    subset=r"[A-Za-z0-9_-]+",
    variant=SCORED,
    report_dir="|".join(re.escape(d) for d in (RESULTS, AUDIT)),


# ---- Helpers that need Snakemake's workflow object --------------------------------------------
def code(script):
    """A rule's entry script and every library module it imports: editing any reruns it.
    Paths relative to the working directory: a moved or re-cloned checkout with its results
    and .snakemake metadata sees the same inputs and reruns nothing."""
    paths = code_inputs(Path(workflow.basedir) / "scripts" / script)
    return [os.path.relpath(p) for p in paths]


def report_params():
    """The params shared by the report rules of a report directory (the score files they
    read, the seeds, the models, the run's label)."""
    return dict(
        score_keys=lambda w: PLAN.report_keys(w.report_dir),
        prompt_keys=report_prompt_keys,
        seeds=SEEDS,
        variants=config["variants"],
        label=lambda w: PLAN.run_label(w.report_dir),
    )


def any_view(protocol, section):
    """A config section as ``protocol`` sees it, whether or not this run includes that
    protocol (the benchmark suite measures the paper's setup and estimates both)."""
    from hhalign.config import protocol_view

    return (PLAN.views.get(protocol) or protocol_view(config, protocol))[section]


def python_exe():
    """The interpreter for jobs: the conda env's under conda deployment, else Snakemake's."""
    settings = getattr(workflow, "deployment_settings", None)
    methods = getattr(settings, "deployment_method", None) or set()
    uses_conda = any("conda" in str(m).lower() for m in methods)
    return "python" if uses_conda else sys.executable


def launcher(gpus):
    """A training job's command start (hhalign.plan.launch_command)."""
    return launch_command(python_exe(), config["training"], gpus)


# The shell command of the training rules; each gives its start model's arguments
# (ModelRef.args), and its own extra arguments (DPO's adapter directory, a judge's kind).
TRAIN_COMMAND = (
    "{params.launch} {input.entry} --section {params.section:q} --data {input.data}"
    " {params.start} --out {output.model} {params.extra} --checkpoints {params.checkpoints}"
    " --history {output.history} --summary {output.summary} --threads {threads} > {log} 2>&1"
)


def names_regex(names):
    """A wildcard constraint matching exactly ``names`` (nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) or "(?!)"


def judges_where(test):
    """A wildcard constraint matching the extra judges whose name passes ``test``."""
    return names_regex([n for n in JUDGES if test(n)])


def training_params(section, start, checkpoints, extra=""):
    """A training job's params (TRAIN_COMMAND): its config section as JSON, its start
    model's arguments, its checkpoint directory and extra arguments (each may be a function
    of the wildcards)."""
    return {
        "section": section,
        "start": start,
        "extra": extra,
        "checkpoints": checkpoints,
        "launch": lambda w, resources: launcher(resources.gpu),
    }


def reading(name):
    """What a judge's scoring job needs of its entry (not its thresholds: changing them
    reruns only the comparison)."""
    return {k: JUDGES[name][k] for k in ("name", "kind", "guard")}


def paper_base_ref():
    """The paper protocol's Base model, whether or not this run includes that protocol."""
    spec = any_view("paper", "models")["policy"]
    if "paper" in PROTOCOLS:
        return PLAN.policy_ref("paper")
    return PLAN.model_ref(spec, PLAN.tiny_model_dir("policy"))


def prompt_summaries():
    """Each protocol's prompts summary (aligned with PROTOCOLS; shared ones repeat)."""
    return [f"{PLAN.prompts_dir(p)}/summary.json" for p in PROTOCOLS]


def responses_per_prompt(protocol):
    """How many responses a protocol's models give each prompt (generation.samples)."""
    return PLAN.view(protocol, "generation")["samples"]


# What every score file answers: each protocol's prompt files, keyed (protocol, prompt set,
# responses per prompt), and the judges rule score_with_guard scores (hhalign.readers).
PROMPT_KEYS = [(p, s, responses_per_prompt(p)) for p in PROTOCOLS for s in PROMPT_SETS]
PROMPT_FILES = [f"{PLAN.prompts_dir(p)}/{s}.jsonl" for p, s, _ in PROMPT_KEYS]
GUARDS = [n for n in JUDGES if PLAN.judge_sets(n) == ["harmful"]]


def report_prompt_files(wildcards):
    """The prompt files the score files of ``{report_dir}`` answer (the audit's: none)."""
    return [] if wildcards.report_dir == AUDIT else PROMPT_FILES


def report_prompt_keys(wildcards):
    """``PROMPT_KEYS`` for ``{report_dir}`` (the audit's files agree among themselves)."""
    return [] if wildcards.report_dir == AUDIT else PROMPT_KEYS


def report_score_files(wildcards):
    """The score files behind the tables and figures of ``{report_dir}``."""
    root = wildcards.report_dir
    return [PLAN.score_path(root, *k) for k in PLAN.report_keys(root)]


def labels_inputs(wildcards):
    """A reviewer's labels and the sample's key for the claims of the run's own report
    directory (config labels; none without it, or for the audit's)."""
    if not config["labels"] or wildcards.report_dir != RESULTS:
        return {"labels": [], "key": []}
    return {"labels": config["labels"], "key": PLAN.label_files(RESULTS)["key"]}


def reported(files, subcategory="{report_dir}"):
    """``files`` with the entries named in REPORTED flagged for the HTML report."""
    out = dict(files)
    for key, (caption, category, labels) in REPORTED.items():
        if key in out:
            out[key] = report(
                out[key],
                caption=f"../report/{caption}",
                category=category,
                subcategory=subcategory,
                labels=labels,
            )
    return out


# ---- Start-up and end of a real run (not dry runs, not the jobs Snakemake spawns) ---------
RUN_LOCKS = []


def start_run():
    """Check the judges' tokenizers, lock the results directory (two checkouts writing one
    results tree would run the same jobs into the same files), record the invocation for
    the manifest, check the free space."""
    from snakemake.logging import logger

    from hhalign.judges import check_plan_judges
    from hhalign.lock import acquire
    from hhalign.manifest import record_invocation
    from hhalign.space import check_plan

    check_plan_judges(PLAN)  # before the lock: a failed check leaves nothing behind
    what = f"results directory {RESULTS}"
    fix = (
        "Ctrl-C in its terminal, or `kill <PID>`; or give this run its own results_dir"
    )
    lock = acquire(f"{RESULTS}/.run.lock", what, fix)
    RUN_LOCKS.append(lock)
    if lock.previous:
        logger.warning(lock.takeover_note(what))
    record_invocation(f"{RESULTS}/logs/invocations.jsonl", sys.argv)
    note = check_plan(PLAN)
    if note:
        getattr(logger, note[0])(note[1])


def end_run():
    """Release the results directory."""
    while RUN_LOCKS:
        RUN_LOCKS.pop().release()


def close_run():
    """Say where the results are: Table 1, the claims that hold, the flags, the paths of
    the report, the PDF and the HTML pages (hhalign.closing)."""
    from snakemake.logging import logger

    from hhalign.closing import closing_summary

    text = closing_summary(RESULTS)
    if text:
        logger.info(text)
