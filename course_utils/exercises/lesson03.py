"""Checkers for lesson 03, freezing versus fine-tuning.

>>> trainable_params.check(...)
Exercise 3.1: no answer yet. How many parameters train when the last 2 stages of EfficientNet-Lite0 and a fresh 10-class head are unfrozen?
Stuck? Run the check again with show_solution=True to see a solution.
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
    hint="Build the network, give it a 10-class head, freeze all but the last 2 stages, then count "
         "only the parameters with requires_grad. (The head alone has 1280 * 10 + 10.)",
    solution="model = replace_head(load_backbone('efficientnet_lite0', pretrained=False), 10); "
             "my_count = count_parameters(freeze(model, train_last=2))",
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
    hint="Every parameter must land in exactly one group; tell head parameters from the rest by "
         "identity (id(p)), since tensors compare element-wise.",
    solution="head = {id(p) for p in model.classifier.parameters()}; return "
             "[{'params': [p for p in model.parameters() if id(p) not in head], 'lr': 1e-4}, "
             "{'params': list(model.classifier.parameters()), 'lr': 1e-3}]",
    blocked=("course_utils.models.surgery.param_groups",),
)


def _judge_bn_freeze(keep_statistics: Callable[[nn.Module], object]) -> bool:
    """Right when, after ``model.train()``, every BatchNorm behaves as in eval mode: it normalises
    with its running statistics (the outputs equal eval mode's) and never updates them.

    ``train`` must still be PyTorch's: replacing it (on the model, a layer, a layer's class or
    ``nn.Module``) would break every later ``train()`` call instead of fixing BatchNorm, so such
    an answer is wrong, and the original is put back whatever the answer did."""
    torch.manual_seed(0)
    model = _tiny_model()
    with torch.no_grad():  # statistics unlike the defaults, so that using them is visible
        for bn in model.modules():
            if isinstance(bn, nn.BatchNorm2d):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
    images = torch.rand(16, 1, 28, 28) * 3 + 1
    model.eval()
    with torch.no_grad():
        expected = model(images)
    classes = {type(m) for m in model.modules()} | {nn.Module}
    originals = {cls: cls.__dict__["train"] for cls in classes if "train" in cls.__dict__}
    try:
        keep_statistics(model)
        replaced = (any(cls.__dict__.get("train") is not originals.get(cls) for cls in classes)
                    or any("train" in vars(m) for m in model.modules()))
    finally:  # an answer that patched train() must not leave the notebook's PyTorch patched
        for cls in classes:
            if cls.__dict__.get("train") is not originals.get(cls):
                if cls in originals:
                    cls.train = originals[cls]
                else:
                    delattr(cls, "train")
    if replaced:
        return False
    model.train()  # the trap: train() puts every BatchNorm back in training mode
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    before = [(bn.running_mean.clone(), bn.running_var.clone()) for bn in bns]
    with torch.no_grad():
        out = model(images)
    unchanged = all(torch.equal(bn.running_mean, m) and torch.equal(bn.running_var, v)
                    for bn, (m, v) in zip(bns, before))
    uses_running_statistics = torch.allclose(out, expected, atol=1e-5)
    conv_trains = model.stages[0][0].weight.requires_grad
    return unchanged and uses_running_statistics and conv_trains


batchnorm_fix = Exercise(
    "3.3",
    "Write keep_statistics(model) so that, even after model.train(), no BatchNorm layer updates "
    "its running statistics, while the convolutions stay trainable.",
    _judge_bn_freeze,
    hint="model.train() resets every module's mode, so bn.eval() once is not enough. And keeping "
         "the statistics still is not enough either (momentum=0 or track_running_stats=False): "
         "in training mode BatchNorm then normalises with the batch's own statistics. The layer "
         "must be in eval mode whenever it runs; write it by hand (not with the course's "
         "freeze_batchnorm or set_trainable), and leave model.train itself alone.",
    solution="def keep_eval(module, inputs): module.eval()  # returns None\n"
             "for m in model.modules():\n"
             "    if isinstance(m, nn.BatchNorm2d): m.register_forward_pre_hook(keep_eval)",
    blocked=("course_utils.training.finetune.freeze_batchnorm", "course_utils.models.surgery.set_trainable"),
)


def _judge_suggestion(suggest: Callable[[list[float], list[float]], float]) -> bool:
    """Two range tests with their lowest loss at different rates, so a constant cannot pass."""
    lrs = [10 ** (-6 + 0.25 * i) for i in range(25)]  # 1e-6 ... 1
    for lowest in (-2.0, -3.5):  # log10 of the rate with the lowest loss
        losses = [2.3 - 1.5 * math.exp(-((math.log10(lr) - lowest) ** 2)) for lr in lrs]
        losses[-3:] = [3.0, 5.0, 9.0]
        if not math.isclose(suggest(list(lrs), losses), 10 ** (lowest - 1), rel_tol=1e-6):
            return False
    return True


lr_suggestion = Exercise(
    "3.4",
    "Write suggest(lrs, losses): the learning rate at the lowest loss of a range test, divided by 10.",
    _judge_suggestion,
    hint="Find the position of the smallest loss, take the learning rate at that position.",
    solution="i = losses.index(min(losses)); return lrs[i] / 10",
    blocked=("course_utils.training.lr_finder.LRRangeResult.suggestion",),
)

EXERCISES = [trainable_params, discriminative_groups, batchnorm_fix, lr_suggestion]
