"""Fine-tuning in phases: train the head on a frozen backbone, then unfreeze more and more.

A fresh head starts random; its large early gradients would flow into the pretrained
backbone and damage it. Training in phases avoids that: phase one trains the head alone
(``train_last=0``), later phases unfreeze the last stages, with a smaller learning rate
for the backbone than for the head. Two phases (head, then everything) is what
fastai's ``fine_tune`` does; more phases is gradual unfreezing (ULMFiT).

>>> from course_utils.models.backbones import SmallCNN
>>> unfreeze_schedule(num_stages=3, steps=3)    # train_last per phase: head, +1, +2, all
[0, 1, 2, 3]
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

import torch.nn as nn

from ..models.surgery import count_parameters, freeze, set_trainable, stages
from .history import History
from .loop import FitConfig, fit


def freeze_batchnorm(model: nn.Module) -> nn.Module:
    """Keep every BatchNorm layer as pretrained: statistics and affine parameters frozen.

    With a few dozen images of a new domain, batch statistics are noisy and unlike the
    source's; fine-tuning the convolutions while the normalisation stays put is steadier.
    Layers frozen this way stay in eval mode even after ``model.train()``.

    >>> from course_utils.models.backbones import SmallCNN
    >>> import torch
    >>> net = freeze_batchnorm(SmallCNN()).train()
    >>> _ = net(torch.zeros(2, 1, 28, 28))          # each forward puts frozen BatchNorm back in eval
    >>> net.stages[0][1].training, net.stages[0][0].weight.requires_grad
    (False, True)
    """
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            set_trainable(module, False)
    return model


def unfreeze_schedule(num_stages: int, steps: int = 1) -> list[int]:
    """``train_last`` for each phase: 0 (head only), then ``steps`` phases ending at all stages.

    >>> unfreeze_schedule(9, steps=1)               # two-phase fine-tuning
    [0, 9]
    >>> unfreeze_schedule(9, steps=3)               # gradual unfreezing
    [0, 3, 6, 9]
    """
    if num_stages < 1 or steps < 1:
        raise ValueError(f"num_stages and steps must be positive, got {num_stages} and {steps}")
    steps = min(steps, num_stages)
    return [0] + [math.ceil(num_stages * i / steps) for i in range(1, steps + 1)]


def merge_histories(histories: Sequence[History], monitor: str = "val_acc") -> History:
    """One history from consecutive phases: epochs renumbered 1, 2, ..., best over all phases.

    ``monitor`` says how the phases' ``best_score`` compare (a loss: lower is better).

    >>> a, b = History(best_epoch=1, best_score=0.6), History(best_epoch=1, best_score=0.8)
    >>> a.record(epoch=1, val_acc=0.6); b.record(epoch=1, val_acc=0.8)
    >>> merged = merge_histories([a, b])
    >>> merged.epoch, merged.best_epoch, merged.best_score
    ([1, 2], 2, 0.8)
    """
    merged = History(stopped=histories[-1].stopped if histories else "not started")
    offset, best = 0, -math.inf
    for history in histories:
        for i in range(len(history)):
            merged.record(epoch=offset + history.epoch[i], train_loss=history.train_loss[i],
                          train_acc=history.train_acc[i], val_loss=history.val_loss[i],
                          val_acc=history.val_acc[i], lr=history.lr[i], time=history.time[i])
        score = _higher_is_better(history.best_score, monitor)
        if history.best_epoch is not None and score > best:
            best = score
            merged.best_epoch, merged.best_score = offset + history.best_epoch, history.best_score
        offset += len(history)
    return merged


def gradual_unfreeze(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    schedule: Sequence[int] | None = None,
    epochs: int | Sequence[int] = 1,
    lr: float = 1e-3,
    backbone_lr: float | None = 1e-4,
    head_lr: float | None = None,
    config: FitConfig | None = None,
    callbacks: Sequence = (),
    frozen_batchnorm: bool = False,
    verbose: bool = False,
    **overrides,
) -> History:
    """Train in phases; phase ``i`` unfreezes the last ``schedule[i]`` stages (0 = head only).

    Args:
        schedule: ``train_last`` per phase; default ``[0, all stages]`` (two phases).
        epochs: epochs per phase, one number for all or one per phase.
        lr: head learning rate in the phases that train backbone stages.
        backbone_lr: learning rate of the unfrozen backbone stages (``None``: same as ``lr``).
        head_lr: learning rate of the head-only phases (``train_last=0``); default ``lr``.
        frozen_batchnorm: keep all BatchNorm layers as pretrained in every phase
            (:func:`freeze_batchnorm`); otherwise unfrozen stages update theirs.
        config, callbacks, overrides: passed to :func:`~course_utils.training.fit` each phase.

    Returns:
        The merged :class:`~course_utils.training.history.History` of all phases. The model ends
        holding the best weights of all phases (by ``config.monitor``), with the freezing
        of the last phase.

    Example:
        >>> history = gradual_unfreeze(model, train, val, schedule=[0, 2, 9],
        ...                            epochs=[1, 2, 2], lr=1e-3, backbone_lr=1e-4)  # doctest: +SKIP
    """
    schedule = list(schedule) if schedule is not None else [0, len(stages(model))]
    per_phase = [epochs] * len(schedule) if isinstance(epochs, int) else list(epochs)
    if len(per_phase) != len(schedule):
        raise ValueError(f"{len(schedule)} phases but {len(per_phase)} epoch counts")
    config = config or FitConfig()
    monitor = history_monitor(overrides.get("monitor", config.monitor), val_loader)
    histories: list[History] = []
    best_weights, best_score = None, -math.inf
    for train_last, phase_epochs in zip(schedule, per_phase):
        freeze(model, train_last=train_last)
        if frozen_batchnorm:
            freeze_batchnorm(model)
        if verbose:
            print(f"phase {len(histories) + 1}: train_last={train_last}, "
                  f"{count_parameters(model):,} trainable parameters, {phase_epochs} epochs")
        head_only = train_last == 0
        history = fit(model, train_loader, val_loader, config, callbacks,
                      epochs=phase_epochs,
                      lr=(head_lr or lr) if head_only else lr,
                      backbone_lr=None if head_only else backbone_lr,
                      **overrides)
        histories.append(history)
        score = _higher_is_better(history.best_score, monitor)
        if score > best_score:  # fit left the model holding this phase's best weights
            best_score, best_weights = score, copy.deepcopy(model.state_dict())
        if history.stopped == "interrupted":
            break
    if best_weights is not None:
        model.load_state_dict(best_weights)
    return merge_histories(histories, monitor)


def two_phase_fine_tune(
    model: nn.Module,
    train_loader: Iterable,
    val_loader: Iterable | None = None,
    head_epochs: int = 1,
    epochs: int = 5,
    head_lr: float = 1e-3,
    lr: float = 1e-3,
    backbone_lr: float | None = 1e-4,
    **kwargs,
) -> History:
    """Phase 1: ``head_epochs`` on the head alone; phase 2: ``epochs`` with everything unfrozen.

    The backbone learns with ``backbone_lr``, the head with ``lr`` (discriminative rates).

    Example:
        >>> history = two_phase_fine_tune(model, train, val, head_epochs=1, epochs=4)  # doctest: +SKIP
    """
    return gradual_unfreeze(model, train_loader, val_loader,
                            schedule=unfreeze_schedule(len(stages(model)), steps=1),
                            epochs=[head_epochs, epochs], lr=lr, backbone_lr=backbone_lr,
                            head_lr=head_lr, **kwargs)


def history_monitor(monitor: str, val_loader: Iterable | None) -> str:
    """The metric ``fit`` monitors: ``monitor``, or the training loss without validation data."""
    return monitor if val_loader is not None else "train_loss"


def _higher_is_better(score: float | None, monitor: str) -> float:
    if score is None:
        return -math.inf
    return -score if monitor.endswith("loss") else score
