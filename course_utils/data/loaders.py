"""A batch iterator for data sets that fit in memory: the whole set lives on the device.

Batches are ``randperm`` slices of one tensor; augmentation and preprocessing run on
the whole batch there. On a GPU this removes the DataLoader bottleneck; on a CPU it
removes per-sample Python and PIL work.

>>> import torch
>>> images = torch.randint(0, 256, (100, 1, 28, 28), dtype=torch.uint8)
>>> loader = DeviceLoader(images, torch.arange(100) % 10, batch_size=32, shuffle=True)
>>> len(loader), next(iter(loader))[0].dtype
(4, torch.float32)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch

from .datasets import LabeledImages
from .transforms import to_float


class DeviceLoader:
    """Iterate ``(X, y)`` batches of in-memory tensors, transformed on ``device``.

    Args:
        images: ``(N, ...)`` uint8 images (scaled to [0, 1] per batch) or float features.
        labels: ``(N,)`` or ``(N, T)`` targets.
        batch_size: examples per batch; the last batch may be smaller unless ``drop_last``.
        shuffle: a new ``randperm`` order each epoch, drawn from ``seed``.
        augment: batch -> batch, random augmentation (give it to the training loader only; e.g. :class:`~course_utils.data.transforms.Augment`).
        transform: batch -> batch, applied always, after ``augment`` (e.g. ImageNet preprocessing).
        device: where the data lives; defaults to the CPU.
        balanced: each epoch draws ``N`` examples with replacement, every class equally
            likely (balanced sampling for imbalanced classes; implies shuffling).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int = 128,
        shuffle: bool = False,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        drop_last: bool = False,
        seed: int = 0,
        balanced: bool = False,
    ):
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels: they must match")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.device = torch.device(device or "cpu")
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.balanced = balanced
        if balanced and self.labels.ndim != 1:
            raise ValueError(f"balanced sampling needs one class label per example, got labels of "
                             f"shape {tuple(self.labels.shape)}")
        self.augment, self.transform = augment, transform
        self.generator = torch.Generator(device="cpu").manual_seed(seed)

    @classmethod
    def from_data(cls, data: LabeledImages, **kwargs) -> DeviceLoader:
        """Build from a :class:`~course_utils.data.datasets.LabeledImages`."""
        return cls(data.images, data.labels, **kwargs)

    def __len__(self) -> int:
        full, rest = divmod(len(self.labels), self.batch_size)
        return full if (self.drop_last or rest == 0) else full + 1

    @property
    def dataset_size(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        if self.balanced:
            counts = torch.bincount(self.labels.cpu())
            weights = 1.0 / counts[self.labels.cpu()].double()  # each class weighs the same in total
            order = torch.multinomial(weights, n, replacement=True, generator=self.generator).to(self.device)
        elif self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.device)
        else:
            order = torch.arange(n, device=self.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            idx = order[start:start + self.batch_size]
            x = to_float(self.images[idx])
            if self.augment is not None:
                x = self.augment(x)
            if self.transform is not None:
                x = self.transform(x)
            yield x, self.labels[idx]
