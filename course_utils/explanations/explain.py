"""Explaining a classifier's decision: Grad-CAM by hand, heat-map overlays, a sanity check.

Grad-CAM (Selvaraju et al., 2017) for class ``c`` at a convolutional layer with
activations ``A`` of shape ``(C, h, w)``:

1. channel weights ``alpha_k = mean_ij d y_c / d A_k[i, j]`` (spatially averaged gradients),
2. map ``ReLU(sum_k alpha_k A_k)`` of shape ``(h, w)``,
3. upsampled to the input's size.

:class:`GradCAM` does exactly this; a variant overrides :meth:`GradCAM.weights`
(see :class:`HiResCAM`). The layer's output is caught by a forward hook that lives
in the :func:`record` context manager, so it is removed even when something fails.

>>> from course_utils.models.backbones import SmallCNN
>>> model = SmallCNN().eval()
>>> cam = GradCAM(model, model.stages[-1])
>>> cam.attribute(torch.rand(2, 1, 28, 28), target=3).shape
torch.Size([2, 1, 28, 28])
>>> len(model.stages[-1]._forward_hooks)     # nothing left behind
0
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..data.transforms import to_float
from ..models.surgery import eval_mode

Target = int | Sequence[int] | torch.Tensor | None
Explanation = TypeVar("Explanation")


# ---------------------------------------------------------------- hooks

def hookable(layer: nn.Module) -> nn.Module:
    """The module whose forward call produces ``layer``'s output.

    :func:`~course_utils.models.surgery.stages` returns an EfficientNet's stem and last stage
    as ``nn.ModuleList`` containers, which are never called themselves: their output
    is the output of their last member.

    >>> conv, bn = nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8)
    >>> hookable(nn.ModuleList([conv, bn])) is bn
    True
    """
    return layer[-1] if isinstance(layer, nn.ModuleList) else layer


@dataclass
class Recording:
    """What :func:`record` caught during the last forward pass through the layer."""

    output: torch.Tensor | None = None  # (B, C, h, w), still attached to the graph


@contextmanager
def record(layer: nn.Module) -> Iterator[Recording]:
    """Catch ``layer``'s output with a forward hook that is removed on exit, even after an error.

    >>> layer = nn.Conv2d(1, 4, 3)
    >>> with record(layer) as rec:
    ...     _ = layer(torch.zeros(1, 1, 5, 5))
    >>> rec.output.shape, len(layer._forward_hooks)
    (torch.Size([1, 4, 3, 3]), 0)
    """
    recording = Recording()

    def on_forward(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        recording.output = output

    handle = hookable(layer).register_forward_hook(on_forward)
    try:
        yield recording
    finally:
        handle.remove()


# ---------------------------------------------------------------- Grad-CAM

def resolve_target(logits: torch.Tensor, target: Target) -> torch.Tensor:
    """Class index per example: ``None`` means the predicted class; an int applies to all.

    >>> resolve_target(torch.tensor([[0.0, 2.0], [3.0, 1.0]]), None).tolist()
    [1, 0]
    """
    if target is None:
        return logits.argmax(1)
    target = torch.as_tensor(target, device=logits.device).long()
    return target.expand(len(logits)) if target.ndim == 0 else target


def upsample_maps(maps: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Bilinear upsampling of ``(B, 1, h, w)`` maps to ``size`` (what the eye expects).

    >>> upsample_maps(torch.ones(1, 1, 2, 2), 8).shape
    torch.Size([1, 1, 8, 8])
    """
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)


