"""Figures a reviewer looks at before reading: training curves (ours, and the authors' logged
losses beside the paper protocol's), and what the data stage did (Figures 5 and 6)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from hhalign.figstyle import legend_above, save
from hhalign.figures import COLORS, DASHES, STYLE, WIDTH
from hhalign.formats import display

# Panels of Figure 5: (title, log_history key, which runs log it)
PANELS = [
    ("SFT loss", "loss", "sft"),
    ("DPO loss", "loss", "dpo"),
    ("DPO reward accuracy", "rewards/accuracies", "dpo"),
    ("DPO reward margin", "rewards/margins", "dpo"),
    ("judge (RM) accuracy", "accuracy", "reward"),
]


def history_frame(histories: dict[tuple[str, str], str]) -> pd.DataFrame:
    """(protocol, run) -> log_history.json path, as one long table: protocol, run, variant,
    step and every logged value (rows of the final summary entry dropped)."""
    frames = []
    for (protocol, run), path in histories.items():
        rows = [h for h in json.loads(Path(path).read_text()) if "train_loss" not in h]
        variant = re.sub(r"_seed\d+$", "", run)
        frames.append(pd.DataFrame(rows).assign(protocol=protocol, run=run, variant=variant))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def authors_logs(text: str, name: str) -> pd.DataFrame:
    """The authors' logged training loss as (run, step, loss), from the text of a CSV in that
    format or of their notebook (``main.ipynb``, by ``name``'s suffix), whose three Trainer
    progress tables (Step, Training Loss) are SFT, DPO and SFT+DPO in that order."""
    if name.endswith(".csv"):
        logs = pd.read_csv(io.StringIO(text))
        if list(logs.columns) != ["run", "step", "loss"]:
            raise ValueError(f"{name}: columns {list(logs.columns)}, expected run, step, loss")
        return logs
    tables = []
    path = name
    for cell in json.loads(text)["cells"]:
        for out in cell.get("outputs", []):
            html = "".join(out.get("data", {}).get("text/html", []))
            if "<th>Training Loss</th>" in html:
                tables.append(re.findall(r"<td>(\d+)</td>\s*<td>([-\d.eE+]+)</td>", html))
    if len(tables) != 3:
        raise ValueError(
            f"{path}: expected 3 training tables (SFT, DPO, SFT+DPO), found {len(tables)}: "
            "point audit.train_logs at the authors' main.ipynb or a run,step,loss CSV"
        )
    return pd.DataFrame(
        [
            (run, int(s), float(v))
            for run, rows in zip(("sft", "dpo", "sft_dpo"), tables, strict=True)
            for s, v in rows
        ],
        columns=["run", "step", "loss"],
    )


def series_name(protocol: str, run: str, variant: str) -> str:
    """A training run as Figure 5's legend names it: the protocol and model, or the judge
    (the reward model that serves as the paper's judge, or another trained judge)."""
    if variant == "reward":
        return "judge: reward model"
    if protocol == "judges":
        return f"judge: {run}"
    return f"{protocol} {display(run)}"


def series_styles(history: pd.DataFrame) -> dict[str, dict]:
    """One colour and line style per training run, the same in every panel (each panel
    restarted the colours, so paper SFT, paper DPO and the judge were all blue)."""
    names = [
        series_name(p, r, v)
        for p, r, v in history[["protocol", "run", "variant"]].drop_duplicates().to_numpy()
    ]
    return {
        n: {"color": COLORS[k % len(COLORS)], "ls": DASHES[(k // len(COLORS)) % len(DASHES)]}
        for k, n in enumerate(dict.fromkeys(names))
    }


def figure5_training(
    history: pd.DataFrame, authors: pd.DataFrame | None, stem: str | Path, label: str = ""
) -> list[Path]:
    """Training curves of every run over its share of training (step / last step, so runs
    of any length compare), one colour per run in every panel; the authors' logged loss
    (grey, dashed) beside the SFT and DPO losses when it is given."""
    styles = series_styles(history) if len(history) else {}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(PANELS), figsize=(WIDTH, 2.3), squeeze=False)
        for ax, (title, key, kind) in zip(axes[0], PANELS, strict=True):
            runs = history[_kind(history, kind)] if len(history) else history
            for (protocol, run), g in runs.groupby(["protocol", "run"], sort=False):
                if key not in g:
                    continue
                g = g.dropna(subset=[key])
                name = series_name(protocol, run, g["variant"].iloc[0])
                ax.plot(g["step"] / g["step"].max(), g[key], lw=0.8, label=name, **styles[name])
            if authors is not None and key == "loss" and kind in ("sft", "dpo"):
                for run in ["sft"] if kind == "sft" else ["dpo", "sft_dpo"]:
                    a = authors[authors["run"] == run]
                    ax.plot(
                        a["step"] / a["step"].max(),
                        a["loss"],
                        lw=0.8,
                        color="0.55",
                        ls="--",
                        label=f"authors {display(run)}",
                    )
            ax.set_title(title, fontsize=8)
            ax.set_xlabel("share of training")
            ax.margins(y=0.08)
            if not ax.get_lines():  # say what is not shown
                ax.text(
                    0.5,
                    0.5,
                    "not logged\nby these runs",
                    ha="center",
                    va="center",
                    transform=ax.transAxes,
                    fontsize=7,
                    style="italic",
                )
                ax.set_yticks([])
        legend = {}
        for ax in axes[0]:
            legend |= dict(zip(*reversed(ax.get_legend_handles_labels()), strict=True))
        legend_above(fig, list(legend.values()), list(legend.keys()), ncols=4, fontsize=6)
        return save(fig, stem, label)


def _kind(history: pd.DataFrame, kind: str) -> pd.Series:
    if kind == "sft":
        return history["variant"] == "sft"
    if kind == "dpo":
        return history["variant"].isin(["dpo", "sft_dpo"])
    return (history["variant"] == "reward") | (history["protocol"] == "judges")


def figure6_data(
    data: dict, prompts: dict[str, dict], stem: str | Path, label: str = ""
) -> list[Path]:
    """What the data stage did: training rows in and out with rejects by reason, and each
    protocol's prompt selection (rows in, keyword candidates, prompts out)."""
    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 2.4))
        reasons = sorted(set(data["sft_rejects"]) | set(data["dpo_rejects"]))
        for j, kind in enumerate(("sft", "dpo")):
            counts = [data[f"{kind}_rejects"].get(r, 0) for r in reasons]
            bars = left.barh(
                [i + 0.4 * j for i in range(len(reasons))],
                counts,
                0.4,
                color=COLORS[j],
                label=f"{kind.upper()} ({data[f'{kind}_rows']} of {data['rows_in']} rows kept)",
            )
            left.bar_label(bars, fontsize=6, padding=1)
        left.set_yticks(
            [i + 0.2 for i in range(len(reasons))], [r.replace("_", " ") for r in reasons]
        )
        left.set_xlabel("rows rejected")
        most = max([1, *data["sft_rejects"].values(), *data["dpo_rejects"].values()])
        left.set_xlim(0, most * 1.2)
        left.set_title("training rows rejected, by reason")
        steps = ["harmful_rows_in", "harmful_candidates", "harmful_out", "helpful_out"]
        for j, (protocol, summary) in enumerate(prompts.items()):
            values = [summary.get(s, 0) for s in steps]
            bars = right.bar(
                [i + 0.4 * j for i in range(len(steps))],
                values,
                0.4,
                color=COLORS[j + 2],
                label=f"{protocol} protocol",
            )
            right.bar_label(bars, fontsize=6, padding=1)
        right.set_xticks(
            [i + 0.2 for i in range(len(steps))],
            ["harmful\nrows", "keyword\nmatches", "harmful\nprompts", "helpful\nprompts"],
        )
        right.set_title("prompt selection")
        right.margins(y=0.15)
        handles = [h for ax in (left, right) for h in ax.get_legend_handles_labels()[0]]
        names = [n for ax in (left, right) for n in ax.get_legend_handles_labels()[1]]
        legend_above(fig, handles, names, ncols=2, fontsize=6)
        return save(fig, stem, label)
