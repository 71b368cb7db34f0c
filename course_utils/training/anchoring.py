"""Keeping what the source taught: L2-SP (decay towards the pretrained weights) and AdaBN.

Plain weight decay pulls every weight towards zero, which for a pretrained network means
towards *forgetting*. L2-SP (Li, Grandvalet and Davoine, 2018) pulls the backbone towards its
starting point instead: the penalty is ``alpha / 2 * ||theta - theta_0||^2``. :class:`L2SP` applies
it decoupled from the gradient, as AdamW decouples weight decay: after every optimizer step,
``theta <- theta - lr * alpha * (theta - theta_0)``, with each parameter's own learning rate.
The head is new, so it has no anchor and is left alone.

AdaBN (Li et al., 2016) touches no weight at all: it re-estimates every BatchNorm layer's
running mean and variance on target images, so that a frozen network normalises target
features with target statistics. :func:`adapt_batchnorm` does it.

>>> import torch
>>> from course_utils.models.backbones import SmallCNN
>>> net, images = SmallCNN(), torch.rand(8, 1, 28, 28) * 5 + 3  # "target" images
>>> _ = adapt_batchnorm(net, [images])
>>> conv_out = net.stages[0][0](images).detach()               # what the first BatchNorm sees
>>> torch.allclose(net.stages[0][1].running_mean, conv_out.mean((0, 2, 3)), atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn

from ..models.surgery import eval_mode, frozen_batchnorm_unlocked, head_name
from .loop import Callback, Trainer


class L2SP(Callback):
    """Decay the backbone towards its weights at the start of ``fit`` (L2-SP, decoupled).

    ``alpha`` is the pull's strength per unit of learning rate, like AdamW's ``weight_decay``:
    ``alpha = 0`` is plain fine-tuning, a large ``alpha`` keeps the backbone near its start.

    Example:
        >>> fit(model, train, val, lr=1e-3, callbacks=[L2SP(alpha=0.1)])  # doctest: +SKIP
    """

    def __init__(self, alpha: float):
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.alpha = alpha
        self.anchors: dict[int, torch.Tensor] = {}

    def before_fit(self, trainer: Trainer) -> None:
        head = {id(p) for p in getattr(trainer.model, head_name(trainer.model)).parameters()}
        self.anchors = {id(p): p.detach().clone() for p in trainer.model.parameters()
                        if p.requires_grad and id(p) not in head}

    @torch.no_grad()
    def after_batch(self, trainer: Trainer) -> None:
        for group in trainer.optimizer.param_groups:
            step = group["lr"] * self.alpha
            for p in group["params"]:
                anchor = self.anchors.get(id(p))
                if anchor is not None:
                    p.sub_(step * (p - anchor))

    def distance(self, model: nn.Module) -> float:
        """``||theta - theta_0||`` over the anchored parameters: how far the backbone moved."""
        moved = [(p.detach() - self.anchors[id(p)]).pow(2).sum() for p in model.parameters()
                 if id(p) in self.anchors]
        return float(torch.stack(moved).sum().sqrt()) if moved else 0.0


@torch.no_grad()
def adapt_batchnorm(model: nn.Module, batches: Iterable) -> nn.Module:
    """AdaBN: replace every BatchNorm's running statistics by those of ``batches`` (target data).

    ``batches`` yields image tensors or ``(images, labels)`` pairs, already preprocessed the way
    the model expects. The statistics are a plain average over all batches; weights,
    momentum and each module's train/eval mode are as before afterwards (BatchNorm layers
    frozen with :func:`~course_utils.models.surgery.set_trainable` are adapted too).
    """
    if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise ValueError(f"{type(model).__name__} has no BatchNorm layer to adapt")
    device = next(model.parameters()).device
    seen = 0
    with frozen_batchnorm_unlocked(model) as norms, eval_mode(model):  # dropout off; only BN collects
        momenta = [bn.momentum for bn in norms]
        try:
            for bn in norms:
                bn.reset_running_stats()
                bn.momentum = None  # cumulative moving average: every batch counts equally
                bn.train()
            for batch in batches:
                images = batch[0] if isinstance(batch, (tuple, list)) else batch
                model(images.to(device))
                seen += len(images)
        finally:
            for bn, momentum in zip(norms, momenta):
                bn.momentum = momentum
    if seen == 0:
        raise ValueError("adapt_batchnorm got no images: is the loader empty?")
    return model
