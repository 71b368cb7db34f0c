"""Look inside a CNN: the feature maps of each stage, pooled per-stage features, first-layer filters.

Stage outputs are caught with forward hooks on the modules listed by
:func:`~course_utils.models.surgery.stages`. The hooks live only inside a ``with`` block and are
removed on the way out, even when the forward pass fails, so a model is never left
carrying stale hooks.

>>> from course_utils.models.backbones import SmallCNN
>>> import torch
>>> maps = stage_feature_maps(SmallCNN(), torch.zeros(2, 1, 28, 28))
>>> [tuple(m.shape) for m in maps]
[(2, 32, 14, 14), (2, 64, 7, 7), (2, 128, 3, 3)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import matplotlib.pyplot as plt
import torch
import torch.nn as nn

from ..data.transforms import to_float
from ..models.surgery import eval_mode, stages


def _output_module(stage: nn.Module) -> nn.Module:
    """The module whose output is the stage's output (the last one of a ModuleList)."""
    return stage[-1] if isinstance(stage, nn.ModuleList) else stage


@contextmanager
def stage_outputs(model: nn.Module, indices: Sequence[int] | None = None) -> Iterator[dict[int, torch.Tensor]]:
    """Within the block, every forward pass of ``model`` stores stage outputs in the yielded dict.

    ``indices`` picks stages of :func:`~course_utils.models.surgery.stages` (default: all).
    The dict maps stage index to that stage's output of the latest forward pass.

    >>> from course_utils.models.backbones import SmallCNN
    >>> net = SmallCNN()
    >>> with stage_outputs(net, [0]) as outputs:
    ...     _ = net(torch.zeros(1, 1, 28, 28))
    >>> outputs[0].shape, len(net.stages[0]._forward_hooks)
    (torch.Size([1, 32, 14, 14]), 0)
    """
    all_stages = stages(model)
    indices = range(len(all_stages)) if indices is None else list(indices)
    outputs: dict[int, torch.Tensor] = {}
    handles = []

    def keep(index: int):
        def hook(_module, _inputs, output):
            outputs[index] = output
        return hook

    try:
        for i in indices:
            handles.append(_output_module(all_stages[i]).register_forward_hook(keep(i)))
        yield outputs
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def stage_feature_maps(model: nn.Module, x: torch.Tensor,
                       indices: Sequence[int] | None = None) -> list[torch.Tensor]:
    """Feature maps ``(B, C_s, H_s, W_s)`` of the chosen stages for one batch ``x``, in eval mode.

    ``x`` must already be what the model expects (e.g. ImageNet-normalised).
    """
    with eval_mode(model), stage_outputs(model, indices) as outputs:
        model(x)
    return [outputs[i].detach() for i in sorted(outputs)]


@torch.no_grad()
def pooled_stage_features(
    model: nn.Module,
    images: torch.Tensor,
    transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    indices: Sequence[int] | None = None,
    batch_size: int = 256,
) -> list[torch.Tensor]:
    """Global-average-pooled features ``(N, C_s)`` of every chosen stage, in one pass per batch.

    ``images`` are uint8 or float ``(N, C, H, W)``; ``transform`` runs per batch
    (e.g. ``ImageNetInput(64, model)``). Stage ``s`` gives a ``C_s``-dimensional vector per image.

    >>> from course_utils.models.backbones import SmallCNN
    >>> feats = pooled_stage_features(SmallCNN(), torch.zeros(5, 1, 28, 28, dtype=torch.uint8))
    >>> [tuple(f.shape) for f in feats]
    [(5, 32), (5, 64), (5, 128)]
    """
    device = next(model.parameters()).device
    chunks: list[list[torch.Tensor]] = []
    for start in range(0, len(images), batch_size):
        x = to_float(images[start:start + batch_size].to(device))
        if transform is not None:
            x = transform(x)
        maps = stage_feature_maps(model, x, indices)
        chunks.append([m.float().mean(dim=(2, 3)).cpu() for m in maps])
    return [torch.cat(per_stage) for per_stage in zip(*chunks)]


def filter_images(weight: torch.Tensor) -> torch.Tensor:
    """First-layer kernels ``(out, 3 or 1, k, k)`` rescaled to [0, 1] each, ready to show as images.

    Each filter is shifted and scaled on its own (min to 0, max to 1), so its pattern
    shows whatever its magnitude. Weights that are all equal become 0.5.

    >>> filter_images(torch.tensor([[[[-1.0, 1.0]]]])).tolist()
    [[[[0.0, 1.0]]]]
    """
    w = weight.detach().float().cpu()
    low = w.amin(dim=(1, 2, 3), keepdim=True)
    span = w.amax(dim=(1, 2, 3), keepdim=True) - low
    return torch.where(span > 0, (w - low) / span.clamp_min(1e-12), torch.full_like(w, 0.5))


