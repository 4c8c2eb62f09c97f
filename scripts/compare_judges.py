"""Rule compare_judges: every judge's scores of the same responses -> thresholds (given or
calibrated), Table 1 by judge, agreement between judges, the claims by judge, Figure 7."""

import pandas as pd

from hhalign.agreement import agreement_table, claims_by_judge, judge_table1, thresholds_table
from hhalign.claims import CLAIMS, match_directions
from hhalign.figures import figure7_judges
from hhalign.io import stage_logger
from hhalign.readers import prompt_sets, read_judged_files
from hhalign.tables import run_title, write_html_tables

log = stage_logger("compare_judges", snakemake.log[0], snakemake.output)
p, out = snakemake.params, snakemake.output
prompts = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys)
scores = read_judged_files(snakemake.input.scores, p.score_keys, p.seeds, prompts, p.guards)
limits = thresholds_table(scores, p.judges, p.metrics)
table = judge_table1(scores, limits)
agree = agreement_table(scores, limits)
claims = claims_by_judge(
    pd.read_csv(snakemake.input.claims), table, {cid: parts for cid, _, parts in CLAIMS}
)
claims = match_directions(claims)  # a no-op without the methods' "matches" claims
for key, df in (
    ("judges_table1", table),
    ("judges_thresholds", limits),
    ("judges_agreement", agree),
    ("judges_claims", claims),
):
    df.assign(run=run_title(p.label)).to_csv(out[key], index=False)
note = "Thresholds: results/judges/thresholds.csv. " + (p.label or "")
write_html_tables(
    {
        "judges_table1_html": (table, None, "Table 1 by judge (responses pooled over seeds)"),
        "judges_agreement_html": (agree, None, "Agreement between judges"),
        "judges_claims_html": (claims, None, "The paper's claims: each judge's direction"),
    },
    dict(out.items()),
    note,
)
figure7_judges(scores, limits, p.figure_stem, p.label)
log.info(
    "%d judge scores (%d judges) -> thresholds:\n%s",
    len(scores),
    scores["judge"].nunique(),
    limits.to_string(index=False),
)
log.info("agreement:\n%s", agree.to_string(index=False))
log.info("claims by judge:\n%s", claims.drop(columns="statement").to_string(index=False))
