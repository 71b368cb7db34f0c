"""Whatever a user sends, one checked image: decode, validate, grayscale or RGB, resize.

A deployed model meets inputs nobody tested: a PDF renamed ``.png``, a half-uploaded file,
an RGBA screenshot, a thumbnail, a tensor full of NaNs. Each gets an
:class:`InvalidImageError` that names the input and the problem, instead of a shape error
deep inside the network or, worse, a confident prediction on garbage.

Accepted: a file path, the bytes of an image file, a PIL image, a tensor ``(C, H, W)`` or
``(H, W)`` (uint8 in 0..255 or float in [0, 1]) or a NumPy array ``(H, W)`` / ``(H, W, C)``.

>>> import torch
>>> prepare_image(torch.full((3, 56, 56), 0.5), channels=1, size=28).shape
torch.Size([1, 28, 28])
>>> prepare_image(torch.zeros(4, 28, 28), channels=1, size=28, name="scan.png")
Traceback (most recent call last):
...
course_utils.deployment.inputs.InvalidImageError: scan.png: has 4 channels (shape (4, 28, 28)); expected 1 (grayscale) or 3 (RGB)
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from ..data.bit_depth import png_significant_bits
from ..data.folders import _to_uint8, resize_square

LUMINANCE = (0.299, 0.587, 0.114)  # ITU-R 601 weights, as PIL's convert("L") and read_image
# Decoders a deployed model needs; Pillow's others (EPS reaches Ghostscript, ...) are refused.
ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF")
# Pixels decoded at most: 4000 x 4000. A 9000 x 9000 PNG of 236 KB once cost the service 2.4 GB;
# the header says the size, so this is checked before any pixel is decoded.
MAX_PIXELS = 16_000_000
# Pillow warns from 89 MP (and refuses from 179 MP); MAX_PIXELS decides here, long before. Set
# once at import: warnings.catch_warnings() is not thread-safe, and the service decodes in threads.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)


class InvalidImageError(ValueError):
    """An input that cannot be turned into an image for the model; ``source`` names it."""

    def __init__(self, source: str, problem: str):
        super().__init__(f"{source}: {problem}")
        self.source, self.problem = source, problem


def describe(item: Any, index: int | None = None) -> str:
    """A short name for an input, used in error messages: the path, or the kind and position."""
    if isinstance(item, (str, Path)):
        return str(item)
    where = "" if index is None else f" #{index}"
    if isinstance(item, Image.Image):
        return getattr(item, "filename", "") or f"PIL image{where}"
    kinds = {torch.Tensor: "tensor", np.ndarray: "array", bytes: "upload", bytearray: "upload"}
    kind = next((name for cls, name in kinds.items() if isinstance(item, cls)), type(item).__name__)
    return f"{kind}{where}"


def decode(data: bytes | str | Path, name: str | None = None, target: int | None = None,
           max_pixels: int = MAX_PIXELS) -> torch.Tensor:
    """Decode an image file (path or bytes) into ``(C, H, W)`` uint8, C = 1 or 3.

    Only ``ACCEPTED_FORMATS`` are decoded, and only images of at most ``max_pixels`` (read from
    the header, before decoding). The EXIF orientation is applied. With ``target`` (the model's
    input side), a large image is decoded at reduced size where the format allows (JPEG) and
    shrunk by an integer box filter to no less than twice ``target``, so memory follows the
    model, not the upload. Alpha is composited onto white; 16-bit images are scaled by the
    depth they hold (:mod:`course_utils.data.bit_depth`), as ``read_image`` does.
    """
    name = name or describe(data)
    if isinstance(data, (str, Path)):
        if not Path(data).is_file():
            raise InvalidImageError(name, "no such file")
        source: Any = Path(data)
        with source.open("rb") as file:
            header = file.read(65536)
    else:
        if len(data) == 0:
            raise InvalidImageError(name, "is empty (0 bytes)")
        source, header = io.BytesIO(data), bytes(data[:65536])
    try:
        with Image.open(source, formats=ACCEPTED_FORMATS) as img:
            if target and img.format == "JPEG":
                img.draft(img.mode, (2 * target, 2 * target))  # decode at 1/2, 1/4 or 1/8 scale
            width, height = img.size  # after the draft: the pixels that will be decoded
            if width * height > max_pixels:
                raise InvalidImageError(name, f"has too many pixels ({width}x{height} = "
                                              f"{width * height / 1e6:.0f} MP; at most {max_pixels / 1e6:.0f} MP)")
            img.load()  # decoding happens here: a truncated file fails now, not later
            upright = ImageOps.exif_transpose(img)
            array = _shrink(_to_uint8(upright, png_significant_bits(header)), target)
    except InvalidImageError:
        raise
    except Image.DecompressionBombError as error:
        raise InvalidImageError(name, f"has too many pixels ({error})") from None
    except UnidentifiedImageError:
        raise InvalidImageError(name, "is not an image in an accepted format "
                                      f"({', '.join(ACCEPTED_FORMATS)})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        raise InvalidImageError(name, f"is truncated or corrupt ({error})") from None
    except Exception as error:  # noqa: BLE001 - a fuzzed file can trip any decoder; never a 500
        raise InvalidImageError(name, f"is corrupt ({type(error).__name__}: {error})") from None
    return _from_hwc(array)


def _shrink(array: np.ndarray, target: int | None) -> np.ndarray:
    """Reduce ``(H, W[, 3])`` uint8 by the largest integer factor (box filter) that keeps the
    shorter side at least ``2 * target``; the model's own antialiased resize does the rest."""
    factor = min(array.shape[:2]) // (2 * target) if target else 0
    if factor < 2:
        return array
    return np.asarray(Image.fromarray(array).reduce(factor))


