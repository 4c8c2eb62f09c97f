"""Rule make_tables: Tables 1-2 (CSV and LaTeX) and the LaTeX macros, from score files."""

from hhalign.across_seeds import with_seed_summary
from hhalign.io import stage_logger
from hhalign.metrics import RATES, table1, table2
from hhalign.readers import prompt_sets, read_score_files
from hhalign.tables import write_tables

log = stage_logger("make_tables", snakemake.log[0], snakemake.output)
p = snakemake.params
prompts = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys) if p.prompt_keys else None
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds, prompts)
t1 = table1(scores, p.metrics, p.variants)
t1 = with_seed_summary(scores, t1, p.variants, {**p.claims, "metrics": p.metrics})
t2 = table2(t1)
write_tables(t1, t2, dict(snakemake.output.items()), snakemake.params.label)
log.info(
    "%d score files, %d scored responses -> Table 1 (%d rows), Table 2 (%d rows)",
    len(snakemake.input.scores),
    len(scores),
    len(t1),
    len(t2),
)
shown = [c for c in ("protocol", "model", "seed", *RATES) if c in t1]
log.info("Table 1:\n%s", t1[shown].to_string(index=False))
