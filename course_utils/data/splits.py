"""Seeded, stratified subsets: k labels per class and train/validation splits.

>>> import torch
>>> labels = torch.arange(10).repeat(50)          # 10 classes, 50 each
>>> idx = few_shot_indices(labels, k=5, seed=0)
>>> len(idx), torch.bincount(labels[idx]).tolist() == [5] * 10
(50, True)
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .datasets import LabeledImages


def few_shot_indices(labels: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Indices of ``k`` random examples of every class, sorted, reproducible by ``seed``."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).view(-1)
        if len(members) < k:
            raise ValueError(f"class {c} has only {len(members)} examples, fewer than k={k}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return torch.cat(chosen).sort().values


def disjoint_few_shot(labels: torch.Tensor, ks: Sequence[int], seed: int = 0) -> list[torch.Tensor]:
    """Disjoint few-shot sets: set ``i`` holds ``ks[i]`` random examples of every class.

    For repeated few-shot draws that share nothing with each other or with a validation set
    (pass e.g. ``[n_val] + [k] * n_draws``). Each set's indices are sorted; ``seed`` makes it repeatable.

    >>> labels = torch.arange(3).repeat(10)           # 3 classes, 10 each
    >>> val, a, b = disjoint_few_shot(labels, [2, 3, 3], seed=0)
    >>> len(val), len(a), len(set(val.tolist()) | set(a.tolist()) | set(b.tolist()))
    (6, 9, 24)
    """
    if not ks or min(ks) < 1:
        raise ValueError(f"every set needs at least 1 example per class, got ks={list(ks)}")
    generator = torch.Generator().manual_seed(seed)
    sets: list[list[torch.Tensor]] = [[] for _ in ks]
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).view(-1)
        if len(members) < sum(ks):
            raise ValueError(f"class {c} has only {len(members)} examples, fewer than the {sum(ks)} "
                             f"that disjoint sets of {list(ks)} need")
        members = members[torch.randperm(len(members), generator=generator)]
        start = 0
        for chosen, k in zip(sets, ks):
            chosen.append(members[start:start + k])
            start += k
    return [torch.cat(chosen).sort().values for chosen in sets]


def few_shot(data: LabeledImages, k: int, seed: int = 0) -> LabeledImages:
    """``k`` labeled examples per class of ``data`` (see :func:`few_shot_indices`)."""
    return data.subset(few_shot_indices(data.labels, k, seed))


def stratified_split(
    labels: torch.Tensor, val_fraction: float = 0.2, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Split indices into (train, val) with each class split in the same proportion.

    Every class keeps at least one training example; classes with two or more
    examples give at least one to validation.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    generator = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in torch.unique(labels).tolist():
        members = torch.nonzero(labels == c).view(-1)
        members = members[torch.randperm(len(members), generator=generator)]
        n_val = min(max(1, round(val_fraction * len(members))), len(members) - 1)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def stratified_subset(data: LabeledImages, n: int, seed: int = 0) -> LabeledImages:
    """``n`` examples of ``data`` drawn at random with the class proportions kept (as near as
    rounding allows; every class keeps at least one example).

    >>> import torch
    >>> data = LabeledImages(torch.zeros(100, 1, 2, 2, dtype=torch.uint8), (torch.arange(100) >= 75).long(), ["a", "b"])
    >>> torch.bincount(stratified_subset(data, 20).labels).tolist()
    [15, 5]
    """
    if not 0 < n <= len(data):
        raise ValueError(f"n must be in 1..{len(data)}, got {n}")
    if n == len(data):
        return data
    generator = torch.Generator().manual_seed(seed)
    classes = torch.unique(data.labels)
    if n < len(classes):
        raise ValueError(f"n={n} is smaller than the number of classes ({len(classes)})")
    counts = torch.bincount(data.labels)[classes].double()
    quota = (counts / counts.sum() * n).floor().long().clamp(min=1)
    for i in torch.argsort(counts / counts.sum() * n - quota, descending=True)[: n - int(quota.sum())]:
        quota[i] += 1  # largest remainders first
    chosen = []
    for c, k in zip(classes.tolist(), quota.tolist()):
        members = torch.nonzero(data.labels == c).view(-1)
        chosen.append(members[torch.randperm(len(members), generator=generator)[:k]])
    return data.subset(torch.cat(chosen).sort().values)


def train_val_split(
    data: LabeledImages, val_fraction: float = 0.2, seed: int = 0
) -> tuple[LabeledImages, LabeledImages]:
    """Stratified (train, val) split of ``data``."""
    train_idx, val_idx = stratified_split(data.labels, val_fraction, seed)
    return data.subset(train_idx), data.subset(val_idx)
