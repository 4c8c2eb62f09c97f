"""Rule make_tables: Tables 1-2 (CSV and LaTeX) and the LaTeX macros, from score files."""

import pandas as pd

from hhalign.io import stage_logger
from hhalign.metrics import table1, table2
from hhalign.report import write_tables

log = stage_logger("make_tables", snakemake.log[0])
parts = []
for path, (protocol, variant, prompt_set) in zip(
    snakemake.input.scores, snakemake.params.score_keys, strict=True
):
    df = pd.read_csv(path, keep_default_na=False, na_values=[""])
    parts.append(df.assign(protocol=protocol, variant=variant, prompt_set=prompt_set))
scores = pd.concat(parts, ignore_index=True)
t1 = table1(scores, snakemake.params.metrics, snakemake.params.variants)
t2 = table2(t1)
write_tables(t1, t2, dict(snakemake.output.items()))
log.info(
    "%d score files, %d scored responses -> Table 1 (%d rows), Table 2 (%d rows)",
    len(parts),
    len(scores),
    len(t1),
    len(t2),
)
log.info("Table 1:\n%s", t1[["protocol", "model", "HmR", "HpR", "CAS"]].to_string(index=False))
