"""Timing and the machine: synchronised wall clock, summary rows, peak memory, MFU."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from typing import Any

import torch
import transformers
import trl

# Dense bf16 peak FLOP/s for model FLOPs utilisation (vendor data sheets, SXM parts).
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12}


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any], device: str) -> tuple[float, Any]:
    """(seconds, result) of one call, with the device synchronised around it."""
    sync(device)
    start = time.perf_counter()
    result = fn()
    sync(device)
    return time.perf_counter() - start, result


def pair_row(stage: str, unit: str, n: int, authors_s: float, ours_s: float, **extra) -> dict:
    """One summary row: both timings, throughputs, and the ratio authors/ours."""
    return {
        "stage": stage,
        "unit": unit,
        "n": n,
        "authors_s": round(authors_s, 4),
        "ours_s": round(ours_s, 4),
        "authors_per_s": round(n / authors_s, 4),
        "ours_per_s": round(n / ours_s, 4),
        "speedup": round(authors_s / ours_s, 3),
        **extra,
    }


def peak_gib(device: str) -> float | None:
    """Peak device memory since the last reset, in GiB (None on CPU)."""
    return round(torch.cuda.max_memory_allocated() / 2**30, 3) if device == "cuda" else None


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def mfu(params: int, tokens_per_s: float) -> float | None:
    """Model FLOPs utilisation, 6 x params x tokens/s over the GPU's bf16 peak (None on CPU)."""
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
    return round(6 * params * tokens_per_s / peak, 4) if peak else None


def environment() -> dict:
    """Machine, device and library versions, written next to every result."""
    return {
        "device": device_name(),
        "machine": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "threads": torch.get_num_threads(),
    }
