"""Rule check_release_prompts: the paper protocol's prompts against the authors' released
ones, text for text and in order (and, for other counts, whether ours are their first N)."""

from hhalign.io import read_jsonl, stage_logger, write_json
from hhalign.prompts import PromptRules, select_prompts
from hhalign.release import compare_prompts, prefix_relation, read_prompts, sources
from hhalign.release_fixture import describe

log = stage_logger(
    "check_release_prompts", snakemake.log[0], snakemake.output, snakemake.params.stale
)
cfg, files = snakemake.params.prompts, sources(snakemake.params.release)
ours = select_prompts(
    read_jsonl(snakemake.input.harmful),
    read_jsonl(snakemake.input.helpful),
    PromptRules.from_config(cfg),
    dict(cfg["harmful"]),
    dict(cfg["helpful"]),
)[:2]
tables, summary = [], {}
for prompt_set, rows in zip(("harmful", "helpful"), ours, strict=True):
    mine = [r["prompt"] for r in rows]
    theirs = read_prompts(files[f"prompts_{prompt_set}"])
    table = compare_prompts(mine, theirs, prompt_set)
    tables.append(table)
    differing = table[~table["identical"]]
    summary[prompt_set] = {
        "released": len(theirs),
        "ours": len(mine),
        "identical": int(table["identical"].sum()),
        "relation": prefix_relation(mine, theirs, describe(snakemake.params.release)[1]),
        "first_differing": None if differing.empty else differing.iloc[0].to_dict(),
    }
    log.info("%s: %s", prompt_set, summary[prompt_set])
__import__("pandas").concat(tables).to_csv(snakemake.output.table, index=False)
write_json(snakemake.output.summary, summary)
