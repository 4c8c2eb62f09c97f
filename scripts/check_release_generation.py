"""Rule check_release_generation: the Base model answers the authors' released prompts
exactly as the paper protocol does; each response compared with the released one."""

import time

import pandas as pd
import torch

from hhalign.generation import respond
from hhalign.io import stage_logger, write_json
from hhalign.models import load_for_inference
from hhalign.release import compare_generations, read_prompts, read_responses, sources

log = stage_logger(
    "check_release_generation", snakemake.log[0], snakemake.output, snakemake.params.stale
)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
files, cfg, ref = sources(p.release), p.generation, p.model
model, tokenizer, device = load_for_inference(
    ref["path"], ref["revision"], "causal", ref["safetensors_only"], cfg["dtype"]
)
log.info("Base model %s (revision %s) on %s", ref["path"], ref["revision"], device)
tables = []
for prompt_set in ("harmful", "helpful"):
    t0 = time.perf_counter()
    prompts = read_prompts(files[f"prompts_{prompt_set}"])
    theirs = [r["response"] for r in read_responses(files[f"base_{prompt_set}"])]
    rows = [{"id": f"{prompt_set}-{i:03d}", "prompt": t} for i, t in enumerate(prompts)]
    ours = [r["response"] for r in respond(model, tokenizer, rows, cfg)]
    tokenize = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    tables.append(compare_generations(ours, theirs, tokenize, prompt_set))
    log.info(
        "%s: %d prompts answered in %.1f s", prompt_set, len(prompts), time.perf_counter() - t0
    )
table = pd.concat(tables, ignore_index=True)
table.to_csv(snakemake.output.table, index=False)
differing = table[~table["identical"]]
summary = {
    "responses": len(table),
    "identical": float(table["identical"].mean()),
    "min_identical": p.release["min_identical"],
    "mean_tokens_agreeing_where_different": (
        None if differing.empty else float(differing["tokens_agreeing"].mean())
    ),
    "first_differing": None if differing.empty else differing.iloc[0].to_dict(),
}
write_json(snakemake.output.summary, summary)
log.info("%s", summary)
