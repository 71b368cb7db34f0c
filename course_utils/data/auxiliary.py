"""Labels for auxiliary tasks: coarse groups, an unrelated task, and rotation prediction.

- ``coarse_labels``: Fashion-MNIST's 10 classes grouped into tops, bottoms, footwear, bags.
- ``random_labels``: a fixed random label per image, a task unrelated to the images' content.
- ``WithRotation``: rotation prediction (Gidaris et al. 2018), a self-supervised task: a
  loader wrapper adds a rotated copy of every image, labelled with its number of quarter
  turns. It needs no human label at all.

Labels of several tasks travel as one ``(N, T)`` tensor, ``-1`` where an example has no
label for a task (see :mod:`course_utils.evaluation.multitask`).

>>> import torch
>>> coarse_labels(torch.tensor([0, 1, 5, 8, 9])).tolist()
[0, 1, 2, 3, 2]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch

from ..evaluation.multitask import MISSING

COARSE_CLASSES = ["tops", "bottoms", "footwear", "bags"]
# Fashion-MNIST: T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot
FASHION_TO_COARSE = (0, 1, 0, 0, 0, 2, 0, 2, 3, 2)  # a dress hangs from the shoulders: a top


def coarse_labels(fine: torch.Tensor) -> torch.Tensor:
    """Fashion-MNIST labels 0..9 mapped to the coarse groups of ``COARSE_CLASSES``."""
    if len(fine) and (int(fine.min()) < 0 or int(fine.max()) > 9):
        raise ValueError(f"Fashion-MNIST labels must be in 0..9, got {int(fine.min())}..{int(fine.max())}")
    return torch.tensor(FASHION_TO_COARSE, device=fine.device)[fine]


def random_labels(n: int, num_classes: int, seed: int = 0) -> torch.Tensor:
    """A fixed random label in ``0..num_classes-1`` for each of ``n`` examples.

    A network can memorise them, but they say nothing about the images: a task that
    competes with the real ones for the shared features.

    >>> random_labels(6, 3, seed=0).tolist() == random_labels(6, 3, seed=0).tolist()
    True
    """
    return torch.randint(0, num_classes, (n,), generator=torch.Generator().manual_seed(seed))


def rotate(x: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate each image of ``x`` ``(B, C, H, W)`` by its number of quarter turns (0-3), anticlockwise.

    >>> x = torch.arange(4.0).view(1, 1, 2, 2)
    >>> rotate(x, torch.tensor([1]))[0, 0].tolist()
    [[1.0, 3.0], [0.0, 2.0]]
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotation needs square images, got shape {tuple(x.shape)}")
    out = x.clone()
    for k in range(1, 4):
        chosen = quarter_turns == k
        out[chosen] = torch.rot90(x[chosen], k, dims=(2, 3))
    return out


class WithRotation:
    """Wrap a loader of ``(x, y)`` batches, ``y`` of shape ``(B, T)``: add the rotation task.

    Each batch becomes ``2B`` examples: the ``B`` originals, with their labels and ``-1``
    in a new last column (rotation), then a copy of each image rotated by a random number
    of quarter turns ``r`` in 0..3, labelled ``-1`` for the other tasks and ``r`` for
    rotation. The other tasks' gradients come from the upright images only; the rotation
    task costs a second forward and backward pass over the batch.

    With ``unlabelled`` (another loader; its labels are ignored) the rotated copies come
    from its images instead, one of its batches per batch: images nobody labelled.

    ``len()`` is the wrapped loader's: the number of optimiser steps stays the same.
    """

    def __init__(self, loader: Iterable, unlabelled: Iterable | None = None, seed: int = 0):
        self.loader, self.unlabelled = loader, unlabelled
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.loader)

    def _sources(self) -> Iterator[torch.Tensor | None]:
        while True:
            if self.unlabelled is None:
                yield None
            else:
                yield from (x for x, _ in self.unlabelled)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for (x, y), source in zip(self.loader, self._sources()):
            if y.ndim != 2:
                raise ValueError(f"WithRotation needs (B, T) task labels, got shape {tuple(y.shape)}: "
                                 "use y[:, None] for a single task")
            source = x if source is None else source.to(x.device)
            turns = torch.randint(0, 4, (len(source),), generator=self.generator).to(x.device)
            upright = torch.cat([y, torch.full_like(y[:, :1], MISSING)], 1)
            rotated = torch.cat([torch.full((len(source), y.shape[1]), MISSING, dtype=y.dtype, device=y.device),
                                 turns[:, None].to(y.dtype)], 1)
            yield torch.cat([x, rotate(source, turns)]), torch.cat([upright, rotated])
