"""HTML pages for Snakemake's report that a plain table cannot make readable: the claims
table (verdict first, long columns folded into a detail view, p-values in significant
digits, within 1,400 px) and the transcripts (every prompt with the response, its score and
its audit flags, filterable by flag), one page per protocol, model and prompt set.

Pages are self-contained (inline style and script, no network), as the report needs.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import pandas as pd

from hhalign.formats import display, verdict_cell

# The audit's boolean columns a transcript row can be flagged with (those present are used).
FLAGS = ("empty", "degenerate", "non_text", "echo", "continues_dialogue", "refusal", "failing")

STYLE = (
    "<style>body{font-family:sans-serif;font-size:13px;max-width:1380px;margin:8px}"
    "table{border-collapse:collapse;width:100%;table-layout:auto}"
    "th,td{padding:3px 6px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    "td.num{text-align:right;white-space:nowrap}td.verdict{white-space:nowrap;font-weight:bold}"
    ".holds{color:#1a7f37}.refuted,.reversed{color:#b3261e}.flagged{background:#fff4ce}"
    "details summary{cursor:pointer;color:#0550ae;white-space:nowrap}"
    "td.text{white-space:pre-wrap;max-width:520px;overflow-wrap:anywhere}"
    ".tag{display:inline-block;margin:0 3px 2px 0;padding:0 4px;"
    "border-radius:3px;background:#eee;font-size:11px}.tag.on{background:#ffd7d5}</style>"
)


def p_text(p: float) -> str:
    """A p-value in two significant digits (2.9e-06, 0.034, 1), never rounded to 0.00."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "n/a"
    return f"{p:.2g}"


def number(x: float, digits: int = 2) -> str:
    """A number for a cell, "n/a" when missing."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def page(title: str, note: str, body: str, script: str = "") -> str:
    """A self-contained page: title, the run's note, the body."""
    head = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
    caption = f"<p><b>{html.escape(title)}</b></p>"
    if note:
        caption += f"<p><i>{html.escape(note)}</i></p>"
    return f"{head}{STYLE}</head><body>{caption}{body}{script}</body></html>\n"


def verdict_class(verdict: str, flags: str) -> str:
    """CSS classes of a verdict cell: its kind, and "flagged" when the audit flagged it."""
    kind = next((k for k in ("holds", "refuted", "reversed") if k in str(verdict)), "")
    return f"verdict {kind}" + (" flagged" if flags else "")


def claim_details(r: pd.Series) -> str:
    """The folded part of a claim's row: the paper's figure, the test's adjustment, the
    threshold ranges on which its sign is stable, the flags."""
    parts = [
        ("paper's difference", number(r.get("paper"))),
        ("adjustment", r.get("adjustment", "")),
        ("scope", r.get("scope", "")),
        ("stable over thresholds", r.get("stable_ranges", "")),
        ("flags", r.get("flags", "")),
    ]
    items = "".join(
        f"<li><b>{k}</b>: {html.escape(str(v))}</li>" for k, v in parts if v not in ("", None)
    )
    summary = "flags, ranges" if r.get("flags") else "details"
    return f"<details><summary>{summary}</summary><ul>{items}</ul></details>"


def claims_page(claims: pd.DataFrame, title: str, note: str = "") -> str:
    """The claims table: verdict first (with its scope, and the verdict with failing
    responses counted as failures), the claim, the comparison shown, the difference with
    its 95% interval, the adjusted p, the MDD, the seeds agreeing, and the rest folded."""
    head = (
        "<tr><th>verdict</th><th>strict verdict</th><th>protocol</th><th>claim</th>"
        "<th>comparison shown</th><th>difference [95% CI]</th><th>adj. p</th><th>MDD</th>"
        "<th>seeds</th><th>more</th></tr>"
    )
    rows = []
    for _, r in claims.iterrows():
        flags = r.get("flags", "") or ""
        metric, pair = str(r["comparison"]).split(": ", 1)
        shown = f"{metric}: " + " &minus; ".join(display(v) for v in pair.split(" - "))
        cells = [
            f"<td class='{verdict_class(r['verdict'], flags)}'>"
            f"{html.escape(verdict_cell(r['verdict'], r.get('scope', 'n/a')))}"
            + ("&dagger;" if flags else "")
            + "</td>",
            f"<td>{html.escape(str(r.get('strict_verdict', '')))}</td>",
            f"<td>{html.escape(str(r['protocol']))}</td>",
            f"<td>{html.escape(str(r['statement']))}</td>",
            f"<td>{shown}</td>",
            f"<td class='num'>{number(r['difference'])} "
            f"[{number(r['ci_low'])}, {number(r['ci_high'])}]</td>",
            f"<td class='num'>{p_text(r['p_adj'])}</td>",
            f"<td class='num'>{number(r['mdd'])}</td>",
            f"<td class='num'>{html.escape(str(r.get('seeds_agree', '')))}</td>",
            f"<td>{claim_details(r)}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    legend = (
        "<p>&dagger;: flagged by the response audit (its verdict or sign changes, or failing "
        "responses carry over half its difference, when they count as failures). Adjusted p "
        "in two significant digits.</p>"
    )
    return page(title, note, f"{legend}<table id='claims'>{head}{''.join(rows)}</table>")


