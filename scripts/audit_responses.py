"""Rule audit_responses: what the models say. Every response's audit (responses.csv), the
types per model and prompt set (response_audit.csv, its HTML page, Figure 9), and the judge's
taste for length (length_bias.csv)."""

from hhalign.figures import figure9_responses
from hhalign.io import stage_logger
from hhalign.metrics import thresholds
from hhalign.readers import prompt_sets, read_score_files
from hhalign.responses import audit_table, failing_types, length_bias, summary_table
from hhalign.tables import run_title, write_responses

log = stage_logger("audit_responses", snakemake.log[0], snakemake.output)
p = snakemake.params
out = dict(snakemake.output.items())
sets = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys) if p.prompt_keys else None
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds, sets)
audited = audit_table(scores, p.response_audit)
strict = thresholds(p.metrics) if p.strict else None
failing = {  # protocol -> the types that count as failing there
    protocol: failing_types({"failing_continues": on})
    for protocol, on in p.failing_continues.items()
}
audit = summary_table(audited, p.variants, strict, failing)
write_responses(audited, audit, out, p.label)
bias = length_bias(audited, p.judge).assign(run=run_title(p.label))  # every table says its run
bias.to_csv(out["length_bias"], index=False, float_format="%.6g")
written = figure9_responses(audit, out["responses_png"].removesuffix(".png"), p.label)
log.info(
    "%d scored responses audited -> %d rows of response types; %s",
    len(audited),
    len(audit),
    ", ".join(map(str, written)),
)
