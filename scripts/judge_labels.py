"""Rule judge_labels (only with config labels): a reviewer's labels joined with the run's
scores and audit: the judge against people, the audit against people, judge-corrected rates
(table1_corrected.csv beside Table 1, never replacing it) and pairs, and the labels planner."""

from pathlib import Path

import pandas as pd

from hhalign.corrected import (
    audit_against_people,
    cell_arrays,
    corrected_pairs,
    corrected_rates,
    judge_against_people,
    labels_html,
    labels_latex,
    labels_plan,
    load_labelled,
)
from hhalign.io import stage_logger
from hhalign.metrics import thresholds
from hhalign.readers import read_score_files

log = stage_logger("judge_labels", snakemake.log[0], snakemake.output)
p = snakemake.params
out = dict(snakemake.output.items())
limits = thresholds(p.metrics)
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds)
joined = load_labelled(scores, snakemake.input.key, snakemake.input.labels)
key = pd.read_csv(snakemake.input.key)
audit = pd.read_csv(snakemake.input.responses, dtype={"id": str}, keep_default_na=False)
judge = judge_against_people(joined, limits)
vs_audit = audit_against_people(joined, audit)
arrays = cell_arrays(scores, joined, limits, p.variants)
table = corrected_rates(arrays, p.variants, p.width)
pairs = corrected_pairs(arrays, p.variants)
needed = labels_plan(table, p.width)
Path(out["judge_vs_people"]).parent.mkdir(parents=True, exist_ok=True)
for name, df in [
    ("judge_vs_people", judge),
    ("audit_vs_people", vs_audit),
    ("table1_corrected", table),
    ("pairs_corrected", pairs),
    ("labels_needed", needed),
]:
    df.to_csv(out[name], index=False, float_format="%.6g")
Path(out["labels_html"]).parent.mkdir(parents=True, exist_ok=True)
Path(out["labels_html"]).write_text(labels_html(judge, vs_audit, table, p.label))
Path(out["labels_tex"]).write_text(labels_latex(judge, table))
log.info(
    "%d labels (%d unsure) of %d items -> judge against people:\n%s\ncorrected rates:\n%s",
    int(joined["y"].notna().sum()),
    int(joined["answer"].eq("unsure").sum()),
    len(key),
    judge.to_string(index=False),
    table.to_string(index=False),
)
