"""Hard parameter sharing: one backbone shared by every task, one small head per task.

The backbone maps images to feature vectors ``(B, D)``; each head maps those features to
its task's logits. The forward pass returns a dict ``{task: logits}``, in the order the
heads were given, which is also the order of the label columns (see
:mod:`course_utils.evaluation.multitask`).

>>> import torch
>>> from course_utils.models.backbones import SmallCNN
>>> model = MultiTaskModel.from_classifier(SmallCNN(), {"fine": 10, "coarse": 4})
>>> {task: tuple(out.shape) for task, out in model(torch.zeros(2, 1, 28, 28)).items()}
{'fine': (2, 10), 'coarse': (2, 4)}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn as nn

from .surgery import _last_linear, head_name


class MultiTaskModel(nn.Module):
    """A shared ``backbone`` and one head per task, held in an ``nn.ModuleDict``.

    Args:
        backbone: images ``(B, C, H, W)`` -> features ``(B, D)``.
        heads: ``{task: module}``, each features ``(B, D)`` -> logits ``(B, C_task)``.
    """

    def __init__(self, backbone: nn.Module, heads: Mapping[str, nn.Module]):
        super().__init__()
        if not heads:
            raise ValueError("a multi-task model needs at least one head")
        self.backbone = backbone
        self.heads = nn.ModuleDict(heads)

    @classmethod
    def from_classifier(cls, model: nn.Module, tasks: Mapping[str, int], dropout: float = 0.0) -> MultiTaskModel:
        """Share ``model`` (a SmallCNN, EfficientNet or ResNet) without its head; a linear head per task.

        ``tasks`` maps each task's name to its number of classes. The model's own head is
        replaced by ``nn.Identity``, so the backbone returns its pooled features.
        """
        name = head_name(model)
        in_features = _last_linear(getattr(model, name)).in_features
        setattr(model, name, nn.Identity())
        heads = {task: _linear_head(in_features, n, dropout) for task, n in tasks.items()}
        return cls(model, heads)

    @property
    def tasks(self) -> list[str]:
        """The task names, in head order (the order of the label columns)."""
        return list(self.heads)

    def shared_parameters(self) -> list[nn.Parameter]:
        """The backbone's trainable parameters: what every task's gradient moves."""
        return [p for p in self.backbone.parameters() if p.requires_grad]

    def forward(self, x: torch.Tensor, tasks: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """``{task: logits (B, C_task)}`` for every head, or only for ``tasks``."""
        if tasks is not None:
            unknown = [task for task in tasks if task not in self.heads]
            if unknown:
                raise ValueError(f"no head for task(s) {unknown}: this model has heads for {self.tasks}")
        features = self.backbone(x)  # (B, D), computed once for all tasks
        return {task: self.heads[task](features) for task in (tasks or self.tasks)}


def _linear_head(in_features: int, num_classes: int, dropout: float) -> nn.Module:
    if num_classes < 1:
        raise ValueError(f"a head needs at least one output, got {num_classes}")
    linear = nn.Linear(in_features, num_classes)
    return nn.Sequential(nn.Dropout(dropout), linear) if dropout > 0 else linear
