"""Rule write_manifest: what the run used (models and data at their commits, versions, config)."""

from hhalign.io import stage_logger, write_json
from hhalign.manifest import build_manifest, model_entry

log = stage_logger("write_manifest", snakemake.log[0], snakemake.output)
p = snakemake.params
models = {role: model_entry(spec, path) for role, (spec, path) in p.models.items()}
manifest = build_manifest(p.config, models, [tuple(f) for f in p.raw_files])
write_json(snakemake.output.manifest, manifest)
for role, entry in models.items():
    log.info("%s: %s", role, entry)
log.info("data: %s", manifest["data"])
log.info("config sha256 %s -> %s", manifest["config_sha256"], snakemake.output.manifest)
