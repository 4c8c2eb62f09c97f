"""Claims judged with failing responses counted as failures, and the flags that say whether
failing responses carry a verdict (hhalign.strict; issues 37 item 5 and 38)."""

import numpy as np
import pandas as pd
from support import claims_cfg

from hhalign.claims import claims_table
from hhalign.strict import strict_columns, strict_tables

VARIANTS = ["base", "sft", "dpo", "sft_dpo"]
CFG = claims_cfg()


def world(dpo_helpful: np.ndarray, dpo_failing: np.ndarray) -> tuple[pd.DataFrame, pd.Series]:
    """Every model answers 50 + 50 prompts the same (harmful: all pass; helpful: the first
    25 pass), except DPO's helpful scores; ``dpo_failing`` marks DPO's helpful responses
    that the audit calls failing."""
    rows, failing = [], []
    base_helpful = np.where(np.arange(50) < 25, 0.0, -4.0)
    for v in VARIANTS:
        for prompt_set, x in (("harmful", np.zeros(50)), ("helpful", base_helpful)):
            mark = np.zeros(50, dtype=bool)
            if v == "dpo" and prompt_set == "helpful":
                x, mark = dpo_helpful, dpo_failing
            for j in range(50):
                rows.append(
                    {
                        "protocol": "paper",
                        "variant": v,
                        "prompt_set": prompt_set,
                        "id": f"{prompt_set}-{j:03d}",
                        "score": float(x[j]),
                    }
                )
                failing.append(bool(mark[j]))
    return pd.DataFrame(rows), pd.Series(failing)


def judged(scores: pd.DataFrame, failing: pd.Series) -> pd.DataFrame:
    claims, pairs = claims_table(scores, VARIANTS, CFG)
    tables = strict_tables(scores, failing, VARIANTS, CFG)
    return strict_columns(claims, pairs, tables, VARIANTS, CFG).set_index("claim")


def test_a_claim_won_by_commas_on_a_quarter_of_the_prompts_is_flagged():
    """Before: 24% failing on the winning side stayed under the 25% share and was not
    flagged, although those responses carry the whole difference."""
    helpful = np.where(np.arange(50) < 25, 0.0, -4.0)
    commas = (np.arange(50) >= 25) & (np.arange(50) < 37)  # 12 of 50 = 24%
    helpful[commas] = 3.0  # the judge likes the commas
    row = judged(*world(helpful, commas)).loc["dpo_beats_base_hpr"]
    assert row["verdict"] == "holds" and row["difference"] == 24.0
    assert row["strict_verdict"] == "not separable" and row["strict_difference"] == 0.0
    assert "with the 12 failing responses counted as failures it is not separable" in row["flags"]


def test_failing_responses_that_count_against_the_winner_do_not_flag_it():
    """DPO passes 10 more helpful prompts than Base; 15 other responses (30%) are degenerate
    and fail anyway: they count against DPO, the strict verdict is the same, no flag (before:
    a flag saying the judge 'may reward such responses', which it did not)."""
    helpful = np.where(np.arange(50) < 35, 0.0, -6.0)
    degenerate = np.arange(50) >= 35
    row = judged(*world(helpful, degenerate)).loc["dpo_beats_base_hpr"]
    assert row["verdict"] == "holds" and row["strict_verdict"] == "holds"
    assert row["flags"] == ""


def test_a_sign_change_or_half_the_points_flag_and_nothing_else_does():
    from hhalign.strict import part_flag

    part = ("HpR", "dpo", "base")
    row = {"difference": 10.0}
    assert part_flag(part, (row, 0), ({"difference": 6.0}, 0), 3) == ""  # carries 4 of 10
    assert "not separable" in part_flag(part, (row, 0), ({"difference": 4.0}, 0), 3)
    assert part_flag(part, (row, 1), ({"difference": 9.0}, 0), 3)  # the verdict changes
    assert part_flag(part, (row, 0), ({"difference": -1.0}, 0), 3)  # the sign changes
    assert part_flag(part, ({"difference": 0.0}, 0), ({"difference": 4.0}, 0), 3) == ""  # a tie
    assert part_flag(part, (row, 0), ({"difference": 14.0}, 0), 3) == ""  # counts against


def test_failing_rows_read_back_responses_with_carriage_returns_and_seeds(tmp_path):
    """The GPT-2 run's responses hold carriage returns: written unquoted, responses.csv read
    back as shifted rows (seeds 'False'), and make_claims stopped on mismatched key types."""
    from hhalign.strict import failing_rows
    from hhalign.tables import write_responses

    scores = pd.DataFrame(
        {
            "protocol": "corrected",
            "variant": ["base", "sft", "sft"],
            "seed": [42, 42, 1],
            "prompt_set": "harmful",
            "id": ["harmful-000"] * 3,
            "sample": [0, 0, 0],
            "prompt": "Human: hi",
            "response": ["fine\r\nthanks", ",,,,,,", 'ok, "sure"\r'],
            "score": [1.0, 2.0, 3.0],
        }
    )
    audited = scores.assign(empty=False, degenerate=[False, True, False], non_text=False)
    audited = audited.assign(echo=False, continues_dialogue=False, refusal=False)
    out = {k: str(tmp_path / f"{k}.csv") for k in ("responses", "response_audit")}
    out["response_audit_html"] = str(tmp_path / "audit.html")
    write_responses(audited, pd.DataFrame({"protocol": ["corrected"], "model": ["sft"]}), out)
    failing = failing_rows(scores, out["responses"], {"corrected": False})
    assert failing.tolist() == [False, True, False]