class GradCAM:
    """Grad-CAM of ``model`` at ``layer`` (a module inside ``model`` with a 4-D output).

    ``attribute`` runs the model in eval mode (and restores its mode). Gradients come
    from ``torch.autograd.grad`` of the summed target scores with respect to the
    layer's output, so the parameters' ``.grad`` are left untouched, and it works on a
    frozen model.

    Departures from the paper, as flags: ``relu=False`` keeps negative evidence;
    ``upsample=False`` returns the map at the layer's resolution.

    >>> from course_utils.models.backbones import SmallCNN
    >>> model = SmallCNN().eval()
    >>> GradCAM(model, model.stages[1]).attribute(torch.rand(1, 1, 28, 28), 0, upsample=False).shape
    torch.Size([1, 1, 7, 7])
    """

    def __init__(self, model: nn.Module, layer: nn.Module):
        self.model, self.layer = model, layer

    def weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        """Channel weights ``(B, C, 1, 1)``: the gradients averaged over space. Variants override this."""
        return gradients.mean(dim=(2, 3), keepdim=True)

    def attribute(self, images: torch.Tensor, target: Target = None, upsample: bool = True,
                  relu: bool = True) -> torch.Tensor:
        """Maps ``(B, 1, H, W)`` for ``target`` (``None``: the predicted class) of ``images`` (B, C, H, W)."""
        with eval_mode(self.model):  # and each module's own mode restored afterwards
            x = to_float(images).detach().requires_grad_(True)  # works even if every weight is frozen
            with record(self.layer) as rec:
                logits = self.model(x)  # (B, classes)
            if rec.output is None:
                raise RuntimeError("the layer was not called in the forward pass: is it inside the model?")
            target = resolve_target(logits, target)
            score = logits.gather(1, target[:, None]).sum()  # the examples' gradients do not mix
            activations = rec.output  # (B, C, h, w)
            (gradients,) = torch.autograd.grad(score, activations)
            maps = (self.weights(activations, gradients) * activations).sum(1, keepdim=True)
            maps = maps.detach()
        if relu:
            maps = maps.clamp(min=0)  # only evidence *for* the class
        return upsample_maps(maps, tuple(images.shape[-2:])) if upsample else maps

    __call__ = attribute


