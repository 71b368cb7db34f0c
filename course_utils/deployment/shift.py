"""A realistic acquisition shift: the same kind of X-ray from another scanner.

Scanners differ in exposure, detector noise and sharpness. :func:`scanner_shift` applies
all three to real images, in the order they arise physically: the detector's blur
(point-spread), then a different exposure curve (contrast and brightness), then noise,
then 8-bit quantisation. The labels stay valid: a radiologist would read the images the same.

>>> import torch
>>> images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
>>> shifted = scanner_shift(images, seed=0)
>>> shifted.shape, shifted.dtype, torch.equal(shifted, scanner_shift(images, seed=0))
(torch.Size([4, 1, 28, 28]), torch.uint8, True)
"""

from __future__ import annotations

import torch
from torchvision.transforms.functional import gaussian_blur


def scanner_shift(images: torch.Tensor, contrast: float = 0.7, brightness: float = 0.1,
                  blur_sigma: float = 0.7, noise: float = 0.03, seed: int = 0) -> torch.Tensor:
    """Images ``(N, C, H, W)`` uint8 as another scanner would show them (uint8, same shape).

    Args:
        contrast: multiplies deviations from mid-grey (1: unchanged; below 1: flatter image).
        brightness: added to every pixel, in units of the full range.
        blur_sigma: Gaussian point-spread, in pixels (0: none).
        noise: standard deviation of additive Gaussian noise, in units of the full range.
        seed: the noise is drawn from this seed, so a shift can be repeated exactly.
    """
    if images.dtype != torch.uint8 or images.ndim != 4:
        raise ValueError(f"expected (N, C, H, W) uint8 images, got {images.dtype} {tuple(images.shape)}")
    x = images.float() / 255
    if blur_sigma > 0:
        kernel = 2 * int(3 * blur_sigma + 0.5) + 1  # covers +-3 sigma
        x = gaussian_blur(x, kernel_size=kernel, sigma=blur_sigma)
    x = 0.5 + contrast * (x - 0.5) + brightness
    if noise > 0:
        generator = torch.Generator().manual_seed(seed)
        x = x + noise * torch.randn(x.shape, generator=generator)
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)
