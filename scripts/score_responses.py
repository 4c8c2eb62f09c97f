"""Rule score_responses: reward-model scores of one variant's responses to one prompt set."""

import time

import pandas as pd
import torch

from hhalign.io import read_jsonl, stage_logger
from hhalign.models import load_model, load_tokenizer
from hhalign.scoring import score_pairs

log = stage_logger("score_responses", snakemake.log[0])
torch.set_num_threads(snakemake.threads)
cfg, w = snakemake.params.scoring, snakemake.wildcards
start = time.perf_counter()
device = "cuda" if torch.cuda.is_available() else "cpu"
judge, revision = snakemake.params.judge, snakemake.params.revision
tokenizer = load_tokenizer(judge, revision)
model = load_model(judge, revision, "reward", snakemake.params.safetensors_only, cfg["dtype"])
model = model.to(device)
log.info(
    "judge %s (revision %s, commit %s)",
    judge,
    revision,
    getattr(model.config, "_commit_hash", None),
)
rows = read_jsonl(snakemake.input.responses)
scores, truncated = score_pairs(
    model,
    tokenizer,
    [r["prompt"] for r in rows],
    [r["response"] for r in rows],
    cfg["batch_size"],
    cfg["max_length"],
    progress=True,
)
table = pd.DataFrame(
    {
        "id": [r["id"] for r in rows],
        "prompt": [r["prompt"] for r in rows],
        "response": [r["response"] for r in rows],
        "score": scores,
        "empty_response": [not r["response"].strip() for r in rows],
        "truncated_input": truncated,
    }
)
table.to_csv(snakemake.output.scores, index=False)
log.info(
    "%s/%s/%s: %d pairs scored on %s, mean %.3f, empty responses %d, truncated inputs %d; %.1f s",
    w.protocol,
    w.variant,
    w.prompt_set,
    len(table),
    device,
    table["score"].mean(),
    int(table["empty_response"].sum()),
    int(table["truncated_input"].sum()),
    time.perf_counter() - start,
)
