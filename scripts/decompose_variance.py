"""Rule decompose_variance: where each metric's uncertainty comes from (variance.csv,
Figure 8): prompt, seed, residual and decoding components with their intervals."""

from hhalign.figures import figure8_variance
from hhalign.io import stage_logger
from hhalign.readers import prompt_sets, read_score_files
from hhalign.tables import run_title
from hhalign.variance import variance_table

log = stage_logger("decompose_variance", snakemake.log[0], snakemake.output)
p = snakemake.params
out = dict(snakemake.output.items())
sets = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys) if p.prompt_keys else None
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds, sets)
variance = variance_table(scores, p.variants, {"metrics": p.metrics})
variance.assign(run=run_title(p.label)).to_csv(out["variance"], index=False, float_format="%.6g")
written = figure8_variance(variance, out["variance_png"].removesuffix(".png"), p.label)
components = variance["components"].fillna("").str.contains("unreliable").sum()
log.info("%d scored responses -> %d variance rows", len(scores), len(variance))
log.info("%d rows with a seed part from too few seeds; wrote %s", components, written)
