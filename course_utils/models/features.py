"""Run a frozen backbone once over a data set and keep the pooled features.

A linear head then trains on ``(N, D)`` features in milliseconds per epoch instead
of recomputing the backbone every epoch.

>>> from course_utils.models.backbones import SmallCNN
>>> import torch
>>> feats = extract_features(SmallCNN(), torch.zeros(10, 1, 28, 28, dtype=torch.uint8), cache=False)
>>> feats.shape
torch.Size([10, 128])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import contextmanager

import torch
import torch.nn as nn

from ..data.transforms import to_float
from ..paths import cache_dir
from ..runtime import channels_last
from .surgery import head_name


@contextmanager
def headless(model: nn.Module):
    """Temporarily replace the head with ``nn.Identity`` so the model returns features."""
    name = head_name(model)
    head = getattr(model, name)
    setattr(model, name, nn.Identity())
    try:
        yield model
    finally:
        setattr(model, name, head)


def _fingerprint(model: nn.Module, images: torch.Tensor, transform, tag: str) -> str:
    digest = hashlib.sha1()
    digest.update(images.cpu().contiguous().numpy().tobytes())
    digest.update(repr((tuple(images.shape), transform, tag)).encode())
    digest.update(repr(model).encode())  # the architecture: same weights in another variant differ
    for tensor in model.state_dict().values():
        digest.update(tensor.detach().float().sum().cpu().numpy().tobytes())
    return digest.hexdigest()[:16]


@torch.no_grad()
def extract_features(
    model: nn.Module,
    images: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    cache: bool = True,
    tag: str = "",
) -> torch.Tensor:
    """Pooled features ``(N, D)`` of ``images`` (uint8 or float) from ``model`` without its head.

    ``transform`` runs per batch (e.g. ``ImageNetInput(64, model)``). With ``cache`` the result
    is stored under ``data/cache/`` keyed by the images, the weights and the transform,
    so a second call (or a re-run notebook) loads it instead of recomputing.
    """
    path = cache_dir() / f"features-{_fingerprint(model, images, transform, tag)}.pt" if cache else None
    if path is not None and path.exists():
        return torch.load(path, weights_only=True)
    device = torch.device(device or next(model.parameters()).device)
    was_training = model.training
    model.eval().to(device)
    chunks = []
    with headless(model):
        for start in range(0, len(images), batch_size):
            x = to_float(images[start:start + batch_size].to(device))
            if transform is not None:
                x = transform(x)
            chunks.append(model(channels_last(x)).float().cpu())
    model.train(was_training)
    features = torch.cat(chunks)
    if path is not None:
        tmp = path.with_suffix(".tmp")
        torch.save(features, tmp)
        tmp.replace(path)
    return features
