"""Tokens of a response as the audit and the length statistics count them: words and single
punctuation marks (a leaf module: the claims' length columns need it without the audit)."""

from __future__ import annotations

import re

TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """Words and single punctuation marks, lower-cased."""
    return TOKEN.findall(text.lower())
