"""Accuracy, evaluation over a loader, and predictions.

>>> import torch
>>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
0.5
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..runtime import channels_last


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the label."""
    return (logits.argmax(dim=1) == labels).float().mean().item()


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable | None = None) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``(X, y)`` batches, in eval mode.

    Returns ``{"loss": ..., "acc": ...}``. Batches move to the model's device.
    """
    loss_fn = loss_fn or F.cross_entropy
    device = _device_of(model)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    count = 0
    for x, y in loader:
        x, y = channels_last(x.to(device)), y.to(device)
        logits = model(x).float()
        loss_sum += loss_fn(logits, y) * len(y)
        correct += (logits.argmax(1) == y).sum()
        count += len(y)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got an empty loader")
    return {"loss": loss_sum.item() / count, "acc": correct.item() / count}


@torch.no_grad()
def predict(model: nn.Module, data: Iterable | torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits for a tensor of inputs or for the ``X`` of each ``(X, y)`` batch, on the CPU."""
    device = _device_of(model)
    was_training = model.training
    model.eval()
    if isinstance(data, torch.Tensor):
        batches = (data[i:i + batch_size] for i in range(0, len(data), batch_size))
    else:
        batches = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in data)
    outputs = [model(channels_last(x.to(device))).float().cpu() for x in batches]
    model.train(was_training)
    return torch.cat(outputs)
