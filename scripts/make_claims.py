"""Rule make_claims: pairwise comparisons, the claims table and Figure 4 from score files."""

from hhalign.claims import claims_table, shift_grid
from hhalign.figures import figure4_thresholds
from hhalign.io import read_score_files, stage_logger
from hhalign.metrics import threshold_curves
from hhalign.tables import write_claims

log = stage_logger("make_claims", snakemake.log[0], snakemake.output)
p = snakemake.params
cfg = {**p.claims, "metrics": p.metrics}
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds)
claims, pairs = claims_table(scores, p.variants, cfg, p.experiments)
write_claims(claims, pairs, dict(snakemake.output.items()), p.label)
curves = threshold_curves(scores, p.metrics, shift_grid(cfg), cfg["bootstrap_draws"], cfg["seed"])
written = figure4_thresholds(curves, p.metrics, p.figure_stem, p.label)
log.info(
    "%d scored responses -> %d comparisons, %d claims; %s",
    len(scores),
    len(pairs),
    len(claims),
    ", ".join(map(str, written)),
)
shown = ["protocol", "claim", "comparison", "difference", "p_adj", "verdict", "scope"]
log.info("claims:\n%s", claims[shown].to_string(index=False))
