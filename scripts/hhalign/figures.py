"""Figures 1-4 and 7-9 as PDF and PNG, sized for a two-column paper, drawn from measured
tables only (Figures 5-6, training and data, are in ``curves.py``); legends, margins and the
run's label follow ``figstyle``."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hhalign.figstyle import legend_above, pad_limits, save
from hhalign.formats import display
from hhalign.metrics import RATES, SET_RATE, THRESHOLD_KEYS, main_rows
from hhalign.variance import NOT_SEPARABLE

WIDTH = 7.0  # inches: the full text width of a two-column paper
STYLE = {"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7, "figure.dpi": 150}
COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9"]  # Okabe-Ito: colour-blind safe
# Line styles and markers, so that overlapping series can be told apart without colour.
DASHES = ["-", "--", ":", "-."]
MARKERS = ["o", "s", "^", "D", "v"]


def model_ticks(sub: pd.DataFrame) -> list[str]:
    """x tick labels: the model, and its empty responses (harmful/helpful) when it has any."""
    return [
        display(r["model"])
        + (f"\n{r['empty_harmful']}/{r['empty_helpful']} empty" if r["empty_responses"] else "")
        for _, r in sub.iterrows()
    ]


def _panels(n: int, height: float = 2.4):
    fig, axes = plt.subplots(1, n, figsize=(WIDTH, height), squeeze=False, sharey=True)
    return fig, axes[0]


def figure1_rates(t1: pd.DataFrame, stem: str | Path, label: str = "") -> list[Path]:
    """Grouped bars of HmR, HpR and CAS per model (one panel per protocol), values labelled,
    95% intervals drawn, empty responses counted under each model."""
    t1 = main_rows(t1)
    with plt.rc_context(STYLE):
        protocols = list(dict.fromkeys(t1["protocol"]))
        fig, axes = _panels(len(protocols))
        width = 0.8 / len(RATES)
        for ax, protocol in zip(axes, protocols, strict=True):
            sub = t1[t1["protocol"] == protocol].reset_index(drop=True)
            for j, m in enumerate(RATES):
                xs = [i + (j - 1) * width for i in range(len(sub))]
                errs = [sub[m] - sub[f"{m}_lo"], sub[f"{m}_hi"] - sub[m]]
                bars = ax.bar(
                    xs,
                    sub[m],
                    width,
                    label=m,
                    color=COLORS[j],
                    yerr=errs,
                    error_kw={"elinewidth": 0.6, "capsize": 1.5},
                )
                ax.bar_label(bars, labels=[f"{v:.0f}" for v in sub[m]], fontsize=6, padding=1)
            ax.set_xticks(range(len(sub)), model_ticks(sub))
            ax.set_title(f"{protocol} protocol")
            ax.set_ylim(0, 118)  # room for a label over a 100% bar and its interval
        axes[0].set_ylabel("% of responses (95% CI)")
        legend_above(fig, *axes[0].get_legend_handles_labels(), ncols=3)
        return save(fig, stem, label)


def figure2_scores(
    scores: pd.DataFrame, thresholds: dict, stem: str | Path, label: str = ""
) -> list[Path]:
    """Box plots of reward scores per model, harmful and helpful side by side, thresholds drawn."""
    with plt.rc_context(STYLE):
        fig, axes = _panels(2, height=2.6)
        protocols = list(dict.fromkeys(scores["protocol"]))
        models = list(dict.fromkeys(scores["variant"]))
        for ax, prompt_set in zip(axes, ("harmful", "helpful"), strict=True):
            data, pos, colors = [], [], []
            for i, model in enumerate(models):
                for k, protocol in enumerate(protocols):
                    sel = scores[
                        (scores["variant"] == model)
                        & (scores["protocol"] == protocol)
                        & (scores["prompt_set"] == prompt_set)
                    ]
                    data.append(sel["score"].to_numpy())
                    pos.append(i + (k - (len(protocols) - 1) / 2) * 0.35)
                    colors.append(COLORS[k])
            box = ax.boxplot(
                data,
                positions=pos,
                widths=0.3,
                patch_artist=True,
                flierprops={"markersize": 2},
                medianprops={"color": "black", "linewidth": 1.2},
            )
            for patch, c in zip(box["boxes"], colors, strict=True):
                patch.set_facecolor(c)
                patch.set_alpha(0.6)
            key = "harmless" if prompt_set == "harmful" else "helpful"
            line = ax.axhline(thresholds[f"{key}_threshold"], color="k", ls="--", lw=0.8)
            ax.set_xticks(range(len(models)), [display(m) for m in models])
            ax.set_title(f"{prompt_set} prompts")
        axes[0].set_ylabel("reward score")
        handles = [
            plt.Rectangle((0, 0), 1, 1, color=COLORS[k], alpha=0.6) for k in range(len(protocols))
        ]
        cuts = ", ".join(
            f"{s} {thresholds[f'{k}_op']} {thresholds[f'{k}_threshold']:g}"
            for s, k in (("harmful", "harmless"), ("helpful", "helpful"))
        )
        names = [f"{p} protocol" for p in protocols] + [f"threshold ({cuts})"]
        legend_above(fig, [*handles, line], names, ncols=len(names))
        return save(fig, stem, label)


def figure3_means(t1: pd.DataFrame, stem: str | Path, label: str = "") -> list[Path]:
    """Mean reward score per model on harmful and helpful prompts (one panel per protocol),
    with 95% t intervals (several seeds: bootstrap intervals over prompts and seeds)."""
    t1 = main_rows(t1)
    with plt.rc_context(STYLE):
        protocols = list(dict.fromkeys(t1["protocol"]))
        fig, axes = _panels(len(protocols))
        for ax, protocol in zip(axes, protocols, strict=True):
            sub = t1[t1["protocol"] == protocol].reset_index(drop=True)
            for j, col in enumerate(("mean_harmful", "mean_helpful")):
                xs = [i + (j - 0.5) * 0.38 for i in range(len(sub))]
                errs = [sub[col] - sub[f"{col}_lo"], sub[f"{col}_hi"] - sub[col]]
                bars = ax.bar(
                    xs,
                    sub[col],
                    0.38,
                    color=COLORS[j],
                    label=f"{col.split('_')[1]} prompts",
                    yerr=errs,
                    error_kw={"elinewidth": 0.6, "capsize": 1.5},
                )
                ax.bar_label(bars, labels=[f"{v:.2f}" for v in sub[col]], fontsize=6, padding=2)
            ax.axhline(0, color="k", lw=0.5)
            ax.set_xticks(range(len(sub)), model_ticks(sub))
            ax.set_title(f"{protocol} protocol")
        cols = ["mean_harmful", "mean_helpful"]
        lows = t1[[f"{c}_lo" for c in cols] + cols].to_numpy(dtype=float)
        highs = t1[[f"{c}_hi" for c in cols] + cols].to_numpy(dtype=float)
        pad_limits(axes[0], lows, highs, share=0.22)  # the panels share y
        axes[0].set_ylabel("mean reward score (95% CI)")
        legend_above(fig, *axes[0].get_legend_handles_labels(), ncols=2)
        return save(fig, stem, label)


def figure4_thresholds(
    curves: pd.DataFrame, metrics: dict, stem: str | Path, label: str = ""
) -> list[Path]:
    """HmR and HpR of every model as the threshold moves over the scanned range, 95% bands,
    the configured thresholds marked: how much each comparison depends on the choice."""
    with plt.rc_context(STYLE):
        panels = list(dict.fromkeys(zip(curves["protocol"], curves["metric"], strict=True)))
        fig, axes = _panels(len(panels), height=2.2)
        marks = {SET_RATE[s]: metrics[key] for s, (key, _) in THRESHOLD_KEYS.items()}
        for ax, (protocol, metric) in zip(axes, panels, strict=True):
            sub = curves[(curves["protocol"] == protocol) & (curves["metric"] == metric)]
            for k, (model, g) in enumerate(sub.groupby("model", sort=False)):
                ax.plot(
                    g["threshold"],
                    g["rate"],
                    color=COLORS[k % 5],
                    lw=1.1,
                    ls=DASHES[k % 4],
                    marker=MARKERS[k % 5],
                    # markers at staggered points: series on top of each other stay visible
                    markevery=(k % max(len(g) // 4, 1), max(len(g) // 4, 1)),
                    markersize=3,
                    label=display(model),
                )
                ax.fill_between(
                    g["threshold"], g["lo"], g["hi"], color=COLORS[k % 5], alpha=0.12, lw=0
                )
            ax.axvline(marks[metric], color="black", lw=0.7, ls="--")
            ax.set_title(f"{metric}, {protocol}")
            ax.set_xlabel("threshold (judge score)")
            ax.set_ylim(-6, 106)  # a series at 0% or 100% stays off the frame
        axes[0].set_ylabel("% of responses (95% CI)")
        handles, names = axes[0].get_legend_handles_labels()
        legend_above(fig, handles, names, ncols=len(names))
        return save(fig, stem, label)


def figure7_judges(
    scores: pd.DataFrame, limits: pd.DataFrame, stem: str | Path, label: str = ""
) -> list[Path]:
    """One scatter per (other judge, prompt set): the paper's judge's score against the
    other's on the same responses, each judge's threshold drawn (dashed)."""
    names = list(dict.fromkeys(scores["judge"]))
    first, keys = names[0], ["protocol", "variant", "seed", "prompt_set", "id"]
    at = limits.set_index(["judge", "prompt_set"])["threshold"]
    cells = [
        (j, s)
        for j in names[1:]
        for s in ("harmful", "helpful")
        if ((scores["judge"] == j) & (scores["prompt_set"] == s)).any()
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(cells), figsize=(WIDTH, 2.6), squeeze=False)
        for ax, (judge, prompt_set) in zip(axes[0], cells, strict=True):
            ref, mine = (
                scores[(scores["judge"] == j) & (scores["prompt_set"] == prompt_set)]
                for j in (first, judge)
            )
            both = ref.merge(mine, on=keys, suffixes=("_ref", ""))
            for color, (variant, sub) in zip(
                COLORS, both.groupby("variant", sort=False), strict=False
            ):
                ax.scatter(
                    sub["score_ref"],
                    sub["score"],
                    s=6,
                    alpha=0.6,
                    color=color,
                    label=display(variant),
                )
            ax.axvline(at[(first, prompt_set)], color="grey", ls="--", lw=0.8)
            ax.axhline(at[(judge, prompt_set)], color="grey", ls="--", lw=0.8)
            ax.set(xlabel=f"{first} ({prompt_set})", ylabel=judge, title=f"{judge}: {prompt_set}")
        handles, names = axes[0][0].get_legend_handles_labels()
        legend_above(fig, handles, names, ncols=len(names), markerscale=2)
        return save(fig, stem, label)


# A row of Figure 8 with no variance to share out (every prompt and seed gives one value).
NO_VARIANCE = "no variance: one value on every prompt and seed"


def figure8_variance(variance: pd.DataFrame, stem: str | Path, label: str = "") -> list[Path]:
    """Where each one-set metric's uncertainty comes from: the shares of the prompt, seed,
    residual (and, with sampled decoding, decoding) components in the variance of its
    estimate, per protocol and model. With one seed prompts and seeds are one part ("not
    separable"); a seed share from fewer than 4 seeds is marked unreliable on its row."""
    parts = [
        (col, name)
        for col, name in (
            ("share_prompt", "prompts"),
            ("share_seed", "seeds"),
            ("share_residual", "residual"),
            ("share_prompt_seed", NOT_SEPARABLE),  # one seed
            ("share_decoding", "decoding"),  # sampled responses (generation.samples)
        )
        if variance.get(col, pd.Series(dtype=float)).notna().any()
    ]
    with plt.rc_context(STYLE):
        metrics = list(dict.fromkeys(variance["metric"]))
        fig, axes = _panels(len(metrics), height=0.25 * variance.groupby("metric").size().max() + 1)
        for ax, metric in zip(axes, metrics, strict=True):
            sub = variance[variance["metric"] == metric].reset_index(drop=True)
            marks = sub.get("components", pd.Series("", index=sub.index)).fillna("")
            names = [
                f"{p} {display(m)}" + (f" ({k} seeds: unreliable)" if "unreliable" in c else "")
                for p, m, k, c in zip(
                    sub["protocol"], sub["model"], sub["seeds"], marks, strict=True
                )
            ]
            left = np.zeros(len(sub))
            for k, (col, name) in enumerate(parts):
                share = sub[col].fillna(0.0).to_numpy()
                ax.barh(names, share, left=left, color=COLORS[k], label=name)
                left += share
            for row in np.flatnonzero(left == 0):  # say why a row is blank
                ax.text(0.02, row, NO_VARIANCE, va="center", fontsize=6, style="italic")
            ax.set_title(display(metric) if metric in RATES else metric.replace("_", " "))
            ax.set_xlim(0, 1)
            ax.set_xlabel("share of variance")
        legend_above(fig, *axes[0].get_legend_handles_labels(), ncols=len(parts))
        return save(fig, stem, label)


def figure9_responses(summary: pd.DataFrame, stem: str | Path, label: str = "") -> list[Path]:
    """What the models say: the share of each model's responses that fail (empty,
    degenerate, non-text or echo, together), that continue the dialogue, and refusals, per
    protocol and prompt set."""
    kinds = [
        ("failing", "failing (empty/degenerate/non-text/echo)"),
        ("continues_dialogue", "continues the dialogue"),
        ("refusal", "refusal"),
    ]
    with plt.rc_context(STYLE):
        panels = list(dict.fromkeys(zip(summary["protocol"], summary["prompt_set"], strict=True)))
        fig, axes = _panels(len(panels), height=2.2)
        for ax, (protocol, prompt_set) in zip(axes, panels, strict=True):
            sub = summary[(summary["protocol"] == protocol) & (summary["prompt_set"] == prompt_set)]
            x = np.arange(len(sub))
            width = 0.8 / len(kinds)
            for k, (col, name) in enumerate(kinds):
                ax.bar(x + (k - 1) * width, sub[col], width, color=COLORS[k], label=name)
            ax.set_xticks(x, [display(m) for m in sub["model"]], rotation=30)
            ax.set_title(f"{protocol}, {prompt_set}")
            ax.set_ylim(0, 105)
        axes[0].set_ylabel("% of responses")
        legend_above(fig, *axes[0].get_legend_handles_labels(), ncols=3)
        return save(fig, stem, label)
