"""Rule compute_win_rates: each judge's win rate of every model over the dataset's chosen
answers, per protocol and prompt set (ties half, bootstrap intervals)."""

import pandas as pd

from hhalign.claims import win_rate_table
from hhalign.io import read_score_files, stage_logger
from hhalign.plan import CHOSEN
from hhalign.tables import write_html_tables

log = stage_logger("compute_win_rates", snakemake.log[0], snakemake.output)
p, out = snakemake.params, snakemake.output


def judged(paths: list[str], keys: list[tuple]) -> pd.DataFrame:
    """Score files keyed (judge, protocol, run, prompt set) as one table with a judge column."""
    parts = [
        read_score_files([path], [key[1:]], p.seeds).assign(judge=key[0])
        for path, key in zip(paths, keys, strict=True)
    ]
    return pd.concat(parts, ignore_index=True)


scores = judged(snakemake.input.scores, p.score_keys)
chosen_keys = [(j, protocol, CHOSEN, s) for j, protocol, s in p.chosen_keys]
chosen = judged(snakemake.input.chosen, chosen_keys)
table = win_rate_table(scores, chosen, p.variants, p.claims)
table.to_csv(out["win_rates"], index=False, float_format="%.6g")
write_html_tables(
    {"win_rates_html": (table, None, "Win rate against the dataset's chosen answer (%)")},
    dict(out.items()),
    p.label,
)
log.info(
    "%d judge scores and %d of chosen answers (%d judges) -> %d win rates:\n%s",
    len(scores),
    len(chosen),
    scores["judge"].nunique(),
    len(table),
    table.to_string(index=False, float_format=lambda x: f"{x:.1f}"),
)
