"""Rule select_prompts: sample the harmful and helpful evaluation prompts of one protocol."""

from hhalign.dataformats import prompt_rows
from hhalign.io import read_jsonl, stage_logger, write_json, write_jsonl
from hhalign.prompts import PromptRules, select_prompts

log = stage_logger("select_prompts", snakemake.log[0], snakemake.output)
cfg = snakemake.params.prompts


def rows_of(name: str) -> list:
    """One prompt set's rows, read in its format (the set's, else data.format)."""
    fmt = cfg[name].get("format") or snakemake.params.data_format
    path = snakemake.input[name]
    return prompt_rows(read_jsonl(path), fmt, name, path, f"prompts.{name}.format")


def source(name: str) -> dict:
    """Where a set's prompts come from, as each prompt row records it."""
    ref = cfg[name]
    return {"file": ref["file"]} if ref.get("file") else {k: ref[k] for k in ("subset", "split")}


rules = PromptRules.from_config(cfg)
harmful_rows = rows_of("harmful")
helpful_rows = rows_of("helpful")
harmful, helpful, rejects, n_candidates = select_prompts(
    harmful_rows, helpful_rows, rules, source("harmful"), source("helpful")
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
