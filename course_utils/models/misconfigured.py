"""The course's own former bug, kept so lessons and tests can measure it.

Google's TF EfficientNet-Lite0 weights load strictly into timm's PyTorch-style
``efficientnet_lite0`` as well (same shapes), where they meet symmetric padding and
BatchNorm epsilon 1e-5 instead of TF "same" padding and 1e-3, and the course once fed them
ImageNet's mean and std instead of 0.5. Nothing crashes; the network is just a little wrong.

>>> pytorch_padding = lite0_with_pytorch_padding(pretrained=False)
>>> type(pytorch_padding.conv_stem).__name__          # the trained variant has Conv2dSame
'Conv2d'
>>> IMAGENET_STATISTICS.std
(0.229, 0.224, 0.225)
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .backbones import _lite_weight_file, _load_in_order
from .conventions import InputConvention, convention_for

# ImageNet's statistics as the course once typed them in, with bilinear resizing.
IMAGENET_STATISTICS = InputConvention((0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "bilinear", 0.875, 224,
                                      "ImageNet statistics typed in by hand (not how Lite0 was trained)")


def lite0_with_pytorch_padding(pretrained: bool = True) -> nn.Module:
    """Lite0's TF weights in timm's ``efficientnet_lite0`` (PyTorch padding, BN eps 1e-5): the wrong variant.

    It keeps the trained resize and crop (``input_convention``), so only the architecture differs.
    """
    import timm

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    if pretrained:
        _load_in_order(model, torch.load(_lite_weight_file(0), map_location="cpu", weights_only=True))
    model.input_convention = convention_for("efficientnet_lite0")
    return model.eval()
