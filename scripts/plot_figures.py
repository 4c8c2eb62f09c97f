"""Rule plot_figures: Figures 1-3 (PDF and PNG) from Table 1 and the score files."""

import pandas as pd

from hhalign.figures import figure1_rates, figure2_scores, figure3_means
from hhalign.io import stage_logger
from hhalign.readers import prompt_sets, read_score_files

log = stage_logger("plot_figures", snakemake.log[0], snakemake.output)
t1 = pd.read_csv(snakemake.input.table1)
p = snakemake.params
prompts = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys) if p.prompt_keys else None
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds, prompts)
label, stems = snakemake.params.label, snakemake.params.stems
written = [
    *figure1_rates(t1, stems[0], label),
    *figure2_scores(scores, snakemake.params.metrics, stems[1], label),
    *figure3_means(t1, stems[2], label),
]
log.info("wrote %s", ", ".join(map(str, written)))
