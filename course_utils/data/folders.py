"""Your own images from a folder, labelled by sub-folder or by file-name prefix.

Two layouts are understood::

    root/cat/001.png, root/dog/002.png        label_from="folder" (ImageFolder style)
    root/0_scan17.png, root/1_scan18.png       label_from="prefix" (<label>_<name>.png)

With ``label_from="prefix"`` the label *is* the integer before the first underscore (the
source article's layout), so a folder that lacks some class still gives every file its
true label. :func:`export_to_folder` writes a :class:`LabeledImages` in that layout.

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

from .bit_depth import png_significant_bits, to_8_bits
from .datasets import LabeledImages

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp"}


class UnreadableImageError(OSError):
    """An image file could not be decoded; the message names the file."""


def read_image(path: str | Path, channels: int = 3) -> torch.Tensor:
    """Decode one image file into a ``(channels, H, W)`` uint8 tensor.

    16-bit images are scaled to 8 bits by the depth they hold (a 12-bit X-ray in a 16-bit
    PNG by 4095, see :mod:`course_utils.data.bit_depth`); alpha is composited onto white.
    """
    path = Path(path)
    try:
        with Image.open(path) as img:
            img.load()
            with path.open("rb") as file:
                array = _to_uint8(img, png_significant_bits(file.read(65536)))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        raise UnreadableImageError(f"cannot read image {path}: {error}") from error
    if array.ndim == 2:
        array = array[..., None]
    if channels == 1 and array.shape[2] == 3:
        array = (array @ np.array([0.299, 0.587, 0.114])).round().astype(np.uint8)[..., None]
    elif channels == 3 and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)  # PIL arrays are read-only


def _to_uint8(img: Image.Image, bits: int | None = None) -> np.ndarray:
    """The decoded image as uint8 ``(H, W)`` or ``(H, W, 3)``; ``bits``: a 16-bit image's true depth."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        return to_8_bits(np.asarray(img).clip(0, 65535), bits)
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
        classes: with ``label_from="prefix"``, the name of each integer label; every class
            must then have at least one file (a split missing a class is an error).
            Without it the classes are named ``"0"``, ``"1"``, ... up to the largest label.
    """

    def __init__(self, root: str | Path, label_from: str = "folder", channels: int = 3,
                 transform: Callable | None = None, on_error: str = "raise",
                 classes: list[str] | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"image folder {self.root} does not exist")
        if label_from not in ("folder", "prefix"):
            raise ValueError(f"label_from must be 'folder' or 'prefix', got {label_from!r}")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
        self.channels, self.transform = channels, transform
        if classes is not None and label_from != "prefix":
            raise ValueError("classes= names integer prefixes; with label_from='folder' the "
                             "sub-folder names are the classes")
        if label_from == "folder":
            pairs = self._scan_folders()
            self._check_found(pairs)
            self.classes = sorted({name for _, name in pairs}, key=_natural_key)
            index = {name: i for i, name in enumerate(self.classes)}
            self.samples = [(path, index[name]) for path, name in pairs]
        else:
            self.samples = self._scan_prefixes()
            self._check_found(self.samples)
            self.classes = self._prefix_classes(classes)
        self.class_to_index = {name: i for i, name in enumerate(self.classes)}
        self.skipped: list[tuple[Path, str]] = []
        if on_error == "skip":
            self._drop_unreadable()

    def _scan_folders(self) -> list[tuple[Path, str]]:
        return [(path, folder.name)
                for folder in sorted(p for p in self.root.iterdir() if p.is_dir())
                for path in sorted(folder.rglob("*")) if path.suffix.lower() in IMAGE_SUFFIXES]

    def _check_found(self, pairs: list) -> None:
        if not pairs:
            raise FileNotFoundError(f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {self.root}")

    def _scan_prefixes(self) -> list[tuple[Path, int]]:
        pairs = []
        for path in sorted(self.root.iterdir(), key=lambda p: (p.stem.partition("_")[2], p.name)):
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            label, sep, _ = path.stem.partition("_")
            if not sep or not label:
                raise ValueError(f"{path.name} does not follow the <label>_<name> convention")
            if not label.isdigit():
                raise ValueError(f"{path.name}: the label prefix {label!r} is not a non-negative "
                                 "integer; name files <label>_<name>.png with label 0, 1, 2, ... "
                                 "or use label_from='folder' for named classes")
            pairs.append((path, int(label)))
        return pairs

    def _prefix_classes(self, classes: list[str] | None) -> list[str]:
        highest = max(label for _, label in self.samples)
        if classes is None:
            return [str(k) for k in range(highest + 1)]
        if highest >= len(classes):
            path = next(p for p, label in self.samples if label == highest)
            raise ValueError(f"{path.name} has label {highest} but only {len(classes)} classes "
                             f"were named ({classes})")
        present = {label for _, label in self.samples}
        missing = [f"{k} ({name!r})" for k, name in enumerate(classes) if k not in present]
        if missing:
            raise ValueError(f"{self.root} has no image of class {', '.join(missing)}: a split "
                             "that misses a class cannot be trained or evaluated on that class")
        return list(classes)

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

    def load_all(self, size: int, resize: str = "crop") -> LabeledImages:
        """Every image made ``size`` x ``size`` by ``resize``, as one in-memory :class:`LabeledImages`.

        ``resize`` (see :func:`resize_square`): ``"crop"`` (the ImageNet convention, default),
        ``"squash"`` or ``"pad"``. Images already ``size`` x ``size`` are kept as they are.
        """
        images = [resize_square(read_image(path, self.channels), size, resize) for path, _ in self.samples]
        labels = torch.tensor([label for _, label in self.samples], dtype=torch.long)
        return LabeledImages(torch.stack(images), labels, list(self.classes))


RESIZE_POLICIES = ("crop", "squash", "pad")


def resize_square(image: torch.Tensor, size: int, policy: str = "crop") -> torch.Tensor:
    """A ``(C, H, W)`` uint8 image made ``size`` x ``size``.

    - ``"crop"``: scale the shorter side to ``size``, then cut the centre square (ImageNet's
      convention: nothing is distorted, the edges of the longer side are lost);
    - ``"squash"``: scale both sides to ``size`` (nothing is lost, shapes are distorted);
    - ``"pad"``: scale the longer side to ``size`` and fill the rest with black (nothing is
      lost or distorted, part of the input is empty).

    >>> image = torch.full((1, 20, 40), 200, dtype=torch.uint8)
    >>> [tuple(resize_square(image, 10, p).shape) for p in RESIZE_POLICIES]
    [(1, 10, 10), (1, 10, 10), (1, 10, 10)]
    >>> resize_square(image, 10, "pad")[0, :, 0].tolist()   # 5 rows of image, padding around
    [0, 0, 200, 200, 200, 200, 200, 0, 0, 0]
    """
    import torch.nn.functional as F

    if policy not in RESIZE_POLICIES:
        raise ValueError(f"resize must be one of {RESIZE_POLICIES}, got {policy!r}")
    height, width = image.shape[-2:]
    if (height, width) == (size, size):
        return image
    scale = size / (min if policy == "crop" else max)(height, width)
    if policy == "squash":
        new_h, new_w = size, size
    else:
        new_h, new_w = max(1, round(height * scale)), max(1, round(width * scale))
    resized = F.interpolate(image.float()[None], size=(new_h, new_w), mode="bilinear",
                            antialias=True)[0].round().clamp(0, 255).to(torch.uint8)
    if policy == "crop":
        top, left = (new_h - size) // 2, (new_w - size) // 2
        return resized[:, top:top + size, left:left + size]
    if policy == "pad":
        top, left = (size - new_h) // 2, (size - new_w) // 2
        return F.pad(resized, (left, size - new_w - left, top, size - new_h - top))
    return resized


def _natural_key(name: str):
    """Sort "2" before "10", and numbers before words."""
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def export_to_folder(data: LabeledImages, folder: str | Path, prefix_width: int = 0) -> list[Path]:
    """Write every image as a PNG named ``<label>_<index>.png`` in ``folder`` (the article's layout).

    ``index`` is the image's position in ``data``, zero-padded to the width of the largest
    index, so a sorted listing keeps the original order. Returns the paths written.
    Reading the folder back with ``ImageFolderDataset(folder, label_from="prefix",
    channels=C)`` gives the same pixels and labels.

    >>> import torch, tempfile
    >>> data = LabeledImages(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([1, 0]), ["a", "b"])
    >>> [p.name for p in export_to_folder(data, tempfile.mkdtemp())]
    ['1_0.png', '0_1.png']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if len(data) == 0:
        raise ValueError("nothing to export: the data set is empty")
    width = max(prefix_width, len(str(len(data) - 1)))
    paths = []
    for i, (image, label) in enumerate(zip(data.images, data.labels.tolist())):
        array = image.permute(1, 2, 0).numpy()
        array = array[..., 0] if array.shape[2] == 1 else array
        path = folder / f"{label}_{i:0{width}d}.png"
        Image.fromarray(array).save(path)
        paths.append(path)
    return paths
