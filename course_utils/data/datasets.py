"""Real image data sets as uint8 tensors, found offline first and downloaded last.

Every loader returns a :class:`LabeledImages`: ``images`` is ``(N, C, H, W)`` uint8,
``labels`` is ``(N,)`` int64, ``classes`` names each label.

>>> train = load_fashion_mnist("train")          # doctest: +SKIP
>>> train.images.shape, train.classes[0]         # doctest: +SKIP
(torch.Size([60000, 1, 28, 28]), 'T-shirt/top')
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..paths import DEBIAN_FASHION_MNIST, data_dir

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataNotFoundError(FileNotFoundError):
    """Raised when a data set is neither on disk nor downloadable."""


@dataclass
class LabeledImages:
    """Images ``(N, C, H, W)`` uint8 with int64 labels ``(N,)`` and class names."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"images must be (N, C, H, W), got shape {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(
                f"{len(self.images)} images but {len(self.labels)} labels: they must match"
            )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices) -> LabeledImages:
        """The examples at ``indices`` (a tensor, list or slice), same class names."""
        return LabeledImages(self.images[indices], self.labels[indices], self.classes)

    def where_labels(self, keep: list[int], relabel: bool = True) -> LabeledImages:
        """Only the classes in ``keep``; with ``relabel`` they become ``0..len(keep)-1``.

        >>> import torch
        >>> d = LabeledImages(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), torch.tensor([0, 5, 6, 5]), list("abcdefg"))
        >>> d.where_labels([5, 6]).labels.tolist()
        [0, 1, 0]
        """
        mask = torch.isin(self.labels, torch.tensor(keep))
        labels = self.labels[mask]
        classes = [self.classes[k] for k in keep] if relabel else self.classes
        if relabel:
            lookup = torch.full((int(self.labels.max()) + 1,), -1, dtype=torch.long)
            lookup[torch.tensor(keep)] = torch.arange(len(keep))
            labels = lookup[labels]
        return LabeledImages(self.images[mask], labels, classes)


# ---------------------------------------------------------------- Fashion-MNIST

