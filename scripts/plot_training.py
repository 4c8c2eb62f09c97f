"""Rule plot_training: training curves of every run (Figure 5) and the data stage (Figure 6)."""

import json
from pathlib import Path

import pandas as pd

from hhalign.curves import figure5_training, figure6_data, history_frame
from hhalign.io import stage_logger

log = stage_logger("plot_training", snakemake.log[0], snakemake.output)
p, inp = snakemake.params, snakemake.input
history = history_frame(dict(zip(map(tuple, p.histories), inp.histories, strict=True)))
authors = pd.read_csv(inp.authors[0]) if inp.authors else None
prompts = {
    protocol: json.loads(Path(f).read_text())
    for protocol, f in zip(p.protocols, inp.prompts, strict=True)
}
data = json.loads(Path(inp.data).read_text())
written = [
    *figure5_training(history, authors, p.stems[0], p.label),
    *figure6_data(data, prompts, p.stems[1], p.label),
]
with_authors = " and the authors' logs" if authors is not None else ""
log.info(
    "%d runs' histories%s -> %s",
    len(history.groupby(["protocol", "run"])),
    with_authors,
    ", ".join(map(str, written)),
)
