"""Per-task loss and accuracy of a multi-task model.

A multi-task model returns a dict ``{task: logits (B, C_task)}``. The labels of all tasks
travel together as one ``(B, T)`` integer tensor: column ``t`` holds the labels of the
``t``-th task of the output dict (the model's head order), and ``-1`` means "no label for
this task on this example" (an unlabelled image, or one used by another task only).

>>> import torch
>>> outputs = {"fine": torch.tensor([[2.0, 0.0], [0.0, 2.0]]), "coarse": torch.tensor([[1.0, 0.0], [1.0, 0.0]])}
>>> labels = torch.tensor([[0, 0], [0, -1]])      # the second example has no coarse label
>>> meter = TaskMeter()
>>> meter.update(outputs, labels)
>>> meter.means()["acc_fine"], meter.means()["acc_coarse"]
(0.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F

MISSING = -1  # label value: this example has no label for this task


def check_task_labels(outputs: Mapping[str, torch.Tensor], labels: torch.Tensor, same_rows: bool = True) -> None:
    """Raise a ``ValueError`` naming the problem if ``labels`` does not fit ``outputs``.

    ``labels`` must be ``(B, T)`` integers with one column per task of ``outputs``, values in
    ``-1 .. C_task - 1``. (The value range is checked when ``labels`` is on the CPU, to avoid
    a device sync per batch.) With ``same_rows=False`` the number of rows may differ (labels
    of a whole data set checked against the outputs of one batch).

    >>> check_task_labels({"fine": torch.zeros(4, 10)}, torch.zeros(4, dtype=torch.long))
    Traceback (most recent call last):
    ...
    ValueError: labels of shape (4,) do not match the 1 task output(s) ['fine']: expected shape (4, 1), one column per task in that order (-1 where an example has no label)
    """
    tasks = list(outputs)
    batch = len(next(iter(outputs.values()))) if same_rows else len(labels)
    if labels.ndim != 2 or labels.shape != (batch, len(tasks)):
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match the {len(tasks)} task output(s) "
            f"{tasks}: expected shape ({batch}, {len(tasks)}), one column per task in that order "
            "(-1 where an example has no label)")
    if torch.is_floating_point(labels):
        raise ValueError(f"task labels must be integers (class indices, -1 for none), got {labels.dtype}")
    if labels.device.type == "cpu":
        for column, (task, logits) in enumerate(outputs.items()):
            values = labels[:, column]
            if len(values) and (int(values.min()) < MISSING or int(values.max()) >= logits.shape[1]):
                raise ValueError(
                    f"labels of task {task!r} (column {column}) range over {int(values.min())}.."
                    f"{int(values.max())} but its head has {logits.shape[1]} outputs "
                    f"(allowed: -1 for no label, 0..{logits.shape[1] - 1})")


def task_losses(outputs: Mapping[str, torch.Tensor], labels: torch.Tensor,
                label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """Cross-entropy of each task over the examples that have its label (0 when none has).

    >>> outputs = {"a": torch.tensor([[0.0, 0.0]]), "b": torch.tensor([[0.0, 0.0, 0.0]])}
    >>> {k: round(v.item(), 4) for k, v in task_losses(outputs, torch.tensor([[1, -1]])).items()}
    {'a': 0.6931, 'b': 0.0}
    """
    check_task_labels(outputs, labels)
    losses = {}
    for column, (task, logits) in enumerate(outputs.items()):
        target = labels[:, column]
        total = F.cross_entropy(logits.float(), target, ignore_index=MISSING, reduction="sum",
                                label_smoothing=label_smoothing)
        losses[task] = total / (target != MISSING).sum().clamp(min=1)
    return losses


class TaskMeter:
    """Running per-task loss and accuracy over batches, counting only labelled examples.

    ``means()`` gives ``{"loss_<task>": ..., "acc_<task>": ...}``; a task that had no label
    in any batch gets NaN.
    """

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}

    @torch.no_grad()
    def update(self, outputs: Mapping[str, torch.Tensor], labels: torch.Tensor) -> None:
        check_task_labels(outputs, labels)
        for column, (task, logits) in enumerate(outputs.items()):
            target = labels[:, column]
            known = target != MISSING
            loss = F.cross_entropy(logits.float(), target, ignore_index=MISSING, reduction="sum")
            correct = ((logits.argmax(1) == target) & known).sum()
            batch = torch.stack([loss, correct.to(loss.dtype), known.sum().to(loss.dtype)])
            self.sums[task] = self.sums[task] + batch if task in self.sums else batch

    def means(self) -> dict[str, float]:
        result = {}
        for task, (loss, correct, count) in ((t, s.tolist()) for t, s in self.sums.items()):
            result[f"loss_{task}"] = loss / count if count else math.nan
            result[f"acc_{task}"] = correct / count if count else math.nan
        return result
