"""Rule write_transcripts: one HTML page per protocol, model and prompt set with every
prompt, the response, its score and its audit flags, filterable by flag (from
responses.csv)."""

import pandas as pd

from hhalign.io import stage_logger
from hhalign.pages import write_transcripts

log = stage_logger("write_transcripts", snakemake.log[0], snakemake.output)
responses = pd.read_csv(snakemake.input.responses, keep_default_na=False, na_values=[""])
responses["prompt"] = responses["prompt"].fillna("")
responses["response"] = responses["response"].fillna("")
files = {tuple(k): path for k, path in zip(snakemake.params.pages, snakemake.output, strict=True)}
write_transcripts(responses, files, snakemake.params.label)
log.info("%d transcript pages from %d responses", len(files), len(responses))
