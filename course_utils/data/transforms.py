"""Batched image transforms that run on whole ``(B, C, H, W)`` tensors on the device.

No per-sample Python: one call augments or preprocesses a whole batch.

>>> import torch
>>> x = torch.rand(8, 1, 28, 28)
>>> random_crop(x, padding=2).shape, imagenet_preprocess(x, size=64).shape
(torch.Size([8, 1, 28, 28]), torch.Size([8, 3, 64, 64]))
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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


def imagenet_preprocess(x: torch.Tensor, size: int | None = 64) -> torch.Tensor:
    """Make a [0, 1] batch look like an ImageNet input: 3 channels, ``size`` px, normalised."""
    x = to_float(x)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    elif x.shape[1] != 3:
        raise ValueError(f"expected 1 or 3 channels, got shape {tuple(x.shape)}")
    if size is not None and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > size)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


class ImageNetInput(nn.Module):
    """:func:`imagenet_preprocess` with a fixed ``size``: a loader transform, or a model's first layer.

    As a layer (``nn.Sequential(ImageNetInput(40), model)``) the model takes [0, 1] images
    at their own size, so Grad-CAM maps and attacks live in the data's pixel space.
    """

    def __init__(self, size: int = 64):
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imagenet_preprocess(x, self.size)

    def __repr__(self) -> str:
        return f"ImageNetInput(size={self.size})"


class Normalize(nn.Module):
    """ImageNet normalisation as the model's first layer, so the model takes [0, 1] pixels.

    Attacks and attributions then work in pixel space, where the valid range is [0, 1].
    """

    def __init__(self, mean=IMAGENET_MEAN, std=IMAGENET_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std
