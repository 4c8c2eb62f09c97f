"""Rule import_audit_scores: the authors' released scores, in the pipeline's score format."""

from hhalign.audit import read_release, release_scores
from hhalign.io import stage_logger, write_scores

log = stage_logger("import_audit_scores", snakemake.log[0], snakemake.output)
variants, sources = snakemake.params.variants, snakemake.params.sources
outputs = dict(zip(snakemake.params.score_keys, snakemake.output, strict=True))
for prompt_set in ("harmful", "helpful"):
    source = sources[prompt_set]
    tables = release_scores(read_release(source), prompt_set, variants, source)
    for variant, table in tables.items():
        write_scores(table, outputs[(variant, prompt_set)])
        log.info(
            "%s/%s: %d released scores from %s",
            variant,
            prompt_set,
            len(table),
            sources[prompt_set],
        )
