"""Shared timing helpers for the benchmark scripts (medians of repeated runs)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call_seconds(func: Callable[[], object], repeat: int = 7, number: int = 200) -> float:
    """Median seconds per call over ``repeat`` batches of ``number`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:9.1f} us"
