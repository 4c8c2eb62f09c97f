"""Where each report rule writes under a report directory (``results/`` or
``results/audit/``), and what Snakemake's HTML report shows: one table the run plan, the
rules and the tests share."""

from __future__ import annotations

FIGURES = ("fig1_rates", "fig2_scores", "fig3_means")

# What each report rule writes under a report directory: rule output group -> key -> path.
REPORT_LAYOUT = {
    "tables": {
        "table1": "table1.csv",
        "table2": "table2.csv",
        "table1_tex": "tables/table1.tex",
        "table2_tex": "tables/table2.tex",
        "macros": "tables/macros.tex",
        "table1_html": "tables/table1.html",
        "table2_html": "tables/table2.html",
    },
    "claims": {
        "claims": "claims.csv",
        "pairs": "pairs.csv",
        "claims_tex": "tables/claims.tex",
        "claims_text": "tables/claims_text.tex",
        "claims_macros": "tables/claims_macros.tex",
        "claims_html": "tables/claims.html",
        "pairs_html": "tables/pairs.html",
        "figure_pdf": "figures/fig4_thresholds.pdf",
        "figure_png": "figures/fig4_thresholds.png",
    },
    "responses": {
        "responses": "responses.csv",
        "response_audit": "response_audit.csv",
        "length_bias": "length_bias.csv",
        "response_audit_html": "tables/response_audit.html",
        "responses_pdf": "figures/fig9_responses.pdf",
        "responses_png": "figures/fig9_responses.png",
    },
    "variance": {
        "variance": "variance.csv",
        "variance_pdf": "figures/fig8_variance.pdf",
        "variance_png": "figures/fig8_variance.png",
    },
    "labels": {
        "sheet_html": "labels/sheet.html",
        "sheet_csv": "labels/sheet.csv",
        "key": "labels/key.csv",
    },
    "labelled": {
        "judge_vs_people": "labels/judge_vs_people.csv",
        "audit_vs_people": "labels/audit_vs_people.csv",
        "table1_corrected": "table1_corrected.csv",
        "pairs_corrected": "labels/pairs_corrected.csv",
        "labels_needed": "labels/labels_needed.csv",
        "labels_html": "tables/labels.html",
        "labels_tex": "tables/labels.tex",
    },
}


def laid_out(root: str, group: str) -> dict[str, str]:
    """``REPORT_LAYOUT[group]``'s paths under the report directory ``root``."""
    return {key: f"{root}/{path}" for key, path in REPORT_LAYOUT[group].items()}


# Outputs shown in Snakemake's HTML report: key -> (caption file, category, labels).
REPORTED = {
    "table1_html": ("table1.rst", "Tables", {"table": "Table 1"}),
    "table2_html": ("table2.rst", "Tables", {"table": "Table 2"}),
    "claims_html": ("claims.rst", "Claims", {"table": "claims"}),
    "pairs_html": ("pairs.rst", "Claims", {"table": "model pairs"}),
    "figure_png": ("fig4.rst", "Claims", {"figure": "threshold sensitivity"}),
    "variance_png": ("fig8.rst", "Claims", {"figure": "sources of uncertainty"}),
    "response_audit_html": ("response_audit.rst", "Responses", {"table": "response audit"}),
    "responses_png": ("fig9.rst", "Responses", {"figure": "response types"}),
    "win_rates_html": ("win_rates.rst", "Tables", {"table": "win rate vs chosen"}),
    "judges_table1_html": ("judges_table1.rst", "Judges", {"table": "Table 1 by judge"}),
    "judges_agreement_html": ("judges_agreement.rst", "Judges", {"table": "agreement"}),
    "judges_claims_html": ("judges_claims.rst", "Judges", {"table": "claims by judge"}),
    "judges_figure_png": ("fig7.rst", "Judges", {"figure": "judges"}),
    "labels_html": ("labels.rst", "Judges", {"table": "judge against people"}),
}
