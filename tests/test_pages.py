"""The HTML pages of the report: the claims table fits 1,400 px with the verdict first and
p-values in significant digits; a transcript page shows every response with its flags and
filters by flag. Rendered in headless Chromium where it is installed."""

import json
import shutil
import subprocess

import pandas as pd
import pytest

from hhalign.pages import claims_page, p_text, transcript_page, write_transcripts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (Debian: apt-get install chromium)"
)
RANGES = "; ".join(
    f"HmR thresholds [{-3 + k * 0.25:.2f}, {-2.5 + k * 0.25:.2f}]" for k in range(12)
)


def claims() -> pd.DataFrame:
    """24 claims with the long columns of a real run (stable_ranges, flags)."""
    rows = []
    for k in range(24):
        rows.append(
            {
                "protocol": "paper" if k < 12 else "corrected",
                "claim": f"c{k}",
                "statement": "SFT+DPO is best on all metrics (helpfulness and harmlessness)",
                "comparison": "HpR: sft_dpo - sft",
                "paper": 12.0,
                "paper_supports": True,
                "difference": -4.0 + k,
                "ci_low": -10.0,
                "ci_high": 3.5,
                "p_adj": 2.9e-06 if k == 0 else 0.034,
                "adjustment": "Holm over the metric's 6 pairs",
                "mdd": 11.2,
                "seeds_agree": "1/1",
                "stable_ranges": RANGES,
                "verdict": "holds" if k % 3 == 0 else "not separable",
                "scope": "these checkpoints (one training seed)",
                "strict_verdict": "not separable",
                "flags": "HpR: dpo - base: the verdict changes with failing responses counted as "
                "failures (holds -> not separable)"
                if k % 4 == 0
                else "",
            }
        )
    return pd.DataFrame(rows)


def chromium(page, script: str, tmp_path, shot=None) -> dict:
    """Open ``page`` headless at 1,400 x 1,000 with ``script`` appended (it writes a JSON
    answer into document.title) and return the answer; screenshot to ``shot``."""
    probe = tmp_path / f"probe_{page.name}"
    probe.write_text(page.read_text().replace("</body>", f"<script>{script}</script></body>"))
    profile = tmp_path / "profile"
    base = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ]
    if shot is not None:
        subprocess.run([*base, f"--screenshot={shot}", page.as_uri()], capture_output=True)
    dom = subprocess.run([*base, "--dump-dom", probe.as_uri()], capture_output=True, text=True)
    title = dom.stdout.split("<title>", 1)[1].split("</title>", 1)[0]
    return json.loads(title.replace("&quot;", '"'))


def test_p_values_keep_their_significant_digits():
    assert p_text(2.9e-06) == "2.9e-06" and p_text(0.0341) == "0.034" and p_text(1.0) == "1"


def test_the_claims_table_leads_with_the_verdict_and_folds_the_long_columns():
    text = claims_page(claims(), "Which of the paper's claims hold", "a note")
    head = text.split("<tr>", 2)[1]
    assert head.startswith("<th>verdict</th>") and "2.9e-06" in text and "0.00<" not in text
    assert text.count("<details>") == 24 and RANGES in text  # folded, not lost
    assert text.count("&dagger;</td>") == 6  # the flagged claims are marked


@needs_chromium
def test_the_claims_table_fits_1400_px_with_the_verdict_visible(tmp_path):
    """It was far wider than 1,400 px (verdict off-screen, rows 4-10 lines tall)."""
    page = tmp_path / "claims.html"
    page.write_text(claims_page(claims(), "Which of the paper's claims hold", "a note"))
    script = (
        "var t=document.getElementById('claims');var v=t.rows[1].cells[0].getBoundingClientRect();"
        "var h=[].slice.call(t.rows,1).map(function(r){return r.getBoundingClientRect().height;});"
        "document.title=JSON.stringify({width:document.documentElement.scrollWidth,"
        "right:t.getBoundingClientRect().right,vleft:v.left,vright:v.right,"
        "row:Math.max.apply(null,h)});"
    )
    shot = tmp_path / "claims.png"
    got = chromium(page, script, tmp_path, shot)
    assert got["width"] <= 1400 and got["right"] <= 1400, got
    assert 0 <= got["vleft"] < got["vright"] < 200, got  # the verdict: first, on screen
    assert got["row"] < 4 * 18, got  # no row 4-10 lines tall
    assert shot.read_bytes()[:4] == b"\x89PNG"


@needs_chromium
def test_a_transcript_page_shows_every_response_and_filters_by_flag(tmp_path):
    responses = pd.DataFrame(
        {
            "protocol": "paper",
            "variant": "dpo",
            "seed": 42,
            "prompt_set": "helpful",
            "id": [f"helpful-{i:03d}" for i in range(5)],
            "prompt": [f"\n\nHuman: question {i}?\n\nAssistant:" for i in range(5)],
            "response": [",,,,,,,,", "A fine answer.", "", "<b>not markup</b>", ",,,,"],
            "score": [1.5, 0.2, -1.0, 0.1, 1.4],
            "empty": [False, False, True, False, False],
            "degenerate": [True, False, False, False, True],
            "refusal": False,
            "failing": [True, False, True, False, True],
        }
    )
    path = tmp_path / "t" / "dpo_helpful.html"
    write_transcripts(responses, {("paper", "dpo", "helpful"): str(path)}, "a note")
    text = path.read_text()
    assert "&lt;b&gt;not markup&lt;/b&gt;" in text and "Human: question 3?" in text
    assert "degenerate (2)" in text and "failing (3)" in text
    assert transcript_page(responses, "t").count("<tr class='item'") == 5
    script = (
        "var s=document.getElementById('flag');s.value='degenerate';"
        "s.dispatchEvent(new Event('change'));var shown=[].slice.call("
        "document.querySelectorAll('tr.item')).filter(function(r){return r.style.display!=='none';"
        "}).length;document.title=JSON.stringify({shown:shown});"
    )
    shot = tmp_path / "transcript.png"
    assert chromium(path, script, tmp_path, shot) == {"shown": 2}
