"""Rule score_responses: reward-model scores of one variant's responses to both prompt sets.

The judge is loaded once; each prompt set gets its own score file.
"""

import time

import torch

from hhalign.io import scored_line, stage_logger, write_scores
from hhalign.models import load_for_inference
from hhalign.readers import read_generations, read_prompt_set
from hhalign.scoring import score_table

log = stage_logger("score_responses", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
cfg, w, judge = snakemake.params.scoring, snakemake.wildcards, snakemake.params.judge
start = time.perf_counter()
# Every response file is checked against its prompt set before the judge is loaded.
responses = {
    s: read_generations(
        snakemake.input[s],
        read_prompt_set(snakemake.input[f"{s}_prompts"], snakemake.params.samples),
    )
    for s in ("harmful", "helpful")
}
model, tokenizer, device = load_for_inference(
    judge["path"], judge["revision"], "reward", judge["safetensors_only"], cfg["dtype"]
)
log.info("judge %s (revision %s) on %s", judge["path"], judge["revision"], device)
for prompt_set in ("harmful", "helpful"):
    t0 = time.perf_counter()
    table = score_table(model, tokenizer, responses[prompt_set], cfg, True)
    write_scores(table, snakemake.output[prompt_set])
    where = f"{w.protocol}/{w.variant}/{prompt_set}"
    log.info("%s", scored_line(table, where, time.perf_counter() - t0))
log.info("done in %.1f s", time.perf_counter() - start)