FILTER_SCRIPT = (
    "<script>function show(){var f=document.getElementById('flag').value;"
    "var n=0;document.querySelectorAll('tr.item').forEach(function(r){"
    "var on=!f||(f==='none'?r.dataset.flags==='':r.dataset.flags.split(' ').indexOf(f)>=0);"
    "r.style.display=on?'':'none';if(on)n++;});"
    "document.getElementById('shown').textContent=n;}"
    "document.getElementById('flag').addEventListener('change',show);show();</script>"
)


def transcript_rows(rows: pd.DataFrame) -> str:
    """One table row per response: id, prompt, response, score, its audit flags."""
    flags = [f for f in FLAGS if f in rows]
    out = []
    for _, r in rows.iterrows():
        on = [f for f in flags if bool(r[f])]
        tags = "".join(f"<span class='tag on'>{f.replace('_', ' ')}</span>" for f in on)
        out.append(
            f"<tr class='item' data-flags='{' '.join(on)}'><td>{html.escape(str(r['id']))}</td>"
            f"<td class='text'>{html.escape(str(r.get('prompt', '')).strip())}</td>"
            f"<td class='text'>{html.escape(str(r['response']))}</td>"
            f"<td class='num'>{number(r['score'])}</td><td>{tags or 'none'}</td></tr>"
        )
    return "".join(out)


def transcript_page(rows: pd.DataFrame, title: str, note: str = "") -> str:
    """A transcript: every prompt with the response, its score and its audit flags, and a
    filter by flag (no network: the script is inline)."""
    flags = [f for f in FLAGS if f in rows]
    counts = {f: int(rows[f].astype(bool).sum()) for f in flags}
    options = "".join(
        f"<option value='{f}'>{f.replace('_', ' ')} ({counts[f]})</option>" for f in flags
    )
    control = (
        f"<p>Show: <select id='flag'><option value=''>all ({len(rows)})</option>"
        f"<option value='none'>no flag</option>{options}</select> "
        "(<span id='shown'></span> shown)</p>"
    )
    head = "<tr><th>id</th><th>prompt</th><th>response</th><th>score</th><th>flags</th></tr>"
    table = f"<table id='transcript'>{head}{transcript_rows(rows)}</table>"
    return page(title, note, control + table, FILTER_SCRIPT)


def transcript_files(root: str, protocols: list[str], runs: list[str]) -> dict[tuple, str]:
    """(protocol, run, prompt set) -> where its transcript page goes."""
    return {
        (p, r, s): f"{root}/transcripts/{p}/{r}_{s}.html"
        for p in protocols
        for r in runs
        for s in ("harmful", "helpful")
    }


def write_transcripts(responses: pd.DataFrame, files: dict[tuple, str], note: str = "") -> None:
    """One page per (protocol, run, prompt set) of ``files`` from responses.csv's rows (a
    run of a seed other than the first is ``{variant}_seed{seed}``)."""
    seeds = sorted(responses["seed"].unique()) if "seed" in responses else [None]
    for (protocol, run, prompt_set), path in files.items():
        variant, _, seed = run.partition("_seed")
        sel = (responses["protocol"] == protocol) & (responses["prompt_set"] == prompt_set)
        sel &= responses["variant"] == variant
        if "seed" in responses and variant != "base":
            sel &= responses["seed"] == (int(seed) if seed else seeds[0])
        rows = responses[sel]
        if "seed" in responses and variant == "base":
            rows = rows.drop_duplicates("id")
        title = f"Transcript: {protocol} protocol, {display(variant)}"
        title += f" (seed {seed})" if seed else ""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(transcript_page(rows, f"{title}, {prompt_set} prompts", note))
