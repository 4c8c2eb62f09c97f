"""Rule build_release_fixture: the release check's offline copy of the authors' layout from
this run's paper protocol (its prompts, every model's responses and the judge's ratings)."""

import pandas as pd

from hhalign.io import read_jsonl, stage_logger
from hhalign.release_fixture import MODELS, SETS, write_fixture

log = stage_logger("build_release_fixture", snakemake.log[0], snakemake.output)
prompts = {
    s: [r["prompt"] for r in read_jsonl(path)]
    for s, path in zip(SETS, snakemake.input.prompts, strict=True)
}
keys = [f"{m}_{s}" for m in MODELS for s in SETS]
scores = {
    k: pd.read_csv(path, keep_default_na=False)
    for k, path in zip(keys, snakemake.input.scores, strict=True)
}
write_fixture(prompts, scores, snakemake.params.out)
log.info("fixture under %s: %d prompt files, %d response files", snakemake.params.out, 2, len(keys))
