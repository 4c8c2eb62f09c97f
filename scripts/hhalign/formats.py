"""How numbers, models and verdicts are written in every table, page and figure: LaTeX
escaping, the paper's rounding, model display names, the run's title, a verdict with its
scope (a leaf: the tables, the HTML pages and the figures share it)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

NAMES = {
    "base": "Base",
    "sft": "SFT",
    "dpo": "DPO",
    "sft_dpo": "SFT+DPO",
    **{"orpo": "ORPO", "simpo": "SimPO", "kto": "KTO", "rloo": "RLOO"},  # hhalign.methods
}

LATEX_SPECIAL = {c: "\\" + c for c in "&%$#_{}"} | {
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
}


def latex_escape(text: str) -> str:
    """Plain text made safe for LaTeX (the ten special characters escaped)."""
    return "".join(LATEX_SPECIAL.get(c, c) for c in text)


def run_title(label: str) -> str:
    """What a run is, for tables: its ``run_label``, or the paper setup when there is none."""
    return label or "paper setup"


def display(model: str) -> str:
    """How a variant is named in tables and figures."""
    return NAMES.get(model, model)


def _fmt(x: float, digits: int = 1, sign: bool = False) -> str:
    """A number as the paper prints it: rounded half up (28.125 -> 28.13; from the
    shortest repr, so 2.675 -> 2.68), never a negative zero ("n/a" for a missing one)."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    q = Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if q == 0:
        q = abs(q)
    return f"{q:+.{digits}f}" if sign else f"{q:.{digits}f}"


def verdict_cell(verdict: str, scope: str) -> str:
    """A verdict with its scope, short: "holds (ckpt.)" (one seed), "holds (3 ckpt.)" (three
    checkpoint pairs, no seed-level support), "holds (method)"."""
    if scope in (None, "n/a") or not isinstance(scope, str):
        return verdict
    if scope == "the method":
        return f"{verdict} (method)"
    k = scope.split()[1] if scope.endswith("checkpoint pairs") else ""
    return f"{verdict} ({k + ' ' if k else ''}ckpt.)"


def _p(p: float, equals: bool = False) -> str:
    """A p-value for a LaTeX table cell, or after "$p$" in a sentence (``equals``); the
    "<" in math mode (in text mode the default OT1 encoding prints an inverted "!")."""
    if p < 0.001:
        return "$<$ 0.001"
    return f"= {_fmt(p, 3)}" if equals else _fmt(p, 3)


def comparison_latex(comparison: str) -> str:
    """``"HpR: sft_dpo - sft"`` as LaTeX ``"HpR: SFT+DPO $-$ SFT"``."""
    metric, pair = comparison.split(": ")
    a, b = (latex_escape(display(v)) for v in pair.split(" - "))
    return f"{latex_escape(metric)}: {a} $-$ {b}"
