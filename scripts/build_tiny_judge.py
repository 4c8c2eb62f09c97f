"""Rule build_tiny_judge: a tiny judge of a kind (judges.KINDS: chat, a Qwen2 sequence
classifier; guard, a Qwen2 causal LM; both with a chat template) on the run's tiny BPE,
for multi-judge runs offline."""

import time

import torch

from hhalign.bpe import load_bpe
from hhalign.io import stage_logger
from hhalign.tiny_judges import tiny_judge

log = stage_logger("build_tiny_judge", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
start = time.perf_counter()
cfg, judge = snakemake.params.tiny, snakemake.params.judge
model, tokenizer = tiny_judge(
    load_bpe(snakemake.input.bpe),
    judge["kind"],
    cfg["judge"],
    cfg["max_position_embeddings"],
    cfg["seed"],
)
model.save_pretrained(snakemake.output.judge)
tokenizer.save_pretrained(snakemake.output.judge)
log.info(
    "judge %s (%s): %s, %d parameters, vocab %d -> %s; done in %.1f s",
    judge["name"],
    judge["kind"],
    type(model).__name__,
    sum(p.numel() for p in model.parameters()),
    len(tokenizer),
    snakemake.output.judge,
    time.perf_counter() - start,
)