def strongest_channels(maps: torch.Tensor, n: int = 16) -> torch.Tensor:
    """Indices of the ``n`` channels of a ``(C, H, W)`` map with the highest mean activation.

    >>> strongest_channels(torch.arange(3.0).view(3, 1, 1), n=2).tolist()
    [2, 1]
    """
    if maps.ndim != 3:
        raise ValueError(f"expected one image's maps (C, H, W), got shape {tuple(maps.shape)}")
    return maps.float().mean(dim=(1, 2)).argsort(descending=True)[:n]


def plot_feature_maps(maps: torch.Tensor, n: int = 16, ncols: int = 8,
                      title: str = "", size: float = 1.3) -> plt.Figure:
    """Show the ``n`` strongest channels of one image's maps ``(C, H, W)``, each on its own scale."""
    channels = strongest_channels(maps, n)
    nrows = max(1, -(-len(channels) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, c in zip(axes.flat, channels.tolist()):
        ax.imshow(maps[c].float().cpu().numpy(), cmap="viridis")
        ax.set_title(f"ch {c}", fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _show_input(ax, image: torch.Tensor) -> None:
    image = to_float(image.detach().cpu()).clamp(0, 1)
    if image.shape[0] == 1:
        ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
    else:
        ax.imshow(image.permute(1, 2, 0).numpy())
    ax.set_title(f"input {image.shape[-1]} px", fontsize=7)
    ax.axis("off")


def plot_stage_maps(image: torch.Tensor, maps: Sequence[torch.Tensor], names: Sequence[str],
                    n: int = 8, size: float = 1.2) -> plt.Figure:
    """One row per stage: the input image, then the ``n`` strongest channels of that stage's maps.

    ``image`` is ``(C, H, W)`` (uint8 or [0, 1]); ``maps`` holds one ``(C_s, H_s, W_s)`` per stage.
    """
    fig, axes = plt.subplots(len(maps), n + 1, figsize=(size * (n + 1), size * len(maps) + 0.3),
                             squeeze=False)
    for row, stage_maps, name in zip(axes, maps, names):
        _show_input(row[0], image)
        row[0].set_title(name, fontsize=8)
        for ax in row[1:]:
            ax.axis("off")
        for ax, c in zip(row[1:], strongest_channels(stage_maps, n).tolist()):
            ax.imshow(stage_maps[c].float().cpu().numpy(), cmap="viridis")
            ax.set_title(f"ch {c}, {stage_maps.shape[-1]} px", fontsize=6)
    fig.tight_layout()
    return fig


def show_feature_maps(model: nn.Module, image: torch.Tensor, stage: int,
                      transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      n: int = 16, ncols: int = 9) -> tuple[torch.Tensor, plt.Figure]:
    """The function behind the lesson's widget: one image's maps at one stage, and their figure.

    ``image`` is ``(C, H, W)`` uint8 or [0, 1]; ``transform`` turns a batch of such images
    into model input (e.g. ``ImageNetInput(64, model)``). Returns the maps ``(C_s, H_s, W_s)`` and
    a figure with the input and the ``n`` strongest channels.

    >>> from course_utils.models.backbones import SmallCNN
    >>> maps, fig = show_feature_maps(SmallCNN(), torch.zeros(1, 28, 28), stage=1, n=4)
    >>> tuple(maps.shape)
    (64, 7, 7)
    """
    device = next(model.parameters()).device
    x = to_float(image[None].to(device))
    if transform is not None:
        x = transform(x)
    maps = stage_feature_maps(model, x, [stage])[0][0].cpu()
    channels = strongest_channels(maps, n)
    total = len(channels) + 1
    nrows = max(1, -(-total // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.3 * nrows + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    _show_input(axes.flat[0], image)
    for ax, c in zip(list(axes.flat)[1:], channels.tolist()):
        ax.imshow(maps[c].float().numpy(), cmap="viridis")
        ax.set_title(f"ch {c}", fontsize=7)
    fig.suptitle(f"stage {stage}: {maps.shape[0]} maps of {maps.shape[-2]}x{maps.shape[-1]}, "
                 f"the {len(channels)} strongest", fontsize=9)
    fig.tight_layout()
    return maps, fig
