"""One figure helper for every figure: legends outside the data, a margin around what is
drawn, labels for what is not shown, and the run's label wrapped to the figure's width.

Rules each figure follows (a test renders every figure and checks them):

- a legend sits above the panels (``legend_above``), never over data;
- value labels and error bars stay inside the axes with a margin (``pad_limits``);
- a row or panel with nothing to show says why (Figure 8's rows without variance);
- the run's label (a run that is not the paper setup) is wrapped to the figure's width on
  the PNG; the PDF, which the LaTeX report includes under a caption that carries the same
  note, does not repeat it (``save``).
"""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

LABEL_SIZE = 7  # points: the run label under a PNG
# stem -> what ``layout_problems`` found when it was saved (a test reads it; a job logs it).
CHECKED: dict[str, list[str]] = {}


def wrap_label(label: str, width_in: float, fontsize: float = LABEL_SIZE) -> str:
    """``label`` broken into lines that fit ``width_in`` inches of italic text at
    ``fontsize`` points (about 0.5 em a character, with a margin)."""
    chars = max(20, int(width_in * 72 / (0.5 * fontsize)) - 4)
    return textwrap.fill(" ".join(label.split()), width=chars)


def legend_above(fig, handles: list, names: list[str], ncols: int | None = None, **kw):
    """A legend centred above every panel and its title, outside the data (the layout is
    fixed first; ``bbox_inches='tight'`` keeps the legend in the saved figure). At most 4
    entries a row unless ``ncols`` says otherwise."""
    fig.tight_layout()
    top = max(ax.get_tightbbox().y1 for ax in fig.axes) / fig.bbox.height
    return fig.legend(
        handles,
        names,
        loc="lower center",
        ncols=max(ncols or min(len(names), 4), 1),
        frameon=False,
        bbox_to_anchor=(0.5, top + 0.01),
        **kw,
    )


def pad_limits(ax, lows, highs, share: float = 0.14, floor: float | None = None) -> None:
    """y limits that hold every value from ``lows`` to ``highs`` (bars with their
    intervals) with ``share`` of the range free above and below, for value labels; 0 stays
    in view; ``floor`` keeps the lower limit from going below it."""
    lo = min(0.0, float(np.nanmin(lows)))
    hi = max(0.0, float(np.nanmax(highs)))
    span = (hi - lo) or 1.0
    bottom = lo - (share * span if lo < 0 else 0.0)
    if floor is not None:
        bottom = max(bottom, floor)
    ax.set_ylim(bottom, hi + share * span)


def add_label(fig, label: str):
    """The run's label under the panels, wrapped to the figure's width."""
    if not label:
        return None
    bottom = min(ax.get_tightbbox().y0 for ax in fig.axes) / fig.bbox.height
    return fig.text(
        0.5,
        bottom - 0.02,
        wrap_label(label, fig.get_figwidth() * 0.95),
        ha="center",
        va="top",
        fontsize=LABEL_SIZE,
        style="italic",
    )


def save(fig, stem: str | Path, label: str = "") -> list[Path]:
    """Write ``stem``.pdf (no run label: the report's caption carries it) and ``stem``.png
    (with the label), and close the figure."""
    pdf, png = Path(f"{stem}.pdf"), Path(f"{stem}.png")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    if not fig.legends:  # legend_above fixed the layout already
        fig.tight_layout()
    fig.savefig(pdf, bbox_inches="tight", pad_inches=0.05, metadata={"CreationDate": None})
    fig.canvas.draw()
    add_label(fig, label)
    CHECKED[str(stem)] = problems = layout_problems(fig)
    if problems:
        logging.getLogger("hhalign.figstyle").warning("%s: %s", stem, "; ".join(problems))
    fig.savefig(png, bbox_inches="tight", pad_inches=0.08)
    plt.close(fig)
    return [pdf, png]


def _inside(inner, outer, tol: float = 0.5) -> bool:
    return (
        inner.x0 >= outer.x0 - tol
        and inner.x1 <= outer.x1 + tol
        and inner.y0 >= outer.y0 - tol
        and inner.y1 <= outer.y1 + tol
    )


def _data_points(ax) -> np.ndarray:
    """Display coordinates of the points, line vertices and bar ends drawn in ``ax``'s data
    coordinates."""
    pts = [np.empty((0, 2))]
    for line in ax.get_lines():
        if line.get_transform() == ax.transData and len(line.get_xydata()):
            pts.append(ax.transData.transform(line.get_xydata()))
    for coll in ax.collections:
        offsets = coll.get_offsets()
        if len(offsets) and coll.get_offset_transform() == ax.transData:
            pts.append(ax.transData.transform(offsets))
    for patch in ax.patches:
        box = patch.get_window_extent()
        pts.append(np.array([[box.x0, box.y1], [box.x1, box.y1], [box.x0, box.y0]]))
    return np.concatenate(pts)


def layout_problems(fig) -> list[str]:
    """What a figure draws over its own data or cuts off: a legend over an axes or over
    data points, a text label outside its axes or on the frame, a line on the top or bottom
    frame, a run label wider than the figure."""
    fig.canvas.draw()
    problems = []
    axes = [ax for ax in fig.axes if ax.get_visible()]
    for legend in fig.legends:
        box = legend.get_window_extent()
        for ax in axes:
            if box.overlaps(ax.get_window_extent()):
                problems.append(f"figure legend over the panel {ax.get_title()!r}")
    for ax in axes:
        frame = ax.get_window_extent()
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent()
            pts = _data_points(ax)
            hit = (pts[:, 0] > box.x0) & (pts[:, 0] < box.x1)
            hit &= (pts[:, 1] > box.y0) & (pts[:, 1] < box.y1)
            if hit.any():
                problems.append(f"legend over {hit.sum()} data points in {ax.get_title()!r}")
        for text in ax.texts:
            if text.get_text() and not _inside(text.get_window_extent(), frame, tol=-1.0):
                problems.append(f"label {text.get_text()!r} on or outside {ax.get_title()!r}")
        for line in ax.get_lines():
            drawn = line.get_transform() == ax.transData and len(line.get_xydata())
            if not drawn or line.get_label().startswith("_"):  # error bars, reference lines
                continue
            y = ax.transData.transform(line.get_xydata())[:, 1]
            if y.max() >= frame.y1 - 1.5 or y.min() <= frame.y0 + 0.5:
                problems.append(f"line {line.get_label()!r} on the frame of {ax.get_title()!r}")
    for text in fig.texts:
        box = text.get_window_extent()
        if box.x0 < 0 or box.x1 > fig.bbox.width:
            problems.append(f"figure text wider than the figure: {text.get_text()[:30]!r}")
    return problems
