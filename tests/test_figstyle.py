"""Every figure through the one figure helper (hhalign.figstyle): no legend over data, no
label on the frame or outside its panel, no series hidden under the frame, the run label
within the figure; and the checker itself finds each of those when it is there."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from support import paper_metrics
from test_report import VARIANTS, release

from hhalign import figstyle
from hhalign.audit import release_scores
from hhalign.curves import figure5_training, figure6_data, series_styles
from hhalign.figures import (
    NO_VARIANCE,
    figure1_rates,
    figure2_scores,
    figure3_means,
    figure4_thresholds,
    figure7_judges,
    figure8_variance,
    figure9_responses,
)
from hhalign.metrics import table1, threshold_curves

PAPER = paper_metrics()
LABEL = (
    "Tiny offline world: synthetic HH-RLHF look-alike data, tiny models built from config, a "
    "tiny trained judge with thresholds at 0. This checks the pipeline; its numbers say "
    "nothing about OPT-350M or the paper."
)


def scores_two_protocols() -> pd.DataFrame:
    parts = [
        df.assign(protocol=protocol, variant=variant, prompt_set=prompt_set)
        for protocol in ("paper", "corrected")
        for prompt_set in ("harmful", "helpful")
        for variant, df in release_scores(release(prompt_set), prompt_set, VARIANTS).items()
    ]
    return pd.concat(parts, ignore_index=True)


def test_every_figure_keeps_legends_labels_and_series_clear(tmp_path):
    scores = scores_two_protocols()
    t1 = table1(scores, PAPER, VARIANTS)
    grid = np.arange(-2.0, 2.01, 0.5)
    figure1_rates(t1, tmp_path / "f1", LABEL)
    figure2_scores(scores, PAPER, tmp_path / "f2", LABEL)
    figure3_means(t1, tmp_path / "f3", LABEL)
    figure4_thresholds(threshold_curves(scores, PAPER, grid), PAPER, tmp_path / "f4", LABEL)
    judged = pd.concat(
        [
            scores.assign(judge="rm", seed=0),
            scores.assign(judge="chat", seed=0, score=scores["score"] * 0.5 + 1),
        ]
    )
    limits = pd.DataFrame(
        {"judge": ["rm", "rm", "chat", "chat"], "prompt_set": ["harmful", "helpful"] * 2}
    ).assign(threshold=[-3.0, -2.0, -0.5, 0.0])
    figure7_judges(judged, limits, tmp_path / "f7", LABEL)
    variance = pd.DataFrame(
        {
            "metric": "HpR",
            "protocol": "paper",
            "model": ["base", "sft", "dpo"],
            "seeds": 3,
            "share_prompt": [0.7, 0.5, np.nan],  # dpo: the same value everywhere
            "share_seed": [0.1, 0.2, np.nan],
            "share_residual": [0.2, 0.3, np.nan],
            "components": "seed component from 3 seeds: unreliable",
        }
    )
    figure8_variance(variance, tmp_path / "f8", LABEL)
    kinds = ("failing", "echo", "refusal", "continues_dialogue")
    summary = pd.DataFrame(
        [
            {
                "protocol": p,
                "prompt_set": s,
                "model": m,
                **dict.fromkeys(kinds, 100.0 * (m == "dpo")),
            }
            for p in ("paper", "corrected")
            for s in ("harmful", "helpful")
            for m in VARIANTS
        ]
    )
    figure9_responses(summary, tmp_path / "f9", LABEL)
    history = pd.DataFrame(
        [
            {"protocol": p, "run": r, "variant": v, "step": k, key: 2.0 / k}
            for p, r, v, key in [
                ("paper", "sft", "sft", "loss"),
                ("paper", "dpo", "dpo", "loss"),
                ("all", "reward", "reward", "accuracy"),
                ("judges", "tiny_chat", "tiny_chat", "accuracy"),
            ]
            for k in range(1, 6)
        ]
    )
    figure5_training(history, None, tmp_path / "f5", LABEL)
    data = {
        "rows_in": 1000,
        "sft_rows": 950,
        "dpo_rows": 900,
        "sft_rejects": {"empty_completion": 40, "too_long": 10},
        "dpo_rejects": {"empty_completion": 60, "prompt_mismatch": 40},
    }
    prompts = {
        p: {"harmful_rows_in": 300, "harmful_candidates": 120, "harmful_out": 50, "helpful_out": 50}
        for p in ("paper", "corrected")
    }
    figure6_data(data, prompts, tmp_path / "f6", LABEL)
    checked = {k: v for k, v in figstyle.CHECKED.items() if k.startswith(str(tmp_path))}
    assert len(checked) == 9
    assert {k: v for k, v in checked.items() if v} == {}


def test_series_have_one_colour_each_across_panels():
    """Figure 5 restarted its colours in every panel: paper SFT, paper DPO and the judge
    ("all reward") were all blue."""
    history = pd.DataFrame(
        {
            "protocol": ["paper", "paper", "all", "judges"],
            "run": ["sft", "dpo", "reward", "tiny_chat"],
            "variant": ["sft", "dpo", "reward", "tiny_chat"],
        }
    )
    styles = series_styles(history)
    assert list(styles) == ["paper SFT", "paper DPO", "judge: reward model", "judge: tiny_chat"]
    assert len({s["color"] for s in styles.values()}) == 4


def test_the_checker_finds_a_legend_on_data_a_label_on_the_frame_and_a_cut_label():
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1, 2], [0, 50, 100], label="at 100%")
    ax.set_ylim(0, 100)
    ax.scatter([1.9], [95], label="a point")
    ax.legend(loc="upper right")
    ax.text(1.0, 100, "-0.12")
    fig.text(0.5, 0.0, "x" * 400, ha="center")
    problems = " | ".join(figstyle.layout_problems(fig))
    plt.close(fig)
    assert "legend over" in problems and "on the frame" in problems
    assert "'-0.12' on or outside" in problems and "wider than the figure" in problems


def test_the_run_label_is_wrapped_to_the_figure_width():
    lines = figstyle.wrap_label(LABEL, 7.0).split("\n")
    assert len(lines) >= 2 and max(map(len, lines)) <= 7.0 * 72 / 3.5


def test_a_row_without_variance_says_why():
    assert "no variance" in NO_VARIANCE
