"""Rule write_manifest: what the run used (models and data at their commits, versions, config)."""

import os

from hhalign.io import stage_logger, write_json
from hhalign.manifest import (
    build_manifest,
    code_version,
    hardware,
    last_invocation,
    model_entry,
    stage_times,
)

log = stage_logger("write_manifest", snakemake.log[0], snakemake.output)
p = snakemake.params
models = {role: model_entry(spec, path) for role, (spec, path) in p.models.items()}
manifest = build_manifest(p.config, models, [tuple(f) for f in p.raw_files])
results = p.config["results_dir"]
manifest |= {
    "code": code_version(p.basedir),
    "snakemake": last_invocation(f"{results}/logs/invocations.jsonl"),
    "hardware": hardware(),
    "stages": stage_times(f"{results}/benchmarks"),
    "environment": {k: os.environ.get(k) for k in ("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_OFFLINE")},
}
write_json(snakemake.output.manifest, manifest)
for role, entry in models.items():
    log.info("%s: %s", role, entry)
log.info("data: %s", manifest["data"])
log.info("code %s; hardware %s", manifest["code"], manifest["hardware"])
log.info("config sha256 %s -> %s", manifest["config_sha256"], snakemake.output.manifest)
