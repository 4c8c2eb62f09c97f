"""Rule build_datasets: parse raw rows (data.format) into the SFT and DPO sets, accounting for
rejects."""

import time

import pandas as pd

from hhalign.data import build_training_sets, check_reject_fraction
from hhalign.io import stage_logger, write_json, write_jsonl

log = stage_logger("build_datasets", snakemake.log.log, snakemake.output)
start = time.perf_counter()
data = snakemake.params.data
files = [
    (s, data["train_split"], p)
    for s, p in zip(data["train_subsets"], snakemake.input.raw, strict=True)
]
result = build_training_sets(files, data["format"], data["preference"])
write_jsonl(snakemake.output.rejects, result.rejects)
# The same rows beside the log: Snakemake removes a failed job's outputs, not its logs, so
# they are there to read when the reject check below stops the build.
write_jsonl(snakemake.log.rejects, result.rejects)
summary = {
    "rows_in": result.rows_in,
    "sft_rows": len(result.sft),
    "dpo_rows": len(result.dpo),
    "sft_rejects": dict(result.reject_counts("sft")),
    "dpo_rejects": dict(result.reject_counts("dpo")),
    "by_file": result.by_file(),
}
if data["format"] != "hh":  # the hh summary stays as it was
    summary["conversion"] = result.conversion()
write_json(snakemake.output.summary, summary)
log.info("rows in: %d from %d files", result.rows_in, len(files))
for key, counts in summary["by_file"].items():
    log.info("%s: %s", key, counts)
for name in ("sft", "dpo"):
    log.info(
        "%s: %d rows out, rejects %s", name, summary[f"{name}_rows"], summary[f"{name}_rejects"]
    )
check_reject_fraction(result, data["max_reject_fraction"], snakemake.log.rejects)
pd.DataFrame(result.sft).to_parquet(snakemake.output.sft, index=False)
pd.DataFrame(result.dpo).to_parquet(snakemake.output.dpo, index=False)
log.info("done in %.1f s", time.perf_counter() - start)
