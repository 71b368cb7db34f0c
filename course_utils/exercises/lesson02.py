"""Checkers for the exercises of lesson 02 (CNN feature extraction).

>>> conv_output_size.check(lambda size, kernel, stride, padding, dilation: 0)
Exercise 2.1: not yet. Hint: A dilated kernel spans dilation*(kernel-1)+1 pixels; use that span in floor((size + 2*padding - span) / stride) + 1.
False
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from ..explanations.receptive_field import receptive_field as _receptive_field
from . import Exercise


def _output_size_right(answer) -> bool:
    cases = itertools.product((7, 28, 64, 224), (1, 3, 5), (1, 2, 3), (0, 1, 3), (1, 2, 3))
    for size, kernel, stride, padding, dilation in cases:
        if size + 2 * padding < dilation * (kernel - 1) + 1:
            continue
        expected = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                            stride=stride, padding=padding, dilation=dilation).shape[-1]
        if answer(size, kernel, stride, padding, dilation) != expected:  # 32.5 is not a size
            return False
    return True


conv_output_size = Exercise(
    "2.1",
    "Write output_size(size, kernel, stride, padding, dilation): the height of the output of "
    "nn.Conv2d(..., kernel, stride, padding, dilation) on a size x size input. A dilated "
    "kernel leaves dilation-1 pixels between its taps.",
    _output_size_right,
    hint="A dilated kernel spans dilation*(kernel-1)+1 pixels; use that span in "
         "floor((size + 2*padding - span) / stride) + 1.",
)


_CHAINS = (
    [(3, 1)],
    [(3, 1), (3, 1), (2, 2)],
    [(7, 2), (3, 2), (3, 1), (3, 1)],
    [(3, 2)] * 5,
    [(5, 1), (1, 1), (3, 2), (3, 2), (5, 1)],
)


def _receptive_field_right(answer) -> bool:
    for chain in _CHAINS:
        got = answer(list(chain))
        size = got[0] if isinstance(got, (tuple, list)) else got
        if size != _receptive_field(chain)[0]:
            return False
    return True


receptive_field = Exercise(
    "2.2",
    "Write receptive_field(layers) for a list of (kernel, stride) pairs: how many input "
    "pixels (per side) one unit of the last layer sees.",
    _receptive_field_right,
    hint="Keep two numbers: r (starts at 1) and the jump j (starts at 1). Each layer adds "
         "(kernel - 1) * j to r, then multiplies j by its stride.",
)


def _depthwise_right(answer) -> bool:
    generator = torch.Generator().manual_seed(2)
    for channels, kernel, stride, padding, size in ((1, 3, 1, 0, 8), (3, 3, 2, 1, 11), (5, 5, 1, 2, 9), (4, 1, 1, 0, 7)):
        x = torch.randn(2, channels, size, size, generator=generator)
        weight = torch.randn(channels, 1, kernel, kernel, generator=generator)
        expected = F.conv2d(x, weight, stride=stride, padding=padding, groups=channels)
        got = answer(x, weight, stride=stride, padding=padding)
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        if not torch.allclose(got, expected, atol=1e-4, rtol=1e-4):
            return False
    return True


depthwise_conv = Exercise(
    "2.3",
    "Write depthwise_conv2d(x, weight, stride, padding) for x (N, C, H, W) and weight "
    "(C, 1, k, k), without nn.Conv2d or F.conv2d: channel c is filtered by weight[c] only, "
    "as in F.conv2d(x, weight, stride=stride, padding=padding, groups=C).",
    _depthwise_right,
    hint="F.unfold gives (N, C*k*k, L) patches, channel-major: view them as (N, C, k*k, L), "
         "multiply by weight.view(1, C, k*k, 1), sum over the k*k axis, reshape L to (H_out, W_out).",
)


def _separable_right(answer) -> bool:
    standard, separable = answer
    return standard == 3 * 3 * 96 * 24 and separable == 3 * 3 * 96 + 96 * 24


depthwise_separable = Exercise(
    "2.4",
    "How many weights (no biases) has a 3x3 conv from 96 to 24 channels, and how many a "
    "depthwise 3x3 conv on 96 channels followed by a 1x1 conv from 96 to 24? Answer (standard, separable).",
    _separable_right,
    hint="A standard conv has k*k*C_in weights for each of its C_out filters. A depthwise "
         "conv has one k*k filter per channel; a 1x1 conv has C_in*C_out weights.",
)

EXERCISES = (conv_output_size, receptive_field, depthwise_conv, depthwise_separable)