def _read_idx(path: Path) -> np.ndarray:
    """Parse an idx file (gzipped or not): magic, dims, then raw uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not a uint8 idx file (magic bytes {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path} is truncated: header says {shape}, found {data.size} bytes")
    return data.reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).exists():
            return folder / name
    return None


def fashion_mnist_locations() -> list[Path]:
    """Folders searched for the idx files, in order."""
    root = data_dir()
    return [root / "fashion-mnist", root / "FashionMNIST" / "raw", DEBIAN_FASHION_MNIST]


def load_fashion_mnist(split: str = "train", download: bool = True) -> LabeledImages:
    """Fashion-MNIST ``split`` ("train": 60000, "test": 10000) as 28x28 uint8 images.

    Looks in ``<data_dir>/fashion-mnist``, ``<data_dir>/FashionMNIST/raw``, Debian's
    ``/usr/share/datasets/fashion-mnist``, then downloads with torchvision.
    """
    if split not in _FASHION_FILES:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    image_stem, label_stem = _FASHION_FILES[split]
    looked = fashion_mnist_locations()
    for folder in looked:
        image_path, label_path = _find_idx(folder, image_stem), _find_idx(folder, label_stem)
        if image_path and label_path:
            images = torch.from_numpy(_read_idx(image_path).copy()).unsqueeze(1)
            labels = torch.from_numpy(_read_idx(label_path).astype(np.int64))
            return LabeledImages(images, labels, list(FASHION_MNIST_CLASSES))
    problem = "download=False"
    if download:
        try:
            from torchvision.datasets import FashionMNIST

            FashionMNIST(str(data_dir()), train=(split == "train"), download=True)
            return load_fashion_mnist(split, download=False)
        except Exception as error:  # offline, proxy, disk full ...
            problem = f"download failed: {error}"
    places = "\n  ".join(str(p) for p in looked)
    raise DataNotFoundError(
        f"Fashion-MNIST ({split}) not found. Looked in:\n  {places}\nand {problem}.\n"
        "Offline on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist; "
        "or copy the four idx .gz files into the first folder above."
    )


# ---------------------------------------------------------------- MedMNIST

def medmnist_locations() -> list[Path]:
    """Folders searched for ``<flag>.npz``: ``$MEDMNIST_DIR``, the course data dir, ``~/.medmnist``."""
    places = []
    if env := os.environ.get("MEDMNIST_DIR"):
        places.append(Path(env).expanduser())
    places += [data_dir() / "medmnist", Path.home() / ".medmnist"]
    return places


def _md5(path: Path) -> str:
    import hashlib

    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_medmnist(flag: str = "breastmnist", split: str = "train", download: bool = True) -> LabeledImages:
    """A 28x28 MedMNIST subset (``breastmnist``, ``pneumoniamnist``, ``retinamnist``, ...).

    Uses the official ``medmnist`` package for class names and md5 sums. A local file
    is used only if its md5 matches; otherwise the package downloads into the course
    data dir.
    """
    import medmnist
    from medmnist import INFO

    if flag not in INFO:
        raise ValueError(f"unknown MedMNIST flag {flag!r}; choose from {sorted(INFO)}")
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    info = INFO[flag]
    dataset_class = getattr(medmnist, info["python_class"])
    looked, problems = medmnist_locations(), []
    for folder in looked:
        path = folder / f"{flag}.npz"
        if not path.exists():
            continue
        if _md5(path) != info["MD5"]:
            problems.append(f"{path} has the wrong md5 (expected {info['MD5']})")
            continue
        return _medmnist_from_npz(path, split, info)
    if download:
        target = data_dir() / "medmnist"
        target.mkdir(parents=True, exist_ok=True)
        try:
            dataset_class(split=split, root=str(target), download=True)
            return _medmnist_from_npz(target / f"{flag}.npz", split, info)
        except Exception as error:
            problems.append(f"download failed: {error}")
    else:
        problems.append("download=False")
    places = "\n  ".join(str(p) for p in looked)
    raise DataNotFoundError(
        f"MedMNIST {flag!r} not found. Looked for {flag}.npz in:\n  {places}\n"
        + "\n".join(problems)
        + "\nSet MEDMNIST_DIR to a folder holding the official .npz files, or go online."
    )


def _medmnist_from_npz(path: Path, split: str, info: dict) -> LabeledImages:
    with np.load(path) as npz:
        images = torch.from_numpy(npz[f"{split}_images"])
        labels = torch.from_numpy(npz[f"{split}_labels"].astype(np.int64))
    if labels.ndim == 2 and labels.shape[1] == 1:  # single-label tasks store (N, 1)
        labels = labels[:, 0]
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    classes = [info["label"][str(k)] for k in range(len(info["label"]))]
    return LabeledImages(images.contiguous(), labels, classes)


# ---------------------------------------------------------------- photos

PHOTO_NAMES = ("chelsea", "coffee", "astronaut", "rocket", "horse", "cat")


def load_photos(names: tuple[str, ...] = ("chelsea", "coffee", "astronaut"), size: int = 224,
                convention=None) -> torch.Tensor:
    """Real photos bundled with scikit-image as ``(N, 3, size, size)`` uint8.

    Without ``convention``, each photo's centred square is resized to ``size`` px
    (antialiased bilinear): the whole picture, for looking at. With a backbone's
    convention (the backbone, its name or an ``InputConvention``) each photo is prepared
    as that backbone was evaluated: the shorter side resized to ``size / crop_pct`` with its
    interpolation, then the centre ``size`` x ``size`` cut out (what timm's eval transform does).
    Grayscale photos (``camera``) get three channels.

    >>> load_photos(("chelsea",), size=64).shape  # doctest: +SKIP
    torch.Size([1, 3, 64, 64])
    """
    import skimage.data
    import torch.nn.functional as F
    from skimage.util import img_as_ubyte

    photos = []
    for name in names:
        if not hasattr(skimage.data, name):
            raise ValueError(f"skimage.data has no photo {name!r}; try one of {PHOTO_NAMES}")
        array = np.asarray(getattr(skimage.data, name)())
        if array.ndim == 2:
            array = np.stack([array] * 3, axis=-1)
        array = np.ascontiguousarray(img_as_ubyte(array[..., :3]))  # bool (horse) and float as uint8
        if convention is not None:
            photos.append(_evaluation_view(array, size, convention)[None])
            continue
        image = torch.from_numpy(array.copy()).permute(2, 0, 1).float()
        side = min(image.shape[-2:])
        top, left = (image.shape[1] - side) // 2, (image.shape[2] - side) // 2
        square = image[None, :, top:top + side, left:left + side]
        resized = F.interpolate(square, size=(size, size), mode="bilinear", antialias=True)
        photos.append(resized.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(photos)


def _evaluation_view(array: np.ndarray, size: int, convention) -> torch.Tensor:
    """An ``(H, W, 3)`` uint8 photo resized and centre-cropped as the backbone was evaluated."""
    from PIL import Image
    from torchvision.transforms import CenterCrop, InterpolationMode, PILToTensor, Resize

    from ..models.conventions import input_convention

    found = input_convention(convention)
    resize = Resize(int(size / found.crop_pct), interpolation=InterpolationMode(found.interpolation))
    return PILToTensor()(CenterCrop(size)(resize(Image.fromarray(array))))
