"""Rule write_chosen_responses: the dataset's chosen answer to each evaluation prompt, as a
response file the judges score like a model's (the reference of the win rate)."""

from hhalign.io import stage_logger, write_jsonl
from hhalign.prompts import chosen_rows
from hhalign.readers import read_prompts

log = stage_logger("write_chosen_responses", snakemake.log[0], snakemake.output)
for prompt_set in ("harmful", "helpful"):
    path = snakemake.input[prompt_set]
    rows = chosen_rows(read_prompts(path), path)
    write_jsonl(snakemake.output[prompt_set], rows)
    empty = sum(not r["response"] for r in rows)
    log.info(
        "%s: %d prompts -> %d chosen answers (%d empty: no final Assistant turn)",
        prompt_set,
        len(rows),
        len(rows),
        empty,
    )
