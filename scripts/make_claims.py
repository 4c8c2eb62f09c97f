"""Rule make_claims: pairwise comparisons, the claims table (with the planner's columns),
Figure 4, and where each metric's uncertainty comes from (variance.csv, Figure 8)."""

import json
from pathlib import Path

from hhalign.claims import claims_table, shift_grid, variance_table
from hhalign.figures import figure4_thresholds, figure8_variance, figure9_responses
from hhalign.io import read_score_files, stage_logger
from hhalign.metrics import threshold_curves, thresholds
from hhalign.plan import CHOSEN
from hhalign.responses import FAILING, audit_table, length_bias, summary_table
from hhalign.strict import strict_columns, strict_tables
from hhalign.tables import run_title, write_claims, write_responses

log = stage_logger("make_claims", snakemake.log[0], snakemake.output)
p = snakemake.params
cfg = {**p.claims, "metrics": p.metrics}
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds)
pools = {
    protocol: json.loads(Path(path).read_text())["harmful_candidates"]
    for protocol, path in zip(p.pool_protocols, snakemake.input.prompts, strict=True)
}
chosen_keys = [(protocol, CHOSEN, s) for _, protocol, s in p.chosen_keys]
chosen = read_score_files(snakemake.input.chosen, chosen_keys, p.seeds) if chosen_keys else None
claims, pairs = claims_table(scores, p.variants, cfg, p.experiments, pools, chosen)
out = dict(snakemake.output.items())
audited = audit_table(scores, p.response_audit)
strict = thresholds(p.metrics) if p.response_audit["strict"] else None
audit = summary_table(audited, p.variants, strict)
failing = audited[list(FAILING)].any(axis=1).set_axis(scores.index)
strict_pairs = strict_tables(scores, failing, p.variants, cfg, p.experiments, chosen)
claims = strict_columns(claims, pairs, strict_pairs, p.variants, cfg)
write_claims(claims, pairs, out, p.label)
write_responses(audited, audit, out, p.label)
run = {"run": run_title(p.label)}  # every table says what run it is
length_bias(audited, p.judge).assign(**run).to_csv(
    out["length_bias"], index=False, float_format="%.6g"
)
curves = threshold_curves(scores, p.metrics, shift_grid(cfg), cfg["bootstrap_draws"], cfg["seed"])
written = figure4_thresholds(curves, p.metrics, p.figure_stem, p.label)
variance = variance_table(scores, p.variants, cfg)
variance.assign(**run).to_csv(out["variance"], index=False, float_format="%.6g")
written += figure8_variance(variance, out["variance_png"].removesuffix(".png"), p.label)
written += figure9_responses(audit, out["responses_png"].removesuffix(".png"), p.label)
flagged = claims[claims["flags"] != ""]
log.info("%d responses audited; %d claims flagged", len(audited), len(flagged))
for _, r in flagged.iterrows():
    log.warning("flag: %s (%s): %s", r["statement"], r["protocol"], r["flags"])
log.info(
    "%d scored responses -> %d comparisons, %d claims; %s",
    len(scores),
    len(pairs),
    len(claims),
    ", ".join(map(str, written)),
)
shown = ["protocol", "claim", "comparison", "difference", "p_adj", "verdict", "scope"]
log.info("claims:\n%s", claims[shown].to_string(index=False))
