"""Timing helpers for the benchmarks: interleaved repeats, medians, one process.

Ratios are measured against a baseline run in the same process, alternating the two
so that a busy machine slows both alike.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize()


def compare(candidate: Callable[[], object], baseline: Callable[[], object], repeats: int = 3,
            device: torch.device | None = None) -> tuple[float, float]:
    """Median seconds of ``candidate`` and ``baseline``, run alternately after one warm-up each."""
    candidate(), baseline()
    times: dict[str, list[float]] = {"candidate": [], "baseline": []}
    for _ in range(repeats):
        for name, run in (("candidate", candidate), ("baseline", baseline)):
            sync(device)
            start = time.perf_counter()
            run()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return statistics.median(times["candidate"]), statistics.median(times["baseline"])


def machine() -> str:
    import os
    import platform

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"torch {torch.__version__}, {gpu}")


def report(images: int, candidate: tuple[str, float], baseline: tuple[str, float], ratio: str) -> None:
    """Print the machine, both throughputs and ``ratio``, one of "speed" or "overhead".

    Speed is baseline time / candidate time (higher is better); overhead is the inverse.
    """
    (name_c, t_c), (name_b, t_b) = candidate, baseline
    print(f"machine: {machine()}")
    print(f"{name_c}: {images / t_c:.0f} img/s; {name_b}: {images / t_b:.0f} img/s")
    value = t_b / t_c if ratio == "speed" else t_c / t_b
    print(f"{ratio} ratio {name_c} vs {name_b} = {value:.3f}")
