"""Rule write_model_cards: a Hugging Face model card for every model the run trained, with
its training setup, its Table 1 rows and the claims that concern it."""

import json
from pathlib import Path

import pandas as pd

from hhalign.cards import card, dataset, licence, metadata, with_intervals
from hhalign.io import stage_logger

log = stage_logger("write_model_cards", snakemake.log[0], snakemake.output)
p = snakemake.params
table1 = pd.read_csv(snakemake.input.table1, dtype={"seed": str})
claims = pd.read_csv(snakemake.input.claims, keep_default_na=False, na_values=[""])
data = json.loads(Path(snakemake.input.data).read_text())
for spec in p.cards:
    variant = spec["run"].split("_seed")[0]
    rows = table1[(table1["protocol"] == spec["protocol"]) & (table1["model"] == variant)]
    mine = claims[
        (claims["protocol"] == spec["protocol"])
        & claims["comparison"].str.contains(rf"\b{variant}\b", regex=True)
    ]
    text = card(
        metadata(
            spec["base"], spec["base_path"], spec["stage"], spec["protocol"], p.label, p.source
        ),
        spec["title"],
        spec["section"],
        json.loads(Path(spec["summary"]).read_text()),
        data,
        with_intervals(rows),
        mine,
        licence(spec["base"])[1],
        dataset(p.source),
    )
    Path(spec["out"]).parent.mkdir(parents=True, exist_ok=True)
    Path(spec["out"]).write_text(text)
    log.info("%s -> %s", spec["title"], spec["out"])
