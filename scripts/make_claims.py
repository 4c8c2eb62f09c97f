"""Rule make_claims: pairwise comparisons, the claims table (with the sample-size columns),
each claim judged again with the audit's failing responses counted as failures (strict
verdicts, flags), and Figure 4."""

import json
from pathlib import Path

from hhalign.claims import claims_table, with_reward_flag
from hhalign.comparisons import shift_grid
from hhalign.corrected import cell_arrays, corrected_pairs, load_labelled
from hhalign.corrected_claims import corrected_columns
from hhalign.figures import figure4_thresholds
from hhalign.io import stage_logger
from hhalign.metrics import threshold_curves, thresholds
from hhalign.readers import prompt_sets, read_score_files
from hhalign.runs import CHOSEN
from hhalign.strict import failing_rows, strict_columns, strict_tables
from hhalign.tables import write_claims

log = stage_logger("make_claims", snakemake.log[0], snakemake.output)
p = snakemake.params
cfg = {**p.claims, "metrics": p.metrics}
sets = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys) if p.prompt_keys else None
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds, sets)
pools = {
    protocol: json.loads(Path(path).read_text())["harmful_candidates"]
    for protocol, path in zip(p.pool_protocols, snakemake.input.prompts, strict=True)
}
chosen_keys = [(protocol, CHOSEN, s) for _, protocol, s in p.chosen_keys]
chosen = (
    read_score_files(snakemake.input.chosen, chosen_keys, p.seeds, sets) if chosen_keys else None
)
claims, pairs = claims_table(scores, p.variants, cfg, p.experiments, pools, chosen)
failing = failing_rows(scores, snakemake.input.responses, p.failing_continues)
strict_pairs = strict_tables(scores, failing, p.variants, cfg, p.experiments, chosen)
claims = strict_columns(claims, pairs, strict_pairs, p.variants, cfg)
claims = with_reward_flag(claims, cfg.get("reward_is_judge"))
if snakemake.input.get("labels"):  # config labels: every claim judged a third way, judge-corrected
    labelled = load_labelled(scores, snakemake.input.key, snakemake.input.labels)
    arrays = cell_arrays(scores, labelled, thresholds(p.metrics), p.variants)
    corrected = corrected_pairs(arrays, p.variants)
    claims = corrected_columns(claims, pairs, strict_pairs[1], corrected, p.variants, cfg)
out = dict(snakemake.output.items())
write_claims(claims, pairs, out, p.label)
curves = threshold_curves(scores, p.metrics, shift_grid(cfg), cfg["bootstrap_draws"], cfg["seed"])
written = figure4_thresholds(curves, p.metrics, p.figure_stem, p.label)
flagged = claims[claims["flags"] != ""]
log.info("%d of %d responses failing (the audit's responses.csv)", failing.sum(), len(failing))
for _, r in flagged.iterrows():
    log.warning("flag: %s (%s): %s", r["statement"], r["protocol"], r["flags"])
log.info(
    "%d scored responses -> %d comparisons, %d claims, %d flagged; %s",
    len(scores),
    len(pairs),
    len(claims),
    len(flagged),
    ", ".join(map(str, written)),
)
shown = ["protocol", "claim", "comparison", "difference", "p_adj", "verdict", "scope"]
log.info("claims:\n%s", claims[[*shown, "strict_verdict"]].to_string(index=False))
