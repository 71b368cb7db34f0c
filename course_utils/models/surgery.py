"""Model surgery for transfer learning: swap the head, freeze and unfreeze, learning-rate groups.

Works on timm EfficientNets, torchvision ResNets and :class:`~course_utils.models.backbones.SmallCNN`.

>>> from course_utils.models.backbones import SmallCNN
>>> net = replace_head(SmallCNN(), num_classes=5)
>>> _ = freeze(net, train_last=0)               # only the head trains
>>> count_parameters(net) == 128 * 5 + 5
True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch.nn as nn

HEAD_NAMES = ("classifier", "fc", "head", "heads")  # "heads": a multi-task model's ModuleDict


def head_name(model: nn.Module) -> str:
    """The attribute that holds the classification head."""
    for name in HEAD_NAMES:
        if isinstance(getattr(model, name, None), nn.Module):
            return name
    raise ValueError(f"{type(model).__name__} has none of the head attributes {HEAD_NAMES}")


def _last_linear(module: nn.Module) -> nn.Linear:
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"no nn.Linear found in head {module}")
    return linears[-1]


def replace_head(model: nn.Module, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Put a fresh ``Dropout -> Linear(in_features, num_classes)`` head on ``model``."""
    name = head_name(model)
    in_features = _last_linear(getattr(model, name)).in_features
    new_head = nn.Linear(in_features, num_classes)
    setattr(model, name, nn.Sequential(nn.Dropout(dropout), new_head) if dropout > 0 else new_head)
    return model


def stages(model: nn.Module) -> list[nn.Module]:
    """The backbone's stages from input to output, head excluded.

    EfficientNet: stem, its blocks one by one, the final 1x1 conv. ResNet: stem,
    layer1..layer4. SmallCNN: its conv stages.
    """
    if hasattr(model, "blocks") and hasattr(model, "conv_stem"):  # timm EfficientNet
        stem = nn.ModuleList([model.conv_stem, model.bn1])
        return [stem, *model.blocks, nn.ModuleList([model.conv_head, model.bn2])]
    if hasattr(model, "layer4"):  # torchvision ResNet
        return [nn.ModuleList([model.conv1, model.bn1, model.relu, model.maxpool]),
                model.layer1, model.layer2, model.layer3, model.layer4]
    if hasattr(model, "stages"):  # SmallCNN
        return list(model.stages)
    raise ValueError(f"don't know the stages of {type(model).__name__}")


def split_at_stage(model: nn.Module, stage: int) -> tuple[nn.Sequential, nn.Sequential]:
    """Cut the backbone of ``model`` before ``stage``: ``(trunk, tail)``, head excluded.

    ``trunk`` maps images to the feature maps entering ``stage``; ``tail`` maps those to
    pooled features ``(B, D)``. Both share their modules (and weights) with ``model``. A
    frozen trunk's output can be computed once and cached, so that training the tail costs
    only the tail's share of the compute.

    >>> import torch
    >>> from course_utils.models.backbones import SmallCNN
    >>> trunk, tail = split_at_stage(SmallCNN(), 2)
    >>> maps = trunk(torch.zeros(2, 1, 28, 28))
    >>> tuple(maps.shape), tuple(tail(maps).shape)
    ((2, 64, 7, 7), (2, 128))
    """
    all_stages = stages(model)
    if not 0 < stage < len(all_stages):
        raise ValueError(f"stage must be in 1..{len(all_stages) - 1}, got {stage}")

    def chain(modules: list[nn.Module]) -> list[nn.Module]:
        return [m for s in modules for m in (s if isinstance(s, nn.ModuleList) else [s])]

    pool = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]  # every backbone here pools by averaging
    return nn.Sequential(*chain(all_stages[:stage])), nn.Sequential(*chain(all_stages[stage:]), *pool)


def _keep_eval(module: nn.Module, _inputs) -> None:
    module.eval()


def set_trainable(module: nn.Module, trainable: bool) -> None:
    """Turn gradients on or off for ``module``; frozen BatchNorm layers stay in eval mode.

    A frozen BatchNorm in train mode would still update its running statistics from
    target batches (and normalise with batch statistics). A forward pre-hook puts it
    back in eval mode on every call, even after ``model.train()``.
    """
    for parameter in module.parameters():
        parameter.requires_grad_(trainable)
    for bn in module.modules():
        if isinstance(bn, nn.modules.batchnorm._BatchNorm):
            handle = getattr(bn, "_course_eval_hook", None)
            if not trainable and handle is None:
                bn._course_eval_hook = bn.register_forward_pre_hook(_keep_eval)
            elif trainable and handle is not None:
                handle.remove()
                del bn._course_eval_hook
                bn.train(module.training)


