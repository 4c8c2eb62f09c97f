"""Length-sorted batches, shared by generation, the paper's judge and the other judges."""

from __future__ import annotations


def length_order(lengths: list[int]) -> list[int]:
    """Indices sorted by length, longest first (so the first batch shows peak memory)."""
    return sorted(range(len(lengths)), key=lambda i: -lengths[i])


def token_batches(
    lengths: list[int], batch_size: int, max_tokens: int | None = None
) -> list[tuple[int, int]]:
    """(start, end) spans over items sorted longest first: at most ``batch_size`` items
    and, with ``max_tokens``, at most that many padded tokens (first length x count)
    per batch. An item longer than ``max_tokens`` is a batch of its own."""
    spans, start = [], 0
    while start < len(lengths):
        end = start + 1
        while (
            end < len(lengths)
            and end - start < batch_size
            and (max_tokens is None or (end - start + 1) * lengths[start] <= max_tokens)
        ):
            end += 1
        spans.append((start, end))
        start = end
    return spans
