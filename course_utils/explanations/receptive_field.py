"""Receptive fields: how many input pixels one unit of a feature map can see.

For a chain of convolutions with kernel sizes :math:`k_l` and strides :math:`s_l`, the
receptive field grows as :math:`r_l = r_{l-1} + (k_l - 1) j_{l-1}` where the *jump*
:math:`j_l = j_{l-1} s_l` is the distance in input pixels between neighbouring units.
:func:`measured_receptive_field` finds it instead from the gradient: the input pixels
that can change one unit are exactly the pixels it sees.

>>> receptive_field([(3, 1), (3, 1)])          # two 3x3 convs see 5x5
(5, 1)
>>> receptive_field([(7, 2), (3, 2), (3, 1)])  # the stem of a ResNet, then one 3x3 conv
(19, 4)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from ..models.surgery import eval_mode
from .inspection import stage_outputs


def receptive_field(layers: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """Receptive field size and jump (in input pixels) after a chain of ``(kernel, stride)`` layers.

    >>> receptive_field([(3, 2)] * 3)
    (15, 8)
    """
    size, jump = 1, 1
    for kernel, stride in layers:
        if kernel < 1 or stride < 1:
            raise ValueError(f"kernel and stride must be positive, got ({kernel}, {stride})")
        size += (kernel - 1) * jump
        jump *= stride
    return size, jump


def conv_chain(module: nn.Module) -> list[tuple[int, int]]:
    """``(kernel, stride)`` of every ``Conv2d``/pooling layer in ``module``, in registration order.

    A dilated kernel counts with its effective size ``(k - 1) * d + 1``. This reads a
    network as one chain, which is right for VGG- and EfficientNet-style stacks (a
    residual connection adds nothing to the largest path) but not for networks with a
    strided side branch, such as ResNet's ``downsample``: use
    :func:`measured_receptive_field` there.

    >>> conv_chain(nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU(), nn.MaxPool2d(2)))
    [(3, 2), (2, 2)]
    """
    chain = []
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            kernel, stride, dilation = layer.kernel_size[0], layer.stride[0], layer.dilation[0]
        elif isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
            kernel, stride = _pair(layer.kernel_size), _pair(layer.stride)
            dilation = _pair(getattr(layer, "dilation", 1))
        else:
            continue
        chain.append(((kernel - 1) * dilation + 1, stride))
    return chain


def _pair(value) -> int:
    return value[0] if isinstance(value, tuple) else int(value)


def measured_receptive_field(model: nn.Module, stage: int, size: int = 224,
                             in_channels: int = 3, seed: int = 0, corner: bool = False) -> int:
    """Height of the input region that reaches the centre unit of stage ``stage``, found by autograd.

    A random ``size`` x ``size`` input goes through ``model`` (eval mode); the gradient of the
    centre unit's channels (summed) is non-zero exactly on the pixels it sees. A result
    equal to ``size`` means the field covers the whole input (the true field may be larger).
    ``corner=True`` measures the top-left unit instead: its field is cut by the image border.

    >>> from course_utils.models.backbones import SmallCNN
    >>> measured_receptive_field(SmallCNN(), stage=0, size=28, in_channels=1)
    6
    >>> measured_receptive_field(SmallCNN(), stage=0, size=28, in_channels=1, corner=True)
    4
    """
    generator = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    x = torch.randn(1, in_channels, size, size, generator=generator).to(device).requires_grad_(True)
    with eval_mode(model), torch.enable_grad(), stage_outputs(model, [stage]) as outputs:
        model(x)
        out = outputs[stage]
        height, width = out.shape[-2:]
        row, column = (0, 0) if corner else (height // 2, width // 2)
        centre = out[0, :, row, column].sum()
        (grad,) = torch.autograd.grad(centre, x)  # leaves the weights' .grad alone
    seen_rows = torch.nonzero(grad.abs().sum(dim=(0, 1, 3))).flatten()
    return int(seen_rows.max() - seen_rows.min() + 1) if len(seen_rows) else 0
