"""Rule import_train_logs: the authors' logged training losses as run,step,loss."""

from hhalign.audit import read_source
from hhalign.curves import authors_logs
from hhalign.io import stage_logger

log = stage_logger("import_train_logs", snakemake.log[0], snakemake.output)
source = snakemake.params.source
logs = authors_logs(read_source(source, "audit.train_logs"), source)
logs.to_csv(snakemake.output[0], index=False)
log.info("%s: %s", source, logs.groupby("run")["step"].agg(["count", "max"]).to_dict("index"))
