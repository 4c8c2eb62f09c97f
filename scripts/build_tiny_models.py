"""Rule build_tiny_models: the tiny policy and judge, built from config on the tiny BPE."""

import time

import torch

from hhalign.bpe import load_bpe
from hhalign.io import stage_logger
from hhalign.tiny import tiny_world

log = stage_logger("build_tiny_models", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
start = time.perf_counter()
world = tiny_world(load_bpe(snakemake.input.bpe), snakemake.params.tiny)
for role, out in (("policy", snakemake.output.policy), ("judge", snakemake.output.judge)):
    model, tokenizer = world[role]
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    n = sum(p.numel() for p in model.parameters())
    log.info(
        "%s: %s, %d parameters, vocab %d -> %s", role, type(model).__name__, n, len(tokenizer), out
    )
log.info("done in %.1f s", time.perf_counter() - start)
