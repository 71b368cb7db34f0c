"""Checkers for lesson 05 (Grad-CAM and attributions).

Each checker takes the learner's function and runs it on fixed, seeded inputs.

>>> import torch
>>> def my_gradcam(activations, gradients):
...     weights = gradients.mean(dim=(2, 3), keepdim=True)
...     return (weights * activations).sum(1, keepdim=True).clamp(min=0)
>>> gradcam_map.check(my_gradcam)
Exercise 5.1: correct.
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn

from . import Exercise


def _close(answer, expected: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    if not isinstance(answer, torch.Tensor) or answer.shape != expected.shape:
        return False
    return torch.allclose(answer.detach().float(), expected, rtol=rtol, atol=atol)


# ---------------------------------------------------------------- 5.1 Grad-CAM from its parts

def _judge_gradcam_map(my_gradcam: Callable) -> bool:
    generator = torch.Generator().manual_seed(51)
    activations = torch.rand(3, 8, 5, 5, generator=generator)  # post-ReLU: non-negative
    gradients = torch.randn(3, 8, 5, 5, generator=generator)
    weights = gradients.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1)
    expected = (weights * activations).sum(1, keepdim=True).clamp(min=0)  # (B, 1, h, w)
    return _close(my_gradcam(activations.clone(), gradients.clone()), expected)


gradcam_map = Exercise(
    "5.1",
    "Write my_gradcam(activations, gradients) -> (B, 1, h, w): Grad-CAM maps (no upsampling) "
    "from a layer's activations (B, C, h, w) and the gradients of the class score with "
    "respect to them.",
    _judge_gradcam_map,
    hint="Grad-CAM has three steps: one weight per channel from the gradients, a weighted sum "
         "of the activations over channels, and only the positive part. Which dimensions does "
         "the weight average over, and is it a mean or a sum?",
    solution="alpha = gradients.mean(dim=(2, 3), keepdim=True); "
             "return (alpha * activations).sum(1, keepdim=True).clamp(min=0)",
)


# ---------------------------------------------------------------- 5.2 CAM without gradients

def _judge_cam_from_head(my_cam: Callable) -> bool:
    from ..explanations.explain import GradCAM
    from ..models.backbones import SmallCNN

    torch.manual_seed(52)
    model = SmallCNN(in_channels=1, num_classes=10).eval()
    images = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(52))
    cam = GradCAM(model, model.stages[-1])
    for target in range(10):  # some classes have an all-zero map here, others do not
        expected = cam.attribute(images, target, upsample=False)
        with torch.no_grad():  # the point: no gradient is needed
            answer = my_cam(model, images, target)
        if not _close(answer, expected):
            return False
    return True


cam_from_head = Exercise(
    "5.2",
    "Write my_cam(model, images, target) for a SmallCNN that returns exactly "
    "GradCAM(model, model.stages[-1]).attribute(images, target, upsample=False), using only "
    "a forward pass through model.stages and the weights of model.classifier (no gradients).",
    _judge_cam_from_head,
    hint="After the last stage come global average pooling and a linear layer: write the logit "
         "of class c as a function of A and differentiate it by hand. What is d logit_c / d A_k[i, j], "
         "and does it depend on (i, j)? Keep Grad-CAM's ReLU.",
    solution="A = model.stages(images); h, w = A.shape[-2:]; W = model.classifier[-1].weight[target]; "
             "return (W[None, :, None, None] * A).sum(1, keepdim=True).clamp(min=0) / (h * w)",
)


# ---------------------------------------------------------------- 5.3 Integrated Gradients

def _ig_model() -> nn.Module:
    torch.manual_seed(53)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3)).eval()


def _judge_integrated_gradients(my_ig: Callable) -> bool:
    from captum.attr import IntegratedGradients

    model = _ig_model()
    generator = torch.Generator().manual_seed(53)
    x = torch.rand(2, 1, 3, 4, generator=generator) * 2
    target = 1
    # a black baseline and a grey one: an answer that ignores the baseline fails the second
    for baseline in (torch.zeros_like(x), torch.full_like(x, 0.5)):
        answer = my_ig(model, x, baseline, target, 256)
        if not isinstance(answer, torch.Tensor) or answer.shape != x.shape:
            return False
        reference = IntegratedGradients(model).attribute(x, baseline, target=target, n_steps=256)
        with torch.no_grad():
            gap = model(x)[:, target] - model(baseline)[:, target]  # completeness: sum = f(x) - f(b)
        complete = torch.allclose(answer.detach().flatten(1).sum(1), gap, rtol=0.02, atol=1e-3)
        if not (complete and torch.allclose(answer.detach(), reference, rtol=0.02, atol=2e-3)):
            return False
    return True


integrated_gradients = Exercise(
    "5.3",
    "Write my_ig(model, x, baseline, target, steps) -> attributions shaped like x: "
    "Integrated Gradients by a Riemann sum over `steps` points of the straight path "
    "from baseline to x.",
    _judge_integrated_gradients,
    hint="Walk the straight path from the baseline to x in `steps` equal steps, take the gradient "
         "of the target score at each point, average, and scale by how far each pixel moved. Check "
         "yours: the attributions should sum to f(x) - f(baseline), whatever the baseline.",
    solution="total = 0; for k in 1..steps: p = (baseline + k / steps * (x - baseline)).requires_grad_(); "
             "total += torch.autograd.grad(model(p)[:, target].sum(), p)[0]; "
             "return (x - baseline) * total / steps",
)


# ---------------------------------------------------------------- 5.4 Spearman by hand

def _judge_spearman(my_spearman: Callable) -> bool:
    import scipy.stats

    generator = torch.Generator().manual_seed(54)
    for _ in range(3):
        a = torch.randn(200, generator=generator)
        b = a ** 3 + 0.5 * torch.randn(200, generator=generator)  # monotone plus noise
        answer = my_spearman(a.clone(), b.clone())
        if answer is None:
            return False
        expected = scipy.stats.spearmanr(a.numpy(), b.numpy()).statistic
        if abs(float(answer) - expected) > 1e-4:
            return False
    return True


spearman = Exercise(
    "5.4",
    "Write my_spearman(a, b) for two 1-D tensors without ties: the Spearman rank "
    "correlation, the similarity the sanity check uses.",
    _judge_spearman,
    hint="Spearman's rho is Pearson's correlation computed on ranks, not on values. Note that "
         "argsort gives the positions of the sorted values, which are not yet the ranks.",
    solution="ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double(); "
             "ra, rb = ra - ra.mean(), rb - rb.mean(); return ((ra * rb).sum() / (ra.norm() * rb.norm())).item()",
    blocked=("course_utils.explanations.explain.rank_correlation",
             "course_utils.explanations.explain.average_ranks"),
)
