# Alignment of OPT-350M with SFT and DPO on HH-RLHF (arXiv 2509.09055), reproduced and corrected.
# Table of contents: the config and its validation, then one rules file per stage.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/bench.smk"


onstart:
    start_run()


onsuccess:
    end_run()


onerror:
    end_run()


rule all:
    default_target: True
    input:
        default_targets(),


rule report_inputs:
    input:
        report_targets(),
