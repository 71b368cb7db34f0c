"""Device choice, CPU threads and seeds: the three things every notebook sets first.

>>> device = get_device()           # cuda if present, else cpu (mps only when asked for)
>>> seed_everything(0)
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def configure_threads() -> int:
    """Use one compute thread per available core, or ``COURSE_THREADS`` if set; say how many.

    Oversubscribing a 2-core laptop (compute threads plus loader workers, or another busy
    program) makes training slower, not faster: the threads wait for each other at every
    operation. On a machine that is busy with something else, ``COURSE_THREADS=1`` can be
    several times faster.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    requested = os.environ.get("COURSE_THREADS", "").strip()
    if requested and not (requested.isdigit() and int(requested) > 0):
        raise ValueError(f"COURSE_THREADS must be a positive whole number, got {requested!r}")
    threads = int(requested) if requested else max(1, cores)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


def get_device(prefer: str | None = None) -> torch.device:
    """``prefer`` if given, else ``COURSE_DEVICE`` if set, else CUDA if present, else the CPU.

    Apple's MPS is used only when asked for (``COURSE_DEVICE=mps`` or ``prefer="mps"``):
    the course's checks are tested on CPUs and CUDA, not on MPS.
    """
    prefer = prefer or os.environ.get("COURSE_DEVICE", "").strip() or None
    configure_threads()
    if prefer is not None:
        return torch.device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (all devices) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bfloat16 on CUDA cards that support it, float16 on older ones, None elsewhere."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """A 4-D image batch in NHWC memory order (same values, same shape), on CPUs and CUDA.

    oneDNN's depthwise and 1x1 convolutions run about twice as fast on CPUs in this
    order, cuDNN's tensor cores need it; the model's layers then follow the input.
    Other tensors (features, labels) pass through.

    >>> x = torch.zeros(2, 3, 8, 8)
    >>> channels_last(x).is_contiguous(memory_format=torch.channels_last), channels_last(x).shape
    (True, torch.Size([2, 3, 8, 8]))
    """
    if x.ndim == 4 and x.device.type in ("cpu", "cuda"):
        return x.contiguous(memory_format=torch.channels_last)
    return x
