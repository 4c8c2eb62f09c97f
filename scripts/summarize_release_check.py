"""Rule summarize_release_check: one line per stage (what was compared, the figure, pass or
fail against its tolerance) as Markdown and as an HTML page for the report."""

import json
from pathlib import Path

from hhalign.formats import latex_escape
from hhalign.io import stage_logger
from hhalign.release import stage_line

log = stage_logger("summarize_release_check", snakemake.log[0], snakemake.output)
prompts, judge, generation = (json.loads(Path(f).read_text()) for f in snakemake.input)
rel = snakemake.params.release


def first(row: dict | None) -> str:
    """Where the first differing item is, for a summary line ("" when none differs)."""
    if not row:
        return ""
    at = row["first_difference_at"]
    return f"; first difference: {row['prompt_set']} #{row['index']} at character {at}"


lines = [
    f"# Release check against {snakemake.params.compared[0]}",
    "",
    "| stage | compared | figure | tolerance | result |",
    "| --- | --- | --- | --- | --- |",
]
for prompt_set, s in prompts.items():
    lines.append(
        stage_line(
            f"prompts ({prompt_set})",
            f"our paper-protocol selection vs their {s['released']} prompts, in order",
            f"{s['identical']} of {s['released']} identical; ours are {s['relation']}"
            + first(s["first_differing"]),
            s["identical"] == s["released"],
            "every prompt identical",
        )
    )
lines.append(
    stage_line(
        "judge",
        f"our judge's re-scores of their {judge['pairs']} (prompt, response) pairs vs "
        "their ratings",
        f"largest difference {judge['largest_difference']:.2g}; "
        f"{100 * judge['within_tolerance']:.1f}% within tolerance; "
        f"labels agree {100 * judge['labels_agree']:.1f}%; Table 1 "
        f"{'identical' if judge['table1_identical'] else 'differs'}"
        + (
            ""
            if judge["within_tolerance"] == 1.0
            else f"; largest at {judge['worst']['model']} {judge['worst']['prompt_set']} "
            f"#{judge['worst']['index']}"
        ),
        judge["within_tolerance"] == 1.0,
        f"absolute difference <= {judge['tolerance']:g}",
    )
)
lines.append(
    stage_line(
        "Base generation",
        f"the Base model's greedy responses to their prompts vs their {generation['responses']}",
        f"{100 * generation['identical']:.1f}% identical"
        + (
            ""
            if generation["first_differing"] is None
            else f"; where different, {generation['mean_tokens_agreeing_where_different']:.1f} "
            "leading tokens agree on average" + first(generation["first_differing"])
        ),
        generation["identical"] >= generation["min_identical"],
        f">= {100 * generation['min_identical']:.0f}% identical",
    )
)
text = "\n".join(lines) + "\n"
if snakemake.params.label:
    text += f"\n{snakemake.params.label}\n"
Path(snakemake.output.markdown).write_text(text)
rows = "".join(
    "<tr>" + "".join(f"<td>{c.strip()}</td>" for c in line.strip("|").split("|")) + "</tr>"
    for line in lines[4:]
)
Path(snakemake.output.html).write_text(
    "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
    f"<p><b>{lines[0][2:]}</b></p><table><tr><th>stage</th><th>compared</th><th>figure</th>"
    f"<th>tolerance</th><th>result</th></tr>{rows}</table></body></html>\n"
)
tex = [
    rf"\emph{{{latex_escape(lines[0][2:])}}}\par\smallskip",  # what it was compared with
    r"\begin{tabular}{@{}p{1.7cm}p{4.4cm}l@{}}\toprule",
    r"Stage & Figure & Result \\\midrule",
    *(
        " & ".join(latex_escape(c.strip()) for c in (cells[0], cells[2], cells[4])) + r" \\"
        for cells in (line.strip("|").split("|") for line in lines[4:])
    ),
    r"\bottomrule\end{tabular}",
]
Path(snakemake.output.tex).write_text("\n".join(tex) + "\n")
log.info("\n%s", text)
