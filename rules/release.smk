# Release check: the paper protocol's prompts, the paper's judge and the Base model against
# the authors' released prompts, ratings and responses (a reviewer's first hour, no training).
from hhalign import release_fixture

RELEASE = f"{RESULTS}/release_check"
PAPER_PROMPTS = any_view("paper", "prompts")
# What a failed check leaves stale (Snakemake removes the failed job's own outputs): the
# summary of an earlier run, which it removes (hhalign.io.stage_logger).
SUMMARY = [f"{RELEASE}/summary.{ext}" for ext in ("md", "tex", "html")]


# release.fixture (the tiny preset) without release.local_dir: the check reads a copy of the
# authors' layout built from this run's paper protocol (rule build_release_fixture), offline.
# A run without the paper protocol has nothing to build it from: its check (never a default
# target) reads release.base_url instead.
config["release"] = (
    release_fixture.resolve(config["release"], RESULTS)
    if "paper" in PROTOCOLS
    else {**config["release"], "fixture": False}
)
FIXTURE = release_fixture.fixture_files(config["release"])


if FIXTURE:

    rule build_release_fixture:
        input:
            code=code("build_release_fixture.py"),
            prompts=expand(f"{PLAN.prompts_dir('paper')}/{{s}}.jsonl", s=PROMPT_SETS),
            scores=[
                PLAN.score_path(RESULTS, "paper", v, s)
                for v in release_fixture.MODELS
                for s in release_fixture.SETS
            ],
        output:
            FIXTURE,
        log:
            f"{RESULTS}/logs/build_release_fixture.log",
        benchmark:
            f"{RESULTS}/benchmarks/build_release_fixture.tsv"
        conda:
            "../envs/report.yaml"
        params:
            out=release_fixture.fixture_dir(RESULTS),
        script:
            "../scripts/build_release_fixture.py"


rule check_release_prompts:
    input:
        code=code("check_release_prompts.py"),
        harmful=PLAN.raw_path(
            PAPER_PROMPTS["harmful"]["subset"], PAPER_PROMPTS["harmful"]["split"]
        ),
        helpful=PLAN.raw_path(
            PAPER_PROMPTS["helpful"]["subset"], PAPER_PROMPTS["helpful"]["split"]
        ),
        fixture=FIXTURE,
    output:
        table=f"{RELEASE}/prompts.csv",
        summary=f"{RELEASE}/prompts.json",
    log:
        f"{RESULTS}/logs/check_release_prompts.log",
    benchmark:
        f"{RESULTS}/benchmarks/check_release_prompts.tsv"
    conda:
        "../envs/data.yaml"
    params:
        prompts=PAPER_PROMPTS,
        release=config["release"],
        stale=SUMMARY,
    script:
        "../scripts/check_release_prompts.py"


rule check_release_judge:
    input:
        code=code("check_release_judge.py"),
        judge=PLAN.judge_ref().input,
        fixture=FIXTURE,
    output:
        table=f"{RELEASE}/judge.csv",
        table1=f"{RELEASE}/judge_table1.csv",
        summary=f"{RELEASE}/judge.json",
    log:
        f"{RESULTS}/logs/check_release_judge.log",
    benchmark:
        f"{RESULTS}/benchmarks/check_release_judge.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: config["threads"]["evaluation"]
    resources:
        gpu=1,
    params:
        release=config["release"],
        scoring=config["scoring"],
        metrics=config["metrics"],
        judge=PLAN.judge_ref()._asdict(),
        stale=SUMMARY,
    script:
        "../scripts/check_release_judge.py"


rule check_release_generation:
    input:
        code=code("check_release_generation.py"),
        model=paper_base_ref().input,
        fixture=FIXTURE,
    output:
        table=f"{RELEASE}/generation.csv",
        summary=f"{RELEASE}/generation.json",
    log:
        f"{RESULTS}/logs/check_release_generation.log",
    benchmark:
        f"{RESULTS}/benchmarks/check_release_generation.tsv"
    conda:
        "../envs/evaluate.yaml"
    threads: config["threads"]["evaluation"]
    resources:
        gpu=1,
    params:
        release=config["release"],
        # The authors decoded greedily: the check does too, whatever generation.samples says.
        generation={**any_view("paper", "generation"), "samples": 1},
        model=paper_base_ref()._asdict(),
        stale=SUMMARY,
    script:
        "../scripts/check_release_generation.py"


rule summarize_release_check:
    input:
        rules.check_release_prompts.output.summary,
        rules.check_release_judge.output.summary,
        rules.check_release_generation.output.summary,
    output:
        markdown=SUMMARY[0],
        tex=SUMMARY[1],
        html=report(
            SUMMARY[2],
            caption="../report/release_check.rst",
            category="Release check",
            labels={"table": "release check"},
        ),
    log:
        f"{RESULTS}/logs/summarize_release_check.log",
    benchmark:
        f"{RESULTS}/benchmarks/summarize_release_check.tsv"
    conda:
        "../envs/report.yaml"
    params:
        release=config["release"],
        compared=release_fixture.describe(config["release"]),
        label=config["run_label"],
    script:
        "../scripts/summarize_release_check.py"