def _from_hwc(array: np.ndarray) -> torch.Tensor:
    array = array[..., None] if array.ndim == 2 else array
    return torch.from_numpy(np.array(array, copy=True)).permute(2, 0, 1)  # (C, H, W), writable


def as_uint8(item: Any, name: str, target: int | None = None) -> torch.Tensor:
    """Any accepted input as ``(C, H, W)`` uint8, with value checks for float tensors."""
    if isinstance(item, (str, Path, bytes, bytearray)):
        return decode(bytes(item) if isinstance(item, bytearray) else item, name, target)
    if isinstance(item, Image.Image):
        return _from_hwc(_to_uint8(item))
    if isinstance(item, np.ndarray):
        if item.ndim == 3 and item.shape[-1] in (1, 3, 4) and item.shape[0] not in (1, 3):
            item = np.moveaxis(item, -1, 0)  # NumPy images are (H, W, C)
        item = torch.from_numpy(np.ascontiguousarray(item))
    if not isinstance(item, torch.Tensor):
        raise InvalidImageError(name, f"is a {type(item).__name__}; expected a file path, bytes, "
                                      "a PIL image, a tensor or a NumPy array")
    x = item.detach().cpu()
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise InvalidImageError(name, f"has shape {tuple(x.shape)}; expected (C, H, W) or (H, W)")
    if x.dtype == torch.uint8:
        return x
    if not torch.is_floating_point(x):
        raise InvalidImageError(name, f"has dtype {x.dtype}; expected uint8 (0..255) or float (0..1)")
    bad = ~torch.isfinite(x)
    if bad.any():
        nans = int(torch.isnan(x).sum())
        raise InvalidImageError(name, f"contains {nans} NaN and {int(bad.sum()) - nans} infinite "
                                      f"value(s) out of {x.numel()}")
    low, high = x.min().item(), x.max().item()
    if low < -1e-6 or high > 1 + 1e-6:
        raise InvalidImageError(name, f"has float values from {low:.3g} to {high:.3g}; expected "
                                      "[0, 1] (divide uint8 pixels by 255, undo any normalisation)")
    return (x.clamp(0, 1) * 255).round().to(torch.uint8)


def to_channels(image: torch.Tensor, channels: int, name: str) -> torch.Tensor:
    """``(C, H, W)`` uint8 with C = 1 or 3 converted to ``channels`` (grayscale by luminance)."""
    count = image.shape[0]
    if count not in (1, 3):
        hint = ""
        if image.shape[-1] in (1, 3) and count not in (1, 3):
            hint = " (channels last? use image.permute(2, 0, 1))"
        raise InvalidImageError(name, f"has {count} channels (shape {tuple(image.shape)}); "
                                      f"expected 1 (grayscale) or 3 (RGB){hint}")
    if count == channels:
        return image
    if channels == 1:
        weights = torch.tensor(LUMINANCE).view(3, 1, 1)
        return (image.float() * weights).sum(0, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    return image.expand(3, -1, -1)


def prepare_image(item: Any, channels: int = 1, size: int = 28, min_size: int | None = None,
                  name: str | None = None) -> torch.Tensor:
    """One input as the model's native picture: ``(channels, size, size)`` float in [0, 1].

    Non-square images lose the edges of their longer side (centre crop), then are resized
    with antialiasing. Images smaller than ``min_size`` (default ``size``) are refused:
    enlarging a thumbnail invents detail the model would read as evidence.
    """
    name = name or describe(item)
    image = to_channels(as_uint8(item, name, target=size), channels, name)
    height, width = image.shape[-2:]
    smallest = size if min_size is None else min_size
    if min(height, width) < smallest:
        raise InvalidImageError(name, f"is {height}x{width} pixels; the model needs at least "
                                      f"{smallest}x{smallest}")
    return resize_square(image, size, "crop").float() / 255
