"""Latency and throughput, measured fairly: candidates interleaved in one process.

Timing on a shared laptop is noisy: another program can take a core for a second. Running
the candidates one after the other would charge that second to whichever ran then.
:func:`time_interleaved` runs them in turns, call by call, so a slow moment hits all alike;
the *ratios* of their medians are what to compare, not the absolute numbers.

>>> times = time_interleaved({"sum": lambda: sum(range(1000)), "noop": lambda: None}, repeats=20)
>>> summary = summarize(times["sum"], batch=1)
>>> summary["p50_ms"] <= summary["p95_ms"]
True
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def time_interleaved(candidates: dict[str, Callable[[], object]], repeats: int = 50,
                     warmup: int = 3) -> dict[str, np.ndarray]:
    """Seconds per call of each candidate: ``warmup`` untimed calls each, then ``repeats`` rounds
    in which every candidate runs once, in turn."""
    for run in candidates.values():
        for _ in range(warmup):
            run()
    times = {name: np.empty(repeats) for name in candidates}
    for i in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            times[name][i] = time.perf_counter() - start
    return times


def summarize(seconds: np.ndarray, batch: int = 1) -> dict[str, float]:
    """Median and 95th-percentile latency in milliseconds, and images per second at the median."""
    p50, p95 = np.percentile(seconds, [50, 95])
    return {"p50_ms": 1e3 * float(p50), "p95_ms": 1e3 * float(p95), "images_per_s": batch / float(p50)}
