"""Batched image transforms that run on whole ``(B, C, H, W)`` tensors on the device.

No per-sample Python: one call augments or preprocesses a whole batch.

The preprocessing for a pretrained backbone comes from the backbone itself (its
:class:`~course_utils.models.conventions.InputConvention`), never from constants here.

>>> import torch
>>> x = torch.rand(8, 1, 28, 28)
>>> random_crop(x, padding=2).shape, imagenet_preprocess(x, "efficientnet_lite0", size=64).shape
(torch.Size([8, 1, 28, 28]), torch.Size([8, 3, 64, 64]))
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..models.conventions import InputConvention, input_convention


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 in [0, 255] to float32 in [0, 1]; float input passes through."""
    return images.float().div_(255) if images.dtype == torch.uint8 else images


def random_crop(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """Pad every image by ``padding`` (zeros) and cut a random crop of the original size.

    Each image gets its own offset; the gather is one indexing operation.
    """
    if padding == 0:
        return x
    batch, channels, height, width = x.shape
    padded = F.pad(x, (padding,) * 4)
    shifts = torch.randint(0, 2 * padding + 1, (2, batch), device=x.device, generator=generator)
    rows = shifts[0, :, None] + torch.arange(height, device=x.device)  # (B, H)
    cols = shifts[1, :, None] + torch.arange(width, device=x.device)  # (B, W)
    b = torch.arange(batch, device=x.device)[:, None, None, None]
    c = torch.arange(channels, device=x.device)[None, :, None, None]
    return padded[b, c, rows[:, None, :, None], cols[:, None, None, :]]


def random_hflip(x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> torch.Tensor:
    """Mirror each image left-right with probability ``p``."""
    flip = torch.rand(x.shape[0], device=x.device, generator=generator) < p
    return torch.where(flip[:, None, None, None], x.flip(-1), x)


class Augment:
    """Random crop with padding, then an optional horizontal flip, on a float batch.

    Flip only where the classes are mirror-symmetric (clothes yes, digits or text no).
    """

    def __init__(self, padding: int = 2, hflip: bool = True):
        self.padding, self.hflip = padding, hflip

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = random_crop(x, self.padding)
        return random_hflip(x) if self.hflip else x

    def __repr__(self) -> str:
        return f"Augment(padding={self.padding}, hflip={self.hflip})"


def imagenet_preprocess(x: torch.Tensor, convention, size: int | None = 64) -> torch.Tensor:
    """Make a [0, 1] batch look like the images a pretrained backbone was trained on.

    3 channels (grey is repeated), ``size`` px with the backbone's interpolation
    (antialiased when shrinking), normalised with its mean and std. ``convention`` is the
    backbone, its name or its :class:`InputConvention`.

    >>> z = imagenet_preprocess(torch.ones(1, 1, 8, 8), "efficientnet_lite0", size=None)
    >>> z.shape, z.max().item()           # mean = std = 0.5: white becomes 1
    (torch.Size([1, 3, 8, 8]), 1.0)
    """
    convention = input_convention(convention)
    x = to_float(x)
    if x.ndim != 4:
        raise ValueError(f"expected a batch (B, C, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got shape {tuple(x.shape)}")
    if size is not None and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode=convention.interpolation, align_corners=False,
                          antialias=x.shape[-1] > size)
    mean = torch.tensor(convention.mean, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor(convention.std, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x - mean) / std


class ImageNetInput(nn.Module):
    """:func:`imagenet_preprocess` at a fixed ``size`` for one backbone: a loader transform or a first layer.

    As a layer (``nn.Sequential(ImageNetInput(40, backbone), backbone)``) the model takes
    [0, 1] images at their own size, so Grad-CAM maps and attacks live in the data's pixel space.

    >>> ImageNetInput(40, "efficientnet_lite0")
    ImageNetInput(size=40, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), bicubic)
    """

    def __init__(self, size: int, convention):
        super().__init__()
        self.size = size
        self.convention = input_convention(convention)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imagenet_preprocess(x, self.convention, self.size)

    def __repr__(self) -> str:
        c = self.convention
        return f"ImageNetInput(size={self.size}, mean={c.mean}, std={c.std}, {c.interpolation})"


class Normalize(nn.Module):
    """Per-channel normalisation as the model's first layer, so the model takes [0, 1] pixels.

    Attacks and attributions then work in pixel space, where the valid range is [0, 1].
    For a pretrained backbone take the statistics from it: ``Normalize.like(backbone)``.

    >>> [round(v, 3) for v in Normalize.like("resnet18").std.flatten().tolist()]
    [0.229, 0.224, 0.225]
    """

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    @classmethod
    def like(cls, convention) -> Normalize:
        """The normalisation a backbone (or its name, or its convention) was trained with."""
        found = input_convention(convention)
        return cls(found.mean, found.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


__all__ = ["InputConvention", "input_convention", "to_float", "random_crop", "random_hflip", "Augment",
           "imagenet_preprocess", "ImageNetInput", "Normalize"]
