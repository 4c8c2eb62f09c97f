"""Rule plot_figures: Figures 1-3 (PDF and PNG) from Table 1 and the score files."""

import pandas as pd

from hhalign.figures import figure1_rates, figure2_scores, figure3_means
from hhalign.io import stage_logger

log = stage_logger("plot_figures", snakemake.log[0])
t1 = pd.read_csv(snakemake.input.table1)
parts = [
    pd.read_csv(path, keep_default_na=False, na_values=[""]).assign(
        protocol=protocol, variant=variant, prompt_set=prompt_set
    )
    for path, (protocol, variant, prompt_set) in zip(
        snakemake.input.scores, snakemake.params.score_keys, strict=True
    )
]
scores = pd.concat(parts, ignore_index=True)
written = [
    *figure1_rates(t1, snakemake.params.stems[0]),
    *figure2_scores(scores, snakemake.params.metrics, snakemake.params.stems[1]),
    *figure3_means(t1, snakemake.params.stems[2]),
]
log.info("wrote %s", ", ".join(map(str, written)))
