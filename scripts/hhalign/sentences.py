"""The claims in words, for the PDF report: a sentence for each claim that holds, is refuted
or reversed, or is flagged, generated from its numbers (the verdict and its scope, the
paper's difference, ours with its interval and adjusted p, the threshold band, the MDD, the
sample-size plan, the strict and the judge-corrected verdicts)."""

from __future__ import annotations

import pandas as pd

from hhalign.formats import _fmt, _p, comparison_latex, latex_escape


def claims_text(claims: pd.DataFrame) -> str:
    """The prose under the claims table: a sentence for each claim that holds, is refuted
    or reversed, or is flagged, and one line counting the rest (24 sentences in one
    template were accurate but hard to read)."""
    flagged = claims.get("flags", pd.Series("", index=claims.index)).fillna("") != ""
    decided = claims["verdict"].str.startswith(("holds", "refuted", "reversed"))
    told = claims[decided | flagged]
    rest = len(claims) - len(told)
    text = "\n\n".join(claim_sentence(r) for _, r in told.iterrows())
    if rest:
        text += (
            f"\n\nThe other {rest} of the {len(claims)} claims are not separable on this run: "
            "the claims table gives each one's difference, interval and what would settle it."
        )
    return text.strip() + "\n"


def claim_sentence(r: pd.Series) -> str:
    """One sentence per claim, generated from its numbers."""
    what = {
        "holds": "holds",
        "reversed": "is reversed",
        "not separable": "cannot be told apart from no difference",
    }.get(r["verdict"], f"is {r['verdict']}")
    scope = r.get("scope")
    if scope == "these checkpoints":
        what += " for these checkpoints (one training seed: a verdict on the method needs several)"
    elif scope == "the method":
        what += " for the method (a t-test on the per-seed differences agrees)"
    elif isinstance(scope, str) and scope.endswith("checkpoint pairs"):
        what += (
            f" for {scope} (the t-test on the per-seed differences, $p$ "
            f"{_p(r['p_seed'], equals=True)}, does not extend it to the method)"
        )
    paper = "" if pd.isna(r["paper"]) else f"the paper reports {_fmt(r['paper'], 2, True)}; "
    supports = {
        "no": " The paper's own numbers do not support every part of this claim.",
        "yes": "",
        "n/a": "",
    }[r.get("paper_supports", "n/a")]
    band = (
        f"its sign is stable for thresholds shifted by {_fmt(r['stable_from'], 2, True)} to "
        f"{_fmt(r['stable_to'], 2, True)}"
        if not pd.isna(r["stable_from"])
        else "no threshold band applies (a mean score, or a tie at the configured thresholds)"
    )
    mdd = (
        f"With {r['n_prompts']} prompts the test's minimum detectable difference (80\\% "
        f"power) is {_fmt(r['mdd'], 1)}."
        if not pd.isna(r["mdd"])
        else f"The test's minimum detectable difference is undefined: {r.get('mdd_note', '')}."
    )
    return (
        f"\\textbf{{{latex_escape(r['statement'])}}} ({r['protocol']} protocol) {what}: "
        f"{paper}here {comparison_latex(r['comparison'])} "
        f"is {_fmt(r['difference'], 1, True)} "
        f"[{_fmt(r['ci_low'], 1)}, {_fmt(r['ci_high'], 1)}], "
        f"{'Holm' if r['adjustment'].startswith('Holm') else 'BH'}-adjusted $p$ "
        f"{_p(r['p_adj'], equals=True)}, "
        f"{r['seeds_agree']} seeds agree in sign, and {band}. {mdd}{supports}{sizing_sentence(r)}"
        + flag_sentence(r)
        + corrected_sentence(r)
    )


def corrected_sentence(r: pd.Series) -> str:
    """Where a reviewer's labels change the verdict (``hhalign.corrected_claims``): the
    sentence saying so ("" otherwise, and always without labels)."""
    note = r.get("corrected_note")
    if not isinstance(note, str) or not note:
        return ""
    return f" \\textbf{{Corrected}}: {latex_escape(note[0].upper() + note[1:])}."


def flag_sentence(r: pd.Series) -> str:
    """A warning when failing responses carry the claim's verdict ("" otherwise): what each
    flagged part is as judged and with failing responses counted as failures
    (``hhalign.strict``)."""
    flags = r.get("flags")
    if not isinstance(flags, str) or not flags:
        return ""
    strict = r.get("strict_verdict")
    whole = (
        f" Judged that way the claim {'holds' if strict == 'holds' else 'is ' + strict}."
        if isinstance(strict, str)
        else ""
    )
    return (
        f" \\textbf{{Flag}}: {latex_escape(flags)}.{whole} Empty, degenerate, non-text or "
        "echoed responses carry this verdict, so it is not evidence of harmlessness or "
        "helpfulness."
    )


def sizing_sentence(r: pd.Series) -> str:
    """What would settle a claim that is not separable, as a sentence ("" otherwise): a
    plug-in plan (the observed numbers taken as the truth), with the plan at the interval's
    bound nearest 0 and what the plan does not cover (``sizing_note``)."""
    n = r.get("prompts_for_observed", float("nan"))
    note = r.get("sizing_note", "")
    if r["verdict"] != "not separable":
        return ""
    if pd.isna(n):
        return f" No plan: {note}." if isinstance(note, str) and note else ""

    def count(x: float) -> str:
        return "no number of them" if x == float("inf") else f"about {int(x)}"

    seeds = r.get("seeds_for_observed", float("nan"))
    more = "" if pd.isna(seeds) else f", or {count(seeds)} training seeds at this run's prompts"
    pool = r.get("pool", float("nan"))
    supply = "" if pd.isna(pool) else f" (the keyword filter keeps {int(pool)} harmful candidates)"
    bound = r.get("prompts_for_bound", float("nan"))
    at_bound = (
        ""
        if pd.isna(bound)
        else f"; at the interval's bound nearest 0 it would take {count(bound)}"
    )
    extra = [x for x in str(note).split("; ")[1:] if x] if isinstance(note, str) else []
    return (
        f" To settle it with 80\\% power, if the observed difference and discordance were the "
        f"truth, would take {count(n)} prompts per set{supply}{more}{at_bound}"
        + "".join(f"; {latex_escape(x)}" for x in extra)
        + "."
    )
