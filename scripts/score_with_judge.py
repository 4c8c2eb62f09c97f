"""Rules score_with_judge and score_with_guard: one judge beside the paper's scores one
variant's responses (a guard: the harmful set alone). The judge is loaded once and its
tokenizer checked for its kind before any response is read."""

import time

import torch

from hhalign.io import scored_line, stage_logger, write_scores
from hhalign.judges import judge_rows, load_judge
from hhalign.readers import read_generations, read_prompt_set

log = stage_logger("score_with_judge", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
cfg, w, judge = snakemake.params.scoring, snakemake.wildcards, snakemake.params.judge
start = time.perf_counter()
# Every response file is checked against its prompt set before the judge is loaded.
responses = {
    s: read_generations(
        snakemake.input[s],
        read_prompt_set(snakemake.input[f"{s}_prompts"], snakemake.params.samples),
    )
    for s in dict(snakemake.output.items())
}
model, tokenizer, device = load_judge(judge, snakemake.params.model, cfg["dtype"])
log.info(
    "judge %s (%s, %s) on %s", judge["name"], judge["kind"], snakemake.params.model["path"], device
)
for prompt_set in dict(snakemake.output.items()):
    t0 = time.perf_counter()
    table = judge_rows(judge, model, tokenizer, responses[prompt_set], cfg)
    write_scores(table, snakemake.output[prompt_set])
    where = f"{w.protocol}/{w.variant}/{prompt_set}"
    log.info("%s", scored_line(table, where, time.perf_counter() - t0))
log.info("done in %.1f s", time.perf_counter() - start)
