"""Rule compute_win_rates: each judge's win rate of every model over the dataset's chosen
answers, per protocol and prompt set (ties half, bootstrap intervals)."""

from hhalign.io import stage_logger
from hhalign.readers import prompt_sets, read_judged_files
from hhalign.runs import CHOSEN
from hhalign.tables import run_title, write_html_tables
from hhalign.win_rates import win_rate_table

log = stage_logger("compute_win_rates", snakemake.log[0], snakemake.output)
p, out = snakemake.params, snakemake.output

prompts = prompt_sets(snakemake.input.prompt_sets, p.prompt_keys)
scores = read_judged_files(snakemake.input.scores, p.score_keys, p.seeds, prompts, p.guards)
chosen_keys = [(j, protocol, CHOSEN, s) for j, protocol, s in p.chosen_keys]
chosen = read_judged_files(snakemake.input.chosen, chosen_keys, p.seeds, prompts, p.guards)
table = win_rate_table(scores, chosen, p.variants, p.claims)
table.assign(run=run_title(p.label)).to_csv(out["win_rates"], index=False, float_format="%.6g")
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
