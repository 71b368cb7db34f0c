"""Checkers for the exercises of lesson 02 (CNN feature extraction).

>>> conv_output_size.check(lambda size, kernel, stride, padding, dilation: 0)
Exercise 2.1: not yet. Hint: How many input pixels does a dilated kernel span from its first tap to its last? Put that span where k stood in the formula of section 1.
Stuck? Run the check again with show_solution=True to see a solution.
False
"""

from __future__ import annotations

import itertools
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from ..explanations.receptive_field import receptive_field as _receptive_field
from . import Exercise, UseYourOwnCode


def _refuse_library_conv(*args, **kwargs):
    raise UseYourOwnCode("this exercise asks you to compute it yourself, not with nn.Conv2d or F.conv2d")


@contextmanager
def _no_library_conv():
    """While inside, ``F.conv2d``, ``torch.conv2d`` (and so ``nn.Conv2d``) refuse to run."""
    saved = F.conv2d, torch.conv2d
    F.conv2d = torch.conv2d = _refuse_library_conv
    try:
        yield
    finally:
        F.conv2d, torch.conv2d = saved


def _output_size_cases() -> list[tuple[tuple[int, ...], int]]:
    cases = []
    for size, kernel, stride, padding, dilation in itertools.product(
            (7, 28, 64, 224), (1, 3, 5), (1, 2, 3), (0, 1, 3), (1, 2, 3)):
        if size + 2 * padding >= dilation * (kernel - 1) + 1:
            expected = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel),
                                stride=stride, padding=padding, dilation=dilation).shape[-1]
            cases.append(((size, kernel, stride, padding, dilation), expected))
    return cases


_OUTPUT_SIZE_CASES = _output_size_cases()  # measured by PyTorch once, before any answer runs


def _output_size_right(answer) -> bool:
    with _no_library_conv():  # the formula, not a measurement of nn.Conv2d's output
        return all(answer(*args) == expected for args, expected in _OUTPUT_SIZE_CASES)  # 32.5 is not a size


conv_output_size = Exercise(
    "2.1",
    "Write output_size(size, kernel, stride, padding, dilation): the height of the output of "
    "nn.Conv2d(..., kernel, stride, padding, dilation) on a size x size input. A dilated "
    "kernel leaves dilation-1 pixels between its taps.",
    _output_size_right,
    hint="How many input pixels does a dilated kernel span from its first tap to its last? "
         "Put that span where k stood in the formula of section 1.",
    solution="span = dilation * (kernel - 1) + 1; return (size + 2 * padding - span) // stride + 1",
)


_CHAINS = (
    [(3, 1)],
    [(3, 1), (3, 1), (2, 2)],
    [(7, 2), (3, 2), (3, 1), (3, 1)],
    [(3, 2)] * 5,
    [(5, 1), (1, 1), (3, 2), (3, 2), (5, 1)],
)


_CHAIN_FIELDS = [_receptive_field(chain)[0] for chain in _CHAINS]  # computed before the course's function is blocked


def _receptive_field_right(answer) -> bool:
    for chain, expected in zip(_CHAINS, _CHAIN_FIELDS):
        got = answer(list(chain))
        size = got[0] if isinstance(got, (tuple, list)) else got
        if size != expected:
            return False
    return True


receptive_field = Exercise(
    "2.2",
    "Write receptive_field(layers) for a list of (kernel, stride) pairs: how many input "
    "pixels (per side) one unit of the last layer sees.",
    _receptive_field_right,
    hint="Keep two numbers as you walk through the layers: the field r and the jump j "
         "(the distance in input pixels between neighbouring units), both starting at 1.",
    solution="r, j = 1, 1\nfor k, s in layers:\n    r, j = r + (k - 1) * j, j * s\nreturn r",
    blocked=("course_utils.explanations.receptive_field.receptive_field",),
)


def _depthwise_right(answer) -> bool:
    generator = torch.Generator().manual_seed(2)
    for channels, kernel, stride, padding, size in ((1, 3, 1, 0, 8), (3, 3, 2, 1, 11), (5, 5, 1, 2, 9), (4, 1, 1, 0, 7)):
        x = torch.randn(2, channels, size, size, generator=generator)
        weight = torch.randn(channels, 1, kernel, kernel, generator=generator)
        expected = F.conv2d(x, weight, stride=stride, padding=padding, groups=channels)
        with _no_library_conv():  # F.unfold, as asked: not F.conv2d(..., groups=C)
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
    hint="Start from conv2d_unfold: F.unfold gives the same patches. Which of its rows belong "
         "to channel c, and which filter should meet them?",
    solution="n, c, h, w = x.shape; k = weight.shape[-1]\n"
             "cols = F.unfold(x, k, padding=padding, stride=stride).view(n, c, k * k, -1)\n"
             "out = (cols * weight.view(1, c, k * k, 1)).sum(2)\n"
             "return out.view(n, c, (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1)",
)


def _separable_right(answer) -> bool:
    standard, separable = answer
    return standard == 3 * 3 * 96 * 24 and separable == 3 * 3 * 96 + 96 * 24


depthwise_separable = Exercise(
    "2.4",
    "How many weights (no biases) has a 3x3 conv from 96 to 24 channels, and how many a "
    "depthwise 3x3 conv on 96 channels followed by a 1x1 conv from 96 to 24? Answer (standard, separable).",
    _separable_right,
    hint="Count the weights of one filter, then the number of filters, for each of the three convolutions.",
    solution="standard: 3*3*96 weights in each of 24 filters = 20736; separable: a depthwise 3x3 has "
             "one 3*3 filter per channel (864), the 1x1 has 96*24 (2304): 3168 in all.",
)

EXERCISES = (conv_output_size, receptive_field, depthwise_conv, depthwise_separable)
