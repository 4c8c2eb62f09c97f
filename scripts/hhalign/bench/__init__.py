"""Performance suite: each stage timed two ways on the same inputs in one process.

The authors' way (one prompt at a time, one pair at a time, training micro-batches
of 2 x accumulation 4 in random order) against ours (length-sorted batches,
micro-batch 8 grouped by length, bf16 training on a GPU), through the very
functions the pipeline's rules call: ``generate``, ``score_pairs``, ``train_sft``,
``train_dpo``. Models are built from the real architectures' configs with random
weights (they cost what the real ones cost and need no download); ``quick`` keeps
2 narrow layers and a small vocabulary so the suite runs in CI.

Modules, one job each: ``models`` (architectures), ``inputs``, ``timing``, ``stages``
(the authors' way against ours, stage by stage), ``suite`` (orchestration and the full-run
estimate), ``report`` (outputs), ``__main__`` (the command line).
"""

from hhalign.bench.inputs import prompts_of, training_rows
from hhalign.bench.models import (
    DEBERTA_V3_LARGE,
    OPT_350M,
    bench_tokenizers,
    build_judge,
    build_policy,
    sized,
)
from hhalign.bench.report import write_outputs
from hhalign.bench.stages import authors_section, our_section
from hhalign.bench.suite import full_run_hours, run_suite, sweep_batches
from hhalign.bench.timing import pair_row

__all__ = [
    "DEBERTA_V3_LARGE",
    "OPT_350M",
    "authors_section",
    "bench_tokenizers",
    "build_judge",
    "build_policy",
    "full_run_hours",
    "our_section",
    "pair_row",
    "prompts_of",
    "run_suite",
    "sized",
    "sweep_batches",
    "training_rows",
    "write_outputs",
]
