"""Rule run_benchmark: the performance suite, the authors' way vs ours, on the same inputs."""

import time
from pathlib import Path

import torch

from hhalign.bench import run_suite, write_outputs
from hhalign.bench.suite import step_overhead, study_plans
from hhalign.io import stage_logger

log = stage_logger("run_benchmark", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
start = time.perf_counter()
summary, env = run_suite(
    p.bench,
    p.sft,
    p.dpo,
    p.generation,
    p.scoring,
    progress=lambda row: log.info("%s", row),
    methods=p.methods,
)
overhead = step_overhead(p.bench, p.sft, p.dpo, progress=lambda row: log.info("%s", row))
plans = study_plans({"sft": p.sft, "dpo": p.dpo, "generation": p.generation}, p.corrected)
write_outputs(summary, env, p.bench, Path(snakemake.output.summary).parent, plans, overhead)
log.info("%s; %d pairs timed in %.1f s", env, len(summary), time.perf_counter() - start)
