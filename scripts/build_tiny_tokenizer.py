"""Rule build_tiny_tokenizer: train the tiny world's byte-level BPE once, on the synthetic
training dialogues (in data.format, read as transcripts); every tiny model (policy, judges, a
ladder's rungs) is built on it."""

import time

from hhalign.bpe import save_bpe, train_bpe, world_texts
from hhalign.dataformats import transcript_rows
from hhalign.io import read_jsonl, stage_logger

log = stage_logger("build_tiny_tokenizer", snakemake.log[0], snakemake.output)
start = time.perf_counter()
rows = (row for path in snakemake.input.raw for row in read_jsonl(path))
texts = world_texts(transcript_rows(rows, snakemake.params.data_format))
bpe = train_bpe(texts, snakemake.params.vocab_size)
save_bpe(bpe, snakemake.output.bpe)
log.info(
    "trained on %d texts, vocab %d -> %s; done in %.1f s",
    len(texts),
    bpe.get_vocab_size(),
    snakemake.output.bpe,
    time.perf_counter() - start,
)
