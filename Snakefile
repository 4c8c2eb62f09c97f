# Alignment of OPT-350M with SFT and DPO on HH-RLHF (arXiv 2509.09055), reproduced and corrected.
# Table of contents: the config and its validation, then one rules file per stage.
import sys

from snakemake.utils import min_version

min_version("9.0")
sys.path.insert(0, f"{workflow.basedir}/scripts")
from hhalign.config import check_yaml

# A syntax error's file, line and column (Snakemake's message names none).
check_yaml("config.yaml")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"
include: "rules/labels.smk"
include: "rules/bench.smk"
include: "rules/release.smk"


onstart:
    start_run()


onsuccess:
    end_run()
    close_run()


onerror:
    end_run()


rule all:
    default_target: True
    input:
        PLAN.default_targets(),
        TRANSCRIPTS.values(),


rule report_inputs:
    input:
        PLAN.report_targets(),
        TRANSCRIPTS.values(),
