"""Plots the lessons use: learning curves, image grids, confusion matrices.

Each returns the matplotlib ``Figure`` so a notebook can show or save it.

>>> fig = plot_history({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_loss": [1.1, 0.7]})
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

from .training.history import History


def plot_history(history: History | dict, title: str = "") -> plt.Figure:
    """Loss and accuracy per epoch, train and validation, with the best epoch marked."""
    h = history.as_dict() if isinstance(history, History) else history
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("loss", "acc")):
        for split, style in (("train", "-o"), ("val", "-s")):
            values = h.get(f"{split}_{metric}")
            if values and not all(math.isnan(v) for v in values):
                ax.plot(h["epoch"], values, style, label=split, markersize=4)
        if h.get("best_epoch"):
            ax.axvline(h["best_epoch"], color="gray", linestyle=":", label="best epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "loss")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_task_history(history: History, tasks: list[str], splits: tuple[str, ...] = ("train", "val"),
                      title: str = "") -> plt.Figure:
    """Per-task loss and accuracy per epoch of a multi-task run (``<split>_loss_<task>``, ...).

    >>> h = History()
    >>> h.record(epoch=1, train_loss_fine=1.0, train_acc_fine=0.5, val_acc_fine=0.4)
    >>> fig = plot_task_history(h, ["fine"])
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for ax, metric in zip(axes, ("loss", "acc")):
        for i, task in enumerate(tasks):
            for split, style in zip(splits, ("-o", "--s")):
                values = history.metric(f"{split}_{metric}_{task}")
                if values and not all(math.isnan(v) for v in values):
                    ax.plot(history.epoch, values, style, color=f"C{i}", label=f"{task} ({split})",
                            markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy" if metric == "acc" else "loss (unweighted)")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _as_display_image(image: torch.Tensor) -> np.ndarray:
    image = image.detach().cpu().float()
    if image.max() > 1.5:  # uint8 range
        image = image / 255
    image = image.clamp(0, 1)
    return image[0].numpy() if image.shape[0] == 1 else image.permute(1, 2, 0).numpy()


def show_images(images: torch.Tensor, labels=None, predictions=None, classes=None,
                ncols: int = 8, size: float = 1.6) -> plt.Figure:
    """A grid of ``(N, C, H, W)`` images titled with labels and, if given, predictions.

    A wrong prediction is titled in red.
    """
    n = len(images)
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * 1.15), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(_as_display_image(images[i]), cmap="gray", vmin=0, vmax=1)

        def name(k):
            k = int(k)
            return classes[k] if classes is not None else str(k)

        parts, color = [], "black"
        if labels is not None:
            parts.append(name(labels[i]))
        if predictions is not None:
            parts.append(f"pred: {name(predictions[i])}")
            if labels is not None and int(predictions[i]) != int(labels[i]):
                color = "red"
        ax.set_title("\n".join(parts), fontsize=8, color=color)
    fig.tight_layout()
    return fig


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts ``(true, predicted)``: row ``i`` is the examples whose true class is ``i``.

    >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    index = labels.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes ** 2).view(num_classes, num_classes)


def plot_confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, classes: list[str],
                          normalize: bool = True) -> plt.Figure:
    """Confusion matrix as a heat map; with ``normalize`` each row sums to 1 (per-class recall)."""
    matrix = confusion_matrix(labels, predictions, len(classes)).float()
    if normalize:
        matrix = matrix / matrix.sum(1, keepdim=True).clamp(min=1)
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(classes), 0.8 + 0.6 * len(classes)))
    ax.imshow(matrix.numpy(), cmap="Blues")
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(classes)):
        for j in range(len(classes)):
            value = matrix[i, j].item()
            text = f"{value:.2f}" if normalize else str(int(value))
            ax.text(j, i, text, ha="center", va="center", fontsize=7,
                    color="white" if value > matrix.max().item() / 2 else "black")
    fig.tight_layout()
    return fig
