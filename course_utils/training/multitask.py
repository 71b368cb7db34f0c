"""Multi-task objectives for ``fit``: a weighted sum of task losses, or learned weights.

Both are plain callables ``loss_fn(outputs, labels) -> scalar`` that ``fit`` takes as its
``loss_fn``; ``outputs`` is the model's ``{task: logits}``, ``labels`` the ``(B, T)`` task
labels (``-1``: no label). Both also expose ``terms(outputs, labels)``, the per-task parts
of the total, which :mod:`course_utils.training.gradients` differentiates one by one.

- :class:`WeightedTaskLoss`: ``sum_t w_t L_t`` with fixed weights (equal, or hand-tuned).
- :class:`UncertaintyWeighting`: Kendall, Gal and Cipolla (2018): learned log-variances
  ``s_t`` and ``sum_t exp(-s_t) L_t + s_t / 2``.

>>> import torch
>>> outputs = {"fine": torch.zeros(2, 10), "rotation": torch.zeros(2, 4)}
>>> labels = torch.tensor([[3, -1], [-1, 2]])
>>> round(WeightedTaskLoss({"fine": 1.0, "rotation": 0.5})(outputs, labels).item(), 4)  # ln 10 + ln 4 / 2
2.9957
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn

from ..evaluation.multitask import task_losses
from .loop import Callback, Trainer


def _check_tasks(weighted: Sequence[str], outputs: Mapping[str, torch.Tensor]) -> None:
    if list(weighted) != list(outputs):
        raise ValueError(f"the loss weighs tasks {list(weighted)} but the model outputs {list(outputs)}: "
                         "give one weight per head, in the heads' order (0 switches a task off)")


class WeightedTaskLoss:
    """``sum_t w_t L_t``: each task's cross-entropy times a fixed weight.

    Args:
        weights: ``{task: weight}`` for every head of the model, in head order.
        label_smoothing: passed to each task's cross-entropy.
    """

    def __init__(self, weights: Mapping[str, float], label_smoothing: float = 0.0):
        if any(w < 0 for w in weights.values()):
            raise ValueError(f"task weights must be non-negative, got {dict(weights)}")
        self.weights = dict(weights)
        self.label_smoothing = label_smoothing

    def terms(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{task: w_t L_t}``."""
        _check_tasks(self.weights, outputs)
        losses = task_losses(outputs, labels, self.label_smoothing)
        return {task: self.weights[task] * loss for task, loss in losses.items()}

    def __call__(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return sum(self.terms(outputs, labels).values())

    def __repr__(self) -> str:
        return f"WeightedTaskLoss({self.weights})"


class UncertaintyWeighting(nn.Module):
    """Learned task weights: ``sum_t exp(-s_t) L_t + s_t / 2`` with ``s_t = log sigma_t^2``.

    Kendall, Gal and Cipolla (2018), eq. 10, classification form: each task's loss is
    scaled by ``1 / sigma_t^2`` and the ``log sigma_t`` term stops every ``sigma_t`` from
    growing without bound. For a fixed ``L_t`` the minimum over ``s_t`` is at
    ``exp(-s_t) = 1 / (2 L_t)``: a task whose loss stays high gets a small weight.

    The ``s_t`` are parameters: they must be in the optimizer. Attach this module to the
    model (``model.weighting = UncertaintyWeighting(model.tasks)``) so that ``fit``'s
    optimizer trains them with the model, and pass it as ``loss_fn``.

    >>> weighting = UncertaintyWeighting(["a", "b"], init=[0.0, math.log(2.0)])
    >>> total = weighting.combine({"a": torch.tensor(1.0), "b": torch.tensor(3.0)})
    >>> round(total.item(), 4)                     # 1 + 0 + 3/2 + ln(2)/2
    2.8466
    """

    def __init__(self, tasks: Sequence[str], init: Sequence[float] | None = None):
        super().__init__()
        self.tasks = list(tasks)
        start = torch.zeros(len(self.tasks)) if init is None else torch.tensor(init, dtype=torch.float32)
        if start.shape != (len(self.tasks),):
            raise ValueError(f"init needs one value per task {self.tasks}, got {list(start.shape)} values")
        self.log_vars = nn.Parameter(start)  # s_t = log sigma_t^2, one per task

    def combine(self, losses: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """The total ``sum_t exp(-s_t) L_t + s_t / 2`` from per-task losses."""
        return sum(self.weigh(losses).values())

    def weigh(self, losses: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``{task: exp(-s_t) L_t + s_t / 2}``."""
        _check_tasks(self.tasks, losses)
        return {task: torch.exp(-s) * losses[task] + s / 2 for task, s in zip(self.tasks, self.log_vars)}

    def terms(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.weigh(task_losses(outputs, labels))

    def forward(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
        return sum(self.terms(outputs, labels).values())

    def task_weights(self) -> dict[str, float]:
        """The current weights ``exp(-s_t)``."""
        return {task: math.exp(-s) for task, s in zip(self.tasks, self.log_vars.tolist())}


class TaskWeightLog(Callback):
    """Record the learned weights ``exp(-s_t)`` in the history: ``weight_<task>`` per epoch.

    ``weighting`` defaults to the model's ``weighting`` attribute, found when training starts.
    With ``every`` set, the weights are also kept every ``every`` batches in ``self.steps``, a
    list of ``(step, {task: weight})`` starting at step 0, for a finer curve.
    """

    def __init__(self, weighting: UncertaintyWeighting | None = None, every: int | None = None):
        self.weighting, self.every = weighting, every
        self.steps: list[tuple[int, dict[str, float]]] = []
        self._step = 0

    def before_fit(self, trainer: Trainer) -> None:
        if self.weighting is None:
            self.weighting = getattr(trainer.model, "weighting", None)
        if not isinstance(self.weighting, UncertaintyWeighting):
            raise ValueError("TaskWeightLog needs an UncertaintyWeighting: pass one, or attach it "
                             "to the model as model.weighting")
        self.steps.append((0, self.weighting.task_weights()))

    def after_batch(self, trainer: Trainer) -> None:
        self._step += 1
        if self.every and self._step % self.every == 0:
            self.steps.append((self._step, self.weighting.task_weights()))

    def after_epoch(self, trainer: Trainer) -> None:
        for task, weight in self.weighting.task_weights().items():
            trainer.history.add(f"weight_{task}", weight)
