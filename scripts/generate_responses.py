"""Rule generate_responses: greedy responses of one model variant to one prompt set."""

import time

import torch

from hhalign.generation import generate, response_rows
from hhalign.io import read_jsonl, stage_logger, write_jsonl
from hhalign.models import load_model, load_tokenizer

log = stage_logger("generate_responses", snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg, w = snakemake.params.generation, snakemake.wildcards
start = time.perf_counter()
device = "cuda" if torch.cuda.is_available() else "cpu"
tokenizer = load_tokenizer(snakemake.params.model, snakemake.params.revision)
model = load_model(
    snakemake.params.model,
    snakemake.params.revision,
    "causal",
    snakemake.params.safetensors_only,
    cfg["dtype"],
).to(device)
prompts = read_jsonl(snakemake.input.prompts)
outputs = generate(
    model,
    tokenizer,
    [p["prompt"] for p in prompts],
    cfg["max_new_tokens"],
    cfg["batch_size"],
    progress=True,
)
rows = response_rows(tokenizer, prompts, outputs, cfg["extraction"])
write_jsonl(snakemake.output.responses, rows)
log.info(
    "%s/%s/%s: %d prompts -> %d responses on %s (%s); stopped at EOS %d, cut at a Human turn %d, "
    "hit the %d-token limit %d, empty %d; %.1f s",
    w.protocol,
    w.variant,
    w.prompt_set,
    len(prompts),
    len(rows),
    device,
    snakemake.params.model,
    sum(r["stopped_at_eos"] for r in rows),
    sum(r["cut_at_human"] for r in rows),
    cfg["max_new_tokens"],
    sum(r["hit_token_limit"] for r in rows),
    sum(not r["response"] for r in rows),
    time.perf_counter() - start,
)
