"""Rule import_audit_scores: the authors' released scores, in the pipeline's score format."""

from pathlib import Path

from hhalign.audit import read_release, release_scores
from hhalign.io import stage_logger

log = stage_logger("import_audit_scores", snakemake.log[0])
variants, sources = snakemake.params.variants, snakemake.params.sources
for prompt_set in ("harmful", "helpful"):
    tables = release_scores(read_release(sources[prompt_set]), prompt_set, variants)
    for variant, table in tables.items():
        out = Path(snakemake.params.score_dir) / variant / f"{prompt_set}.csv"
        out.parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(out, index=False)
        log.info(
            "%s/%s: %d released scores from %s",
            variant,
            prompt_set,
            len(table),
            sources[prompt_set],
        )
