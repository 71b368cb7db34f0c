"""Your own images from a folder, labelled by sub-folder or by file-name prefix.

Two layouts are understood::

    root/cat/001.png, root/dog/002.png        label_from="folder" (ImageFolder style)
    root/0_scan17.png, root/1_scan18.png       label_from="prefix" (<label>_<name>.png)

Grayscale, RGB, RGBA (composited on white) and 16-bit PNGs are read. A file that
cannot be decoded raises an error naming it, or with ``on_error="skip"`` is left
out with one warning that lists every skipped file.

>>> data = ImageFolderDataset("my_scans", label_from="prefix")   # doctest: +SKIP
>>> image, label = data[0]                                       # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from .datasets import LabeledImages

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}


class UnreadableImageError(OSError):
    """An image file could not be decoded; the message names the file."""


def read_image(path: str | Path, channels: int = 3) -> torch.Tensor:
    """Decode one image file into a ``(channels, H, W)`` uint8 tensor.

    16-bit images are scaled to 8 bits by their full range (0..65535); alpha is
    composited onto white.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            array = _to_uint8(img)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise UnreadableImageError(f"cannot read image {path}: {error}") from error
    if array.ndim == 2:
        array = array[..., None]
    if channels == 1 and array.shape[2] == 3:
        array = (array @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)[..., None]
    elif channels == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)  # PIL arrays are read-only


def _to_uint8(img: Image.Image) -> np.ndarray:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(img, dtype=np.float64)
        return (values / 65535.0 * 255.0).round().clip(0, 255).astype(np.uint8)
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    if img.mode == "L":
        return np.asarray(img)
    return np.asarray(img.convert("RGB"))


class ImageFolderDataset(Dataset):
    """Images under ``root`` with labels from sub-folders or from ``<label>_`` file prefixes.

    Args:
        root: the folder.
        label_from: ``"folder"`` or ``"prefix"``.
        channels: 1 (grayscale) or 3 (RGB) in the output.
        transform: applied to each ``(C, H, W)`` uint8 tensor in ``__getitem__``.
        on_error: ``"raise"`` (default) or ``"skip"``; skipping decodes every file
            once up front to find the bad ones.
    """

    def __init__(self, root: str | Path, label_from: str = "folder", channels: int = 3,
                 transform: Callable | None = None, on_error: str = "raise"):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        if label_from not in ("folder", "prefix"):
            raise ValueError(f"label_from must be 'folder' or 'prefix', got {label_from!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.channels, self.transform = channels, transform
        pairs = self._scan_folders() if label_from == "folder" else self._scan_prefixes()
        if not pairs:
            raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {self.root}")
        names = sorted({name for _, name in pairs}, key=_natural_key)
        self.classes = names
        self.class_to_index = {name: i for i, name in enumerate(names)}
        self.samples = [(path, self.class_to_index[name]) for path, name in pairs]
        self.skipped: list[tuple[Path, str]] = []
        if on_error == "skip":
            self._drop_unreadable()

    def _scan_folders(self) -> list[tuple[Path, str]]:
        return [(path, folder.name)
                for folder in sorted(p for p in self.root.iterdir() if p.is_dir())
                for path in sorted(folder.rglob("*")) if path.suffix.lower() in IMAGE_SUFFIXES]

    def _scan_prefixes(self) -> list[tuple[Path, str]]:
        pairs = []
        for path in sorted(self.root.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label, sep, _ = path.stem.partition("_")
            if not sep or not label:
                raise ValueError(f"{path.name} does not follow the <label>_<name> convention")
            pairs.append((path, label))
        return pairs

    def _drop_unreadable(self) -> None:
        kept = []
        for path, label in self.samples:
            try:
                read_image(path, self.channels)
                kept.append((path, label))
            except UnreadableImageError as error:
                self.skipped.append((path, str(error.__cause__)))
        if self.skipped:
            listing = "\n".join(f"  {path}: {why}" for path, why in self.skipped)
            warnings.warn(f"skipped {len(self.skipped)} unreadable image(s):\n{listing}", stacklevel=3)
        self.samples = kept

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        image = read_image(path, self.channels)
        return (self.transform(image) if self.transform else image), label

    def load_all(self, size: int) -> LabeledImages:
        """Every image resized to ``size`` x ``size``, as one in-memory :class:`LabeledImages`."""
        import torch.nn.functional as F

        images = []
        for path, _ in self.samples:
            image = read_image(path, self.channels).float()[None]
            images.append(F.interpolate(image, size=(size, size), mode="bilinear",
                                        antialias=True).round().clamp(0, 255).to(torch.uint8))
        labels = torch.tensor([label for _, label in self.samples], dtype=torch.long)
        return LabeledImages(torch.cat(images), labels, list(self.classes))


def _natural_key(name: str):
    """Sort "2" before "10", and numbers before words."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)
