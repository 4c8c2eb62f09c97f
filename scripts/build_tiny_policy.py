"""Rule build_tiny_policy: the tiny policy of a protocol that changes tiny.policy (a model
ladder's other family or size), on the run's tiny BPE."""

import time

import torch

from hhalign.bpe import load_bpe
from hhalign.io import stage_logger
from hhalign.tiny import build_tiny_policy

log = stage_logger("build_tiny_policy", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
start = time.perf_counter()
model, tokenizer = build_tiny_policy(load_bpe(snakemake.input.bpe), snakemake.params.tiny)
model.save_pretrained(snakemake.output.policy)
tokenizer.save_pretrained(snakemake.output.policy)
log.info(
    "protocol %s: %s, %d parameters, vocab %d -> %s; done in %.1f s",
    snakemake.wildcards.protocol,
    type(model).__name__,
    sum(p.numel() for p in model.parameters()),
    len(tokenizer),
    snakemake.output.policy,
    time.perf_counter() - start,
)
