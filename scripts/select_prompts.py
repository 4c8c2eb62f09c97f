"""Rule select_prompts: sample the harmful and helpful evaluation prompts of one protocol."""

from hhalign.io import read_jsonl, stage_logger, write_json, write_jsonl
from hhalign.prompts import PromptRules, select_prompts

log = stage_logger("select_prompts", snakemake.log[0], snakemake.output)
cfg = snakemake.params.prompts
rules = PromptRules.from_config(cfg)
harmful_rows = read_jsonl(snakemake.input.harmful)
helpful_rows = read_jsonl(snakemake.input.helpful)
harmful, helpful, rejects, n_candidates = select_prompts(
    harmful_rows, helpful_rows, rules, dict(cfg["harmful"]), dict(cfg["helpful"])
)
write_jsonl(snakemake.output.harmful, harmful)
write_jsonl(snakemake.output.helpful, helpful)
write_jsonl(snakemake.output.rejects, rejects)
summary = {
    "protocol": snakemake.wildcards.protocol,
    "harmful_rows_in": len(harmful_rows),
    "helpful_rows_in": len(helpful_rows),
    "harmful_candidates": n_candidates,
    "harmful_out": len(harmful),
    "helpful_out": len(helpful),
    "rejects": len(rejects),
    "prompts_ending_with_cue": sum(p["prompt"].endswith("Assistant:") for p in harmful + helpful),
}
write_json(snakemake.output.summary, summary)
log.info("%s", summary)
