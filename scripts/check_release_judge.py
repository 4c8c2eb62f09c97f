"""Rule check_release_judge: the paper's judge re-scores the authors' released (prompt,
response) pairs, each model and prompt set as rule score_responses scores them; the
differences from their ratings, label agreement, and HmR/HpR both ways."""

import time

import pandas as pd
import torch

from hhalign.io import stage_logger, write_json
from hhalign.models import load_for_inference
from hhalign.release import MODELS, compare_ratings, rates_both_ways, read_responses, sources
from hhalign.scoring import score_table

log = stage_logger(
    "check_release_judge", snakemake.log[0], snakemake.output, snakemake.params.stale
)
torch.set_num_threads(snakemake.threads)
p = snakemake.params
files, cfg, judge = sources(p.release), p.scoring, p.judge
model, tokenizer, device = load_for_inference(
    judge["path"], judge["revision"], "reward", judge["safetensors_only"], cfg["dtype"]
)
log.info("judge %s (revision %s) on %s", judge["path"], judge["revision"], device)
parts = []
for variant in MODELS:
    for prompt_set in ("harmful", "helpful"):
        t0 = time.perf_counter()
        key = f"{variant}_{prompt_set}"
        rows = read_responses(files[key])
        pairs = [
            {"id": f"{prompt_set}-{i:03d}", "prompt": r["prompt"], "response": r["response"]}
            for i, r in enumerate(rows)
        ]
        ours = score_table(model, tokenizer, pairs, cfg)["score"]
        released = pd.DataFrame(
            {
                "model": variant,
                "prompt_set": prompt_set,
                "index": range(len(rows)),
                "rating": [float(r["rating"]) for r in rows],
            }
        )
        parts.append(compare_ratings(released, ours, p.metrics, p.release["judge_atol"]))
        log.info("%s: %d pairs re-scored in %.1f s", key, len(rows), time.perf_counter() - t0)
checked = pd.concat(parts, ignore_index=True)
checked.to_csv(snakemake.output.table, index=False, float_format="%.6g")
table1 = rates_both_ways(checked, p.metrics)
table1.to_csv(snakemake.output.table1, index=False, float_format="%.4g")
summary = {
    "pairs": len(checked),
    "largest_difference": float(checked["difference"].abs().max()),
    "within_tolerance": float(checked["within_tolerance"].mean()),
    "labels_agree": float(checked["labels_agree"].mean()),
    "tolerance": p.release["judge_atol"],
    "table1_identical": bool(
        (
            table1[["HmR_theirs", "HpR_theirs"]].to_numpy()
            == table1[["HmR_ours", "HpR_ours"]].to_numpy()
        ).all()
    ),
    "worst": checked.loc[checked["difference"].abs().idxmax()].to_dict(),
}
write_json(snakemake.output.summary, summary)
log.info("%s", summary)
