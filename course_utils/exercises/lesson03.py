"""Checkers for lesson 03, freezing versus fine-tuning.

>>> trainable_params.check(...)
Exercise 3.1: no answer yet. How many parameters train when the last 2 stages of EfficientNet-Lite0 and a fresh 10-class head are unfrozen?
False
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn

from . import Exercise


def _lite0_trainable(train_last: int, num_classes: int) -> int:
    from ..models.backbones import efficientnet_lite0
    from ..models.surgery import count_parameters, freeze, replace_head

    model = replace_head(efficientnet_lite0(pretrained=False), num_classes)
    return count_parameters(freeze(model, train_last=train_last))


def _judge_trainable(answer) -> bool:
    return int(answer) == _lite0_trainable(train_last=2, num_classes=10)


trainable_params = Exercise(
    "3.1",
    "How many parameters train when the last 2 stages of EfficientNet-Lite0 and a fresh "
    "10-class head are unfrozen?",
    _judge_trainable,
    hint="replace_head(model, 10), then freeze(model, train_last=2), then count_parameters(model). "
         "The head alone has 1280 * 10 + 10.",
)


def _tiny_model() -> nn.Module:
    from ..models.backbones import SmallCNN

    return SmallCNN(in_channels=1, num_classes=3, widths=(4, 8))


def _judge_groups(make_groups: Callable[[nn.Module], list[dict]]) -> bool:
    model = _tiny_model()
    groups = make_groups(model)
    lr_of = {}
    for group in groups:
        for p in group["params"]:
            if id(p) in lr_of:
                return False  # a parameter in two groups
            lr_of[id(p)] = group["lr"]
    head = {id(p) for p in model.classifier.parameters()}
    everything = {id(p) for p in model.parameters()}
    return (set(lr_of) == everything
            and all(math.isclose(lr, 1e-3) for pid, lr in lr_of.items() if pid in head)
            and all(math.isclose(lr, 1e-4) for pid, lr in lr_of.items() if pid not in head))


discriminative_groups = Exercise(
    "3.2",
    "Write make_groups(model) returning optimizer groups: the head (model.classifier) at "
    "lr 1e-3, every other parameter at lr 1e-4.",
    _judge_groups,
    hint="Collect the ids of model.classifier.parameters(); every parameter goes in exactly one "
         "of two lists: [{'params': backbone, 'lr': 1e-4}, {'params': head, 'lr': 1e-3}].",
)


def _judge_bn_freeze(keep_statistics: Callable[[nn.Module], object]) -> bool:
    torch.manual_seed(0)
    model = _tiny_model()
    keep_statistics(model)
    model.train()  # the trap: train() puts every BatchNorm back in training mode
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in bns]
    model(torch.rand(16, 1, 28, 28) * 3 + 1)
    unchanged = all(torch.equal(bn.running_mean, m) and torch.equal(bn.running_var, v)
                    for bn, (m, v) in zip(bns, before))
    conv_trains = model.stages[0][0].weight.requires_grad
    return unchanged and conv_trains


batchnorm_fix = Exercise(
    "3.3",
    "Write keep_statistics(model) so that, even after model.train(), no BatchNorm layer updates "
    "its running statistics, while the convolutions stay trainable.",
    _judge_bn_freeze,
    hint="model.train() resets every module's mode, so setting bn.eval() once is not enough: "
         "register a forward pre-hook on each BatchNorm that calls module.eval() and returns "
         "None (or use course_utils.models.surgery.set_trainable on the BatchNorm layers only).",
)


def _judge_suggestion(suggest: Callable[[list[float], list[float]], float]) -> bool:
    lrs = [10 ** (-6 + 0.25 * i) for i in range(25)]  # 1e-6 ... 1
    losses = [2.3 - 1.5 * math.exp(-((math.log10(lr) + 2) ** 2)) for lr in lrs]  # lowest at 1e-2
    losses[-3:] = [3.0, 5.0, 9.0]
    return math.isclose(suggest(lrs, losses), 1e-3, rel_tol=1e-6)


lr_suggestion = Exercise(
    "3.4",
    "Write suggest(lrs, losses): the learning rate at the lowest loss of a range test, divided by 10.",
    _judge_suggestion,
    hint="i = losses.index(min(losses)); return lrs[i] / 10",
)

EXERCISES = [trainable_params, discriminative_groups, batchnorm_fix, lr_suggestion]
