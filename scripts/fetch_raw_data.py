"""Rule fetch_raw_data: write one raw HH-RLHF file (Hub, local release copy, or synthetic)."""

import time

from hhalign.io import stage_logger
from hhalign.raw import fetch_raw

log = stage_logger("fetch_raw_data", snakemake.log[0], snakemake.output)
start = time.perf_counter()
w = snakemake.wildcards
line = fetch_raw(
    w.subset, w.split, snakemake.params.data, snakemake.params.synthetic, snakemake.output.raw
)
log.info(
    "%s/%s: %s -> %s (%.1f s)",
    w.subset,
    w.split,
    line,
    snakemake.output.raw,
    time.perf_counter() - start,
)