@contextmanager
def frozen_batchnorm_unlocked(model: nn.Module) -> Iterator[list[nn.Module]]:
    """Inside the block, BatchNorm layers frozen by :func:`set_trainable` may leave eval mode.

    Yields every BatchNorm layer of ``model``. Parameters stay frozen; on leaving (also after
    an error), the layers that were frozen are kept in eval mode again. For code that updates
    running statistics on purpose, such as AdaBN (:func:`~course_utils.training.anchoring.adapt_batchnorm`).

    >>> import torch
    >>> from course_utils.models.backbones import SmallCNN
    >>> net = SmallCNN()
    >>> set_trainable(net, False)
    >>> with frozen_batchnorm_unlocked(net) as norms:
    ...     _ = norms[0].train()
    ...     _ = net(torch.zeros(2, 1, 28, 28))
    ...     norms[0].training
    True
    >>> _ = net.train()(torch.zeros(2, 1, 28, 28))
    >>> net.stages[0][1].training                       # frozen again: back in eval mode
    False
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    frozen = [bn for bn in norms if getattr(bn, "_course_eval_hook", None) is not None]
    for bn in frozen:
        bn._course_eval_hook.remove()
        del bn._course_eval_hook
    try:
        yield norms
    finally:
        for bn in frozen:
            bn._course_eval_hook = bn.register_forward_pre_hook(_keep_eval)


def freeze(model: nn.Module, train_last: int = 0) -> nn.Module:
    """Freeze the backbone except its last ``train_last`` stages; the head always trains.

    ``train_last=0`` is a linear probe; ``train_last=len(stages(model))`` is full fine-tuning.
    """
    all_stages = stages(model)
    if not 0 <= train_last <= len(all_stages):
        raise ValueError(f"train_last must be in 0..{len(all_stages)}, got {train_last}")
    set_trainable(model, False)
    for stage in all_stages[len(all_stages) - train_last:]:
        set_trainable(stage, True)
    set_trainable(getattr(model, head_name(model)), True)
    return model


def unfreeze(model: nn.Module) -> nn.Module:
    """Make every parameter trainable again (full fine-tuning)."""
    set_trainable(model, True)
    return model


def freeze_by_name(model: nn.Module, prefixes: tuple[str, ...]) -> nn.Module:
    """Freeze the sub-modules whose qualified names start with any of ``prefixes``.

    >>> from course_utils.models.backbones import SmallCNN
    >>> net = freeze_by_name(SmallCNN(), ("stages.0",))
    >>> net.stages[0][0].weight.requires_grad, net.stages[1][0].weight.requires_grad
    (False, True)
    """
    matched = [m for name, m in model.named_modules() if name and name.startswith(prefixes)]
    if not matched:
        raise ValueError(f"no sub-module of {type(model).__name__} starts with {prefixes}")
    for module in matched:
        set_trainable(module, False)
    return model


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def param_groups(model: nn.Module, backbone_lr: float, head_lr: float,
                 weight_decay: float = 0.0) -> list[dict]:
    """Optimizer groups: backbone and head get their own learning rates (discriminative LRs).

    Weight decay applies to weight matrices and kernels only, not to biases or
    normalisation parameters (the usual practice). Frozen parameters are left out.
    """
    head_ids = {id(p) for p in getattr(model, head_name(model)).parameters()}
    groups: dict[tuple[bool, bool], list] = {}
    for p in model.parameters():
        if p.requires_grad:
            groups.setdefault((id(p) in head_ids, p.ndim > 1), []).append(p)
    return [
        {"params": params, "lr": head_lr if is_head else backbone_lr,
         "weight_decay": weight_decay if decays else 0.0}
        for (is_head, decays), params in sorted(groups.items())
    ]


def layerwise_groups(model: nn.Module, head_lr: float, decay: float,
                     weight_decay: float = 0.0) -> list[dict]:
    """Layer-wise learning-rate decay: the head at ``head_lr``, each stage below ``decay`` times slower.

    With ``n`` stages, stage ``i`` (0 = nearest the input) learns at ``head_lr * decay**(n - i)``:
    the last stage at ``head_lr * decay``, the stem at ``head_lr * decay**n``. Early stages hold
    generic features and move least. Weight decay as in :func:`param_groups`; frozen
    parameters are left out.

    >>> from course_utils.models.backbones import SmallCNN
    >>> groups = layerwise_groups(SmallCNN(), head_lr=1e-3, decay=0.5)
    >>> sorted({round(g["lr"], 6) for g in groups})
    [0.000125, 0.00025, 0.0005, 0.001]
    """
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    all_stages = stages(model)
    rate = {id(p): head_lr * decay ** len(all_stages) for p in model.parameters()}  # outside any stage
    for i, stage in enumerate(all_stages):
        for p in stage.parameters():
            rate[id(p)] = head_lr * decay ** (len(all_stages) - i)
    for p in getattr(model, head_name(model)).parameters():
        rate[id(p)] = head_lr
    groups: dict[tuple[float, bool], list] = {}
    for p in model.parameters():
        if p.requires_grad:
            groups.setdefault((rate[id(p)], p.ndim > 1), []).append(p)
    return [{"params": params, "lr": lr, "weight_decay": weight_decay if decays else 0.0}
            for (lr, decays), params in sorted(groups.items(), key=lambda item: item[0])]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put every submodule in eval mode inside the block; restore each one's mode after.

    Attacks run in eval mode so BatchNorm uses its running statistics (and does not
    update them) and dropout is off.

    >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout()).train()
    >>> with eval_mode(net):
    ...     net.training
    False
    >>> net.training
    True
    """
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
