"""Rule clean_pairs: the judge scores every DPO training pair; the pairs it ranks as the data
does (by more than the margin) are kept, the others written out with their scores."""

import json
import time
from pathlib import Path

import pandas as pd
import torch

from hhalign.clean import judge_pairs, split_pairs
from hhalign.io import stage_logger
from hhalign.models import load_for_inference

log = stage_logger("clean_pairs", snakemake.log[0], snakemake.output)
torch.set_num_threads(snakemake.threads)
p, out = snakemake.params, snakemake.output
start = time.perf_counter()
judge, tokenizer, device = load_for_inference(
    p.judge["path"],
    p.judge["revision"],
    "reward",
    p.judge["safetensors_only"],
    p.scoring["dtype"],
)
pairs = pd.read_parquet(snakemake.input.pairs)
scored = judge_pairs(
    judge,
    tokenizer,
    pairs,
    p.scoring["batch_size"],
    p.scoring["max_length"],
    p.scoring["max_batch_tokens"],
)
kept, dropped = split_pairs(scored, p.margin)
kept[pairs.columns].to_parquet(out.pairs)
dropped[["prompt", "chosen", "rejected", "chosen_score", "rejected_score", "margin"]].to_csv(
    out.dropped, index=False
)
summary = {
    "pairs_in": len(pairs),
    "kept": len(kept),
    "dropped": len(dropped),
    "margin": p.margin,
    "judge": p.judge["path"],
}
Path(out.summary).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
log.info("%s on %s; %.1f s", summary, device, time.perf_counter() - start)
