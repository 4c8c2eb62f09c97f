"""Rule build_tiny_models: train a BPE tokenizer on the synthetic text, build the tiny models."""

import time

import torch

from hhalign.io import read_jsonl, stage_logger
from hhalign.tiny import build_tiny_world, world_texts

log = stage_logger("build_tiny_models", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
start = time.perf_counter()
texts = world_texts(row for path in snakemake.input.raw for row in read_jsonl(path))
world = build_tiny_world(texts, snakemake.params.tiny)
for role, out in (("policy", snakemake.output.policy), ("judge", snakemake.output.judge)):
    model, tokenizer = world[role]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n = sum(p.numel() for p in model.parameters())
    log.info(
        "%s: %s, %d parameters, vocab %d -> %s", role, type(model).__name__, n, len(tokenizer), out
    )
log.info(
    "trained the tokenizer on %d texts; done in %.1f s", len(texts), time.perf_counter() - start
)
