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


def plot_roc_pr(labels, scores_by_name: dict, title: str = "") -> plt.Figure:
    """ROC and precision-recall curves of binary ``scores`` ``(N,)`` for each named model.

    The legend gives each curve's AUC and average precision; the PR panel marks the
    positive rate (a classifier that guesses sits on that line).
    """
    from sklearn.metrics import (
        average_precision_score,
        precision_recall_curve,
        roc_auc_score,
        roc_curve,
    )

    labels = np.asarray(labels)
    fig, (ax_roc, ax_pr) = plt.subplots(1, 2, figsize=(10, 4))
    for name, scores in scores_by_name.items():
        scores = np.asarray(scores)
        fpr, tpr, _ = roc_curve(labels, scores)
        precision, recall, _ = precision_recall_curve(labels, scores)
        ax_roc.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, scores):.3f})")
        ax_pr.plot(recall, precision, label=f"{name} (AP {average_precision_score(labels, scores):.3f})")
    ax_roc.plot([0, 1], [0, 1], ":", color="gray")
    ax_pr.axhline(labels.mean(), linestyle=":", color="gray")
    ax_roc.set(xlabel="1 - specificity (false-positive rate)", ylabel="sensitivity", title="ROC")
    ax_pr.set(xlabel="sensitivity (recall)", ylabel="PPV (precision)", title="precision-recall")
    for ax in (ax_roc, ax_pr):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right" if ax is ax_roc else "lower left")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_reliability(bins_by_name: dict, title: str = "") -> plt.Figure:
    """Reliability diagrams: accuracy against mean confidence per bin, one panel per name.

    ``bins_by_name`` maps a name to :func:`~course_utils.evaluation.calibration.reliability_bins`'
    output; bars show each bin's accuracy, the diagonal is perfect calibration.
    """
    fig, axes = plt.subplots(1, len(bins_by_name), figsize=(3.6 * len(bins_by_name), 3.6), squeeze=False)
    for ax, (name, bins) in zip(axes.flat, bins_by_name.items()):
        edges = bins["edges"]
        centres, width = (edges[:-1] + edges[1:]) / 2, edges[1] - edges[0]
        filled = bins["count"] > 0
        ax.bar(centres[filled], bins["accuracy"][filled], width=width * 0.9, alpha=0.7, label="accuracy")
        ax.plot(bins["confidence"][filled], bins["accuracy"][filled], "o", color="black", markersize=3)
        ax.plot([0, 1], [0, 1], ":", color="gray")
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=name)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
