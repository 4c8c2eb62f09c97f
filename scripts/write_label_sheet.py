"""Rule write_label_sheet (make label): the blind, stratified, seeded sample of responses to
label by hand, as one self-contained HTML page and as a spreadsheet, with the key from item
to model (labels/key.csv, never shown to the labeller)."""

from pathlib import Path

from hhalign.io import stage_logger
from hhalign.label_page import page
from hhalign.labels import sample_items, sheet_table
from hhalign.readers import read_score_files

log = stage_logger("write_label_sheet", snakemake.log[0], snakemake.output)
p = snakemake.params
out = dict(snakemake.output.items())
scores = read_score_files(snakemake.input.scores, p.score_keys, p.seeds)
items = sample_items(scores, p.sample["per_cell"], p.sample["seed"])
sheet = sheet_table(items)
Path(out["sheet_csv"]).parent.mkdir(parents=True, exist_ok=True)
sheet.to_csv(out["sheet_csv"], index=False)
title = "Label responses" + (f" ({p.label})" if p.label else "")
Path(out["sheet_html"]).write_text(page(sheet, title), encoding="utf-8")
items.drop(columns=["prompt", "response", "question"]).to_csv(out["key"], index=False)
log.info(
    "%d scored responses -> %d items to label (%d per model and prompt set at most): %s",
    len(scores),
    len(items),
    p.sample["per_cell"],
    out["sheet_html"],
)
