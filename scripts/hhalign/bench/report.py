"""The suite's outputs: summary.csv, full_run_estimate.csv, environment.json, speedup.png."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from hhalign.bench.suite import full_run_hours


def plot_speedups(summary: pd.DataFrame, path: str) -> None:
    """Bar chart of authors' time / our time per stage, with both timings written on the bars
    (the methods beside DPO have no authors' way: no bar)."""
    import matplotlib

    summary = summary.dropna(subset=["speedup"])

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.2))
    if summary.empty:  # only step_overhead was asked for (its own tables)
        ax.text(0.5, 0.5, "no stage timed both ways", ha="center", va="center")
        fig.savefig(path, dpi=150)
        plt.close(fig)
        return
    bars = ax.bar(summary["stage"], summary["speedup"], color="#3b6ea5")
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    for bar, (_, r) in zip(bars, summary.iterrows(), strict=True):
        label = f"{r['speedup']:.2f}x\n{r['authors_s']:.1f}s -> {r['ours_s']:.1f}s"
        ax.annotate(
            label,
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_ylabel("speed-up over the authors' way")
    ax.set_ylim(0, max(summary["speedup"].max() * 1.35, 1.5))
    ax.set_title(f"{summary['size'].iloc[0]} size on {summary['device'].iloc[0]}", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)


OVERHEAD_COLUMNS = ["stage", "before_wall_ms", "after_wall_ms", "before_cpu_ms", "after_cpu_ms"]


def write_overhead(overhead: dict | None, out: Path) -> None:
    """step_overhead.csv and step_profile.csv (``suite.step_overhead``); without the stage,
    the two files with their header alone, so the rule's outputs always exist."""
    summary = overhead["summary"] if overhead else pd.DataFrame(columns=OVERHEAD_COLUMNS)
    parts = overhead["parts"] if overhead else pd.DataFrame(columns=["stage", "part"])
    summary.to_csv(out / "step_overhead.csv", index=False)
    parts.to_csv(out / "step_profile.csv", index=False)


def write_outputs(
    summary: pd.DataFrame,
    env: dict,
    cfg: dict,
    out_dir: str,
    plans: dict | None = None,
    overhead: dict | None = None,
) -> None:
    """summary.csv, full_run_estimate.csv, environment.json, speedup.png, step_overhead.csv
    and step_profile.csv in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_overhead(overhead, out)
    summary.to_csv(out / "summary.csv", index=False)
    estimate = full_run_hours(summary, cfg["full_run"], plans)
    estimate.to_csv(out / "full_run_estimate.csv", index=False)
    (out / "environment.json").write_text(json.dumps(env, indent=2, sort_keys=True) + "\n")
    plot_speedups(summary, str(out / "speedup.png"))
