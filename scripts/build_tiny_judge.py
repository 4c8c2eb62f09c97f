"""Rule build_tiny_judge: a tiny judge of a kind (chat: Qwen2 sequence classifier; guard:
Qwen2 causal LM; both with a chat template) on a tokenizer trained as build_tiny_models
trains it, for multi-judge runs offline."""

import time

import torch

from hhalign.io import read_jsonl, stage_logger
from hhalign.tiny import tiny_judge, train_bpe, world_texts

log = stage_logger("build_tiny_judge", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
start = time.perf_counter()
cfg, judge = snakemake.params.tiny, snakemake.params.judge
texts = world_texts(row for path in snakemake.input.raw for row in read_jsonl(path))
bpe = train_bpe(texts, cfg["vocab_size"])
model, tokenizer = tiny_judge(bpe, judge["kind"], cfg["judge"], cfg["max_position_embeddings"],
                              cfg["seed"])  # fmt: skip
model.save_pretrained(snakemake.output.judge)
tokenizer.save_pretrained(snakemake.output.judge)
log.info(
    "judge %s (%s): %s, %d parameters, vocab %d -> %s; done in %.1f s",
    judge["name"], judge["kind"], type(model).__name__,
    sum(p.numel() for p in model.parameters()), len(tokenizer), snakemake.output.judge,
    time.perf_counter() - start,
)  # fmt: skip
