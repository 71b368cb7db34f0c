"""Accuracy, evaluation over a loader, and predictions.

>>> import torch
>>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
0.5

A multi-task model (its forward returns ``{task: logits}``) is evaluated per task, with
``(N, T)`` labels (see :mod:`course_utils.evaluation.multitask`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..runtime import channels_last
from .multitask import TaskMeter, task_losses


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose arg-max equals the label."""
    return (logits.argmax(dim=1) == labels).float().mean().item()


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def default_loss(outputs: torch.Tensor | dict, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy; for a dict of task outputs, the sum of the tasks' cross-entropies."""
    if isinstance(outputs, dict):
        return sum(task_losses(outputs, labels, label_smoothing).values())
    return F.cross_entropy(outputs, labels, label_smoothing=label_smoothing)


def as_float(outputs: torch.Tensor | dict) -> torch.Tensor | dict:
    """Outputs in float32 (autocast may give bf16), a tensor or a dict of them."""
    if isinstance(outputs, dict):
        return {task: out.float() for task, out in outputs.items()}
    return outputs.float()


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable | None = None) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``(X, y)`` batches, in eval mode.

    Returns ``{"loss": ..., "acc": ...}``. Batches move to the model's device. For a
    multi-task model it adds ``loss_<task>`` and ``acc_<task>`` for every task, and
    ``acc`` is the first task's (the main task's) accuracy.
    """
    loss_fn = loss_fn or default_loss
    device = _device_of(model)
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device)
    count = 0
    tasks = TaskMeter()
    for x, y in loader:
        x, y = channels_last(x.to(device)), y.to(device)
        logits = as_float(model(x))
        loss_sum += loss_fn(logits, y) * len(y)
        if isinstance(logits, dict):
            tasks.update(logits, y)
        else:
            correct += (logits.argmax(1) == y).sum()
        count += len(y)
    model.train(was_training)
    if count == 0:
        raise ValueError("evaluate got an empty loader")
    if tasks.sums:
        per_task = tasks.means()
        return {"loss": loss_sum.item() / count, "acc": per_task[f"acc_{next(iter(tasks.sums))}"],
                **per_task}
    return {"loss": loss_sum.item() / count, "acc": correct.item() / count}


@torch.no_grad()
def predict(model: nn.Module, data: Iterable | torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Logits for a tensor of inputs or for the ``X`` of each ``(X, y)`` batch, on the CPU.

    A multi-task model gives a dict ``{task: logits}``.
    """
    device = _device_of(model)
    was_training = model.training
    model.eval()
    if isinstance(data, torch.Tensor):
        batches = (data[i:i + batch_size] for i in range(0, len(data), batch_size))
    else:
        batches = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in data)
    outputs = [_on_cpu(as_float(model(channels_last(x.to(device))))) for x in batches]
    model.train(was_training)
    if outputs and isinstance(outputs[0], dict):
        return {task: torch.cat([out[task] for out in outputs]) for task in outputs[0]}
    return torch.cat(outputs)


def _on_cpu(outputs: torch.Tensor | dict) -> torch.Tensor | dict:
    if isinstance(outputs, dict):
        return {task: out.cpu() for task, out in outputs.items()}
    return outputs.cpu()
