"""Rule generate_responses: greedy responses of one model variant to both prompt sets.

The model is loaded once; each prompt set gets its own output file.
"""

import time

import torch

from hhalign.generation import respond, summarize
from hhalign.io import stage_logger, write_jsonl
from hhalign.models import load_for_inference
from hhalign.readers import read_prompts

log = stage_logger("generate_responses", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
cfg, w, ref = snakemake.params.generation, snakemake.wildcards, snakemake.params.model
start = time.perf_counter()
prompt_rows = {s: read_prompts(snakemake.input[s]) for s in ("harmful", "helpful")}
model, tokenizer, device = load_for_inference(
    ref["path"], ref["revision"], "causal", ref["safetensors_only"], cfg["dtype"]
)
log.info(
    "%s/%s: %s loaded on %s in %.1f s",
    w.protocol,
    w.variant,
    ref["path"],
    device,
    time.perf_counter() - start,
)
for prompt_set in ("harmful", "helpful"):
    t0 = time.perf_counter()
    prompts = prompt_rows[prompt_set]
    rows = respond(model, tokenizer, prompts, cfg, progress=True)
    write_jsonl(snakemake.output[prompt_set], rows)
    log.info(
        "%s: %d prompts -> %s; %.1f s",
        prompt_set,
        len(prompts),
        summarize(rows, cfg["max_new_tokens"]),
        time.perf_counter() - t0,
    )
log.info("done in %.1f s", time.perf_counter() - start)
