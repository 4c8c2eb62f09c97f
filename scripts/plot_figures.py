"""Rule plot_figures: Figures 1-3 (PDF and PNG) from Table 1 and the score files."""

import pandas as pd

from hhalign.figures import figure1_rates, figure2_scores, figure3_means
from hhalign.io import read_score_files, stage_logger

log = stage_logger("plot_figures", snakemake.log[0], snakemake.output)
t1 = pd.read_csv(snakemake.input.table1)
scores = read_score_files(
    snakemake.input.scores, snakemake.params.score_keys, snakemake.params.seeds
)
label, stems = snakemake.params.label, snakemake.params.stems
written = [
    *figure1_rates(t1, stems[0], label),
    *figure2_scores(scores, snakemake.params.metrics, stems[1], label),
    *figure3_means(t1, stems[2], label),
]
log.info("wrote %s", ", ".join(map(str, written)))
