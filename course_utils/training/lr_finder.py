"""The learning-rate range test: raise the learning rate every batch and watch the loss.

Train for ``num_steps`` batches while the learning rate grows geometrically from
``start_lr`` to ``end_lr``. The loss first barely moves (rate too small), then falls
(useful rates), then explodes (too large). A good rate sits on the falling slope,
about ten times below the rate where the loss is lowest. The model's weights, buffers
and train/eval mode are restored afterwards, so the test changes nothing.

>>> import torch
>>> from course_utils.models.backbones import SmallCNN
>>> from course_utils.data.loaders import DeviceLoader
>>> X, y = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8), torch.arange(64) % 10
>>> result = lr_range_test(SmallCNN(), DeviceLoader(X, y, batch_size=16), num_steps=10)
>>> len(result.lrs) == len(result.losses) <= 10
True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.surgery import param_groups


@dataclass
class LRRangeResult:
    """Learning rates tried, the smoothed loss after each, and why the test ended."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    stopped: str = "completed"  # or "diverged": the loss exceeded diverge_factor x its minimum

    @property
    def min_loss_lr(self) -> float:
        """The learning rate at which the smoothed loss was lowest."""
        return self.lrs[min(range(len(self.losses)), key=self.losses.__getitem__)]

    def suggestion(self, divisor: float = 10.0) -> float:
        """A safe choice: the rate of the lowest loss divided by ``divisor`` (a rule of thumb)."""
        return self.min_loss_lr / divisor


def _cycle(loader: Iterable) -> Iterator:
    while True:
        yield from loader


def lr_range_test(
    model: nn.Module,
    loader: Iterable,
    start_lr: float = 1e-6,
    end_lr: float = 1.0,
    num_steps: int = 100,
    optimizer: str = "adamw",
    weight_decay: float = 0.0,
    smoothing: float = 0.9,
    diverge_factor: float = 4.0,
    backbone_ratio: float = 1.0,
) -> LRRangeResult:
    """Run the range test on ``model``'s trainable parameters; return rates and losses.

    Args:
        model: any classifier; only parameters with ``requires_grad`` are trained.
        loader: ``(X, y)`` batches; cycled if shorter than ``num_steps``.
        start_lr, end_lr: the first and last learning rate (a geometric sweep between).
        num_steps: batches in the sweep, one learning rate each.
        optimizer: ``"adamw"`` or ``"sgd"`` (momentum 0.9).
        smoothing: exponential moving average of the loss (0 = raw losses).
        diverge_factor: stop once the smoothed loss exceeds this multiple of its minimum.
        backbone_ratio: the backbone learns at this fraction of the swept rate, the head at the
            rate itself (0.1: the discriminative rule ``backbone_lr = lr / 10``); the result's
            rates are the head's.

    Returns:
        :class:`LRRangeResult` with one learning rate and one smoothed loss per step.

    Example:
        >>> result = lr_range_test(model, train_loader)              # doctest: +SKIP
        >>> fit(model, train_loader, val_loader, lr=result.suggestion())  # doctest: +SKIP
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_steps < 2:
        raise ValueError(f"num_steps must be at least 2, got {num_steps}")
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("the model has no trainable parameters: is everything frozen?")
    if not 0 < backbone_ratio <= 1:
        raise ValueError(f"backbone_ratio must be in (0, 1], got {backbone_ratio}")
    if backbone_ratio == 1.0:  # one rate for everything: any model, head or not
        params = [{"params": [p for p in model.parameters() if p.requires_grad], "lr": 1.0,
                   "weight_decay": weight_decay}]
    else:  # each group's "lr" is its scale: 1 for the head, backbone_ratio for the rest
        params = param_groups(model, backbone_lr=backbone_ratio, head_lr=1.0, weight_decay=weight_decay)
    scales = [group["lr"] for group in params]
    if optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=start_lr)
    elif optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=start_lr, momentum=0.9)
    else:
        raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {optimizer!r}")

    saved_state = copy.deepcopy(model.state_dict())  # weights and BatchNorm statistics
    was_training = model.training
    device = next(model.parameters()).device
    growth = (end_lr / start_lr) ** (1 / (num_steps - 1))  # lr_i = start_lr * growth**i
    result, average, best = LRRangeResult(), 0.0, math.inf
    model.train()
    try:
        for step, (x, y) in zip(range(num_steps), _cycle(loader)):
            lr = start_lr * growth**step
            for group, scale in zip(opt.param_groups, scales):
                group["lr"] = lr * scale
            loss = F.cross_entropy(model(x.to(device)), y.to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = loss.item()
            if not math.isfinite(value):
                result.stopped = "diverged"
                break
            average = smoothing * average + (1 - smoothing) * value
            smoothed = average / (1 - smoothing ** (step + 1))  # bias correction, as in Adam
            result.lrs.append(lr)
            result.losses.append(smoothed)
            best = min(best, smoothed)
            if smoothed > diverge_factor * best:
                result.stopped = "diverged"
                break
    finally:
        model.load_state_dict(saved_state)
        model.train(was_training)
    return result


def plot_lr_range(result: LRRangeResult, suggestion: float | None = None, ax=None) -> plt.Figure:
    """Smoothed loss against learning rate (log axis), with the suggested rate marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(result.lrs, result.losses)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("smoothed training loss")
    suggestion = result.suggestion() if suggestion is None else suggestion
    ax.axvline(suggestion, color="gray", linestyle=":", label=f"suggestion {suggestion:.1e}")
    ax.axvline(result.min_loss_lr, color="red", linestyle=":", label=f"lowest loss {result.min_loss_lr:.1e}")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.figure.tight_layout()
    return ax.figure