class HiResCAM(GradCAM):
    """Grad-CAM without the spatial average: each position keeps its own gradient (Draelos & Carin, 2020).

    The map is ``ReLU(sum_k dY/dA_k * A_k)``, which is faithful to the model: for a layer
    followed by global average pooling and a linear head it equals Grad-CAM.
    """

    def weights(self, activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
        return gradients  # (B, C, h, w)


# ---------------------------------------------------------------- showing maps

def normalize_maps(maps: torch.Tensor, quantile: float = 1.0) -> torch.Tensor:
    """Scale each map to [0, 1] by its ``quantile`` of absolute values (1.0: the maximum).

    Signed attributions (saliency, Integrated Gradients) are summed over colour
    channels in absolute value first, so ``(B, C, H, W)`` becomes ``(B, 1, H, W)``.

    >>> normalize_maps(torch.tensor([[[[0.0, 2.0], [1.0, 4.0]]]])).flatten().tolist()
    [0.0, 0.5, 0.25, 1.0]
    """
    maps = maps.detach().abs().sum(1, keepdim=True).float()
    flat = maps.flatten(1)
    scale = flat.quantile(quantile, dim=1) if quantile < 1 else flat.max(1).values
    return (maps / scale.clamp(min=1e-12).view(-1, 1, 1, 1)).clamp(0, 1)


def overlay(image: torch.Tensor, heatmap: torch.Tensor, alpha: float = 0.5,
            cmap: str = "jet") -> np.ndarray:
    """Blend one image ``(C, H, W)`` with one map in [0, 1] ``(H, W)`` or ``(1, H, W)``: ``(H, W, 3)`` RGB.

    >>> overlay(torch.zeros(3, 4, 4), torch.ones(4, 4)).shape
    (4, 4, 3)
    """
    picture = to_float(image.detach().cpu()).clamp(0, 1)
    picture = picture.expand(3, -1, -1).permute(1, 2, 0).numpy()  # gray images get 3 channels
    colours = plt.get_cmap(cmap)(heatmap.detach().cpu().float().squeeze().clamp(0, 1).numpy())[..., :3]
    return (1 - alpha) * picture + alpha * colours


def show_maps(images: torch.Tensor, maps: dict[str, torch.Tensor], row_titles: Sequence[str] = (),
              alpha: float = 0.5, size: float = 2.2) -> plt.Figure:
    """Grid: one row per image, the image then one overlay per method in ``maps``.

    ``maps[name]`` is ``(B, 1, H, W)`` (or ``(B, C, H, W)`` attributions); each map is
    normalised to [0, 1] for display.
    """
    ncols = 1 + len(maps)
    fig, axes = plt.subplots(len(images), ncols, figsize=(size * ncols, size * len(images)), squeeze=False)
    shown = {name: normalize_maps(m, quantile=0.99) for name, m in maps.items()}
    for row, image in enumerate(images):
        axes[row, 0].imshow(overlay(image, torch.zeros(image.shape[-2:]), alpha=0.0))
        axes[row, 0].set_title(row_titles[row] if row < len(row_titles) else "", fontsize=8)
        for col, (name, m) in enumerate(shown.items(), start=1):
            axes[row, col].imshow(overlay(image, m[row], alpha))
            if row == 0:
                axes[row, col].set_title(name, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- sanity check

def average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of a 1-D tensor, ties sharing their average rank (as ``scipy.stats.rankdata``).

    >>> average_ranks(torch.tensor([5.0, 7.0, 5.0])).tolist()
    [1.5, 3.0, 1.5]
    """
    _, group, counts = torch.unique(values, sorted=True, return_inverse=True, return_counts=True)
    last_rank = counts.cumsum(0).double()
    return (last_rank - (counts - 1) / 2)[group]


def rank_correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Spearman rank correlation between maps ``a[i]`` and ``b[i]``, one value per example ``(B,)``.

    1: the same ordering of pixels; 0: no relation; -1: reversed. A constant map (a
    Grad-CAM that the ReLU zeroed everywhere) orders nothing and scores 0 (scipy says NaN).

    >>> rank_correlation(torch.tensor([[1.0, 2, 3]]), torch.tensor([[10.0, 20, 90]])).tolist()
    [1.0]
    """
    a, b = a.detach().flatten(1), b.detach().flatten(1)
    values = []
    for x, y in zip(a, b):
        rx, ry = average_ranks(x), average_ranks(y)
        rx, ry = rx - rx.mean(), ry - ry.mean()  # Pearson correlation of the ranks
        spread = rx.norm() * ry.norm()
        values.append((rx * ry).sum() / spread if spread > 0 else spread)
    return torch.stack(values).float()


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Re-initialise, in place, every sub-module of ``module`` that has ``reset_parameters``.

    Convolutions and linear layers get fresh random weights (PyTorch's default
    initialisation); normalisation layers forget their statistics and scales.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for sub in module.modules():
            if hasattr(sub, "reset_parameters"):
                sub.reset_parameters()
    return module


def cascading_randomization(model: nn.Module, layer_names: Sequence[str | tuple[str, ...]],
                            explain: Callable[[nn.Module], Explanation],
                            seed: int = 0) -> list[tuple[str, Explanation]]:
    """The model-randomisation test of Adebayo et al. (2018), cascading from the top.

    On a copy of ``model``, re-initialise the layers named in ``layer_names`` one step
    after the other (give them from the output towards the input; a tuple of names is
    one step), keeping earlier ones random, and call ``explain(copy)`` before the first
    step and after each. Returns ``[("original", maps), (step name, maps), ...]``, where
    ``maps`` is whatever ``explain`` returns (a tensor, or a dict of them for several methods).
    An explanation that depends on what the model learned changes as the weights go.

    >>> from course_utils.models.backbones import SmallCNN
    >>> net, x = SmallCNN().eval(), torch.rand(1, 1, 28, 28)
    >>> steps = cascading_randomization(net, ["classifier", ("stages.2", "stages.1")],
    ...     lambda m: GradCAM(m, m.stages[0]).attribute(x, 0))
    >>> [name for name, _ in steps]
    ['original', 'classifier', 'stages.2 + stages.1']
    """
    clone = copy.deepcopy(model)
    results = [("original", explain(clone))]
    for step, names in enumerate(layer_names):
        names = (names,) if isinstance(names, str) else tuple(names)
        for name in names:
            randomize_(clone.get_submodule(name), seed + step)
        results.append((" + ".join(names), explain(clone)))
    return results


# ---------------------------------------------------------------- guided backpropagation

def split_relu6(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every ``nn.ReLU6`` replaced by ``ReLU`` then ``Hardtanh(0, 6)``.

    The outputs are identical. Captum's GuidedBackprop, Deconvolution and Guided
    Grad-CAM change the backward pass of ``nn.ReLU`` modules only; in a network built
    from ``ReLU6`` (MobileNet, EfficientNet-Lite) they silently fall back to plain
    gradients. After this split they find a ``ReLU`` everywhere.

    >>> split_relu6(nn.Sequential(nn.ReLU6()))[0]
    Sequential(
      (0): ReLU()
      (1): Hardtanh(min_val=0.0, max_val=6.0)
    )
    """
    clone = copy.deepcopy(model)
    for parent in clone.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(parent, name, nn.Sequential(nn.ReLU(), nn.Hardtanh(0.0, 6.0)))
    return clone
