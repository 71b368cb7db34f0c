"""course_utils.explanations.receptive_field: the formula, the layer walk, and the gradient measurement agree."""

import pytest
import torch
import torch.nn as nn

from course_utils.explanations.receptive_field import (
    conv_chain,
    measured_receptive_field,
    receptive_field,
)
from course_utils.models.backbones import SmallCNN
from course_utils.models.surgery import stages


def test_formula_on_known_stacks():
    assert receptive_field([]) == (1, 1)
    assert receptive_field([(3, 1)] * 3) == (7, 1)  # three 3x3 convs see 7x7 (VGG's argument)
    assert receptive_field([(7, 2), (3, 2)]) == (11, 4)
    with pytest.raises(ValueError):
        receptive_field([(0, 1)])


def test_conv_chain_reads_kernels_strides_and_dilation():
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, dilation=2),
                        nn.MaxPool2d(2), nn.AvgPool2d(3, stride=1))
    assert conv_chain(net) == [(3, 1), (5, 1), (2, 2), (3, 1)]


def test_measured_equals_formula_on_small_cnn():
    torch.manual_seed(0)
    net = SmallCNN()
    for stage in range(2):
        theory = receptive_field(conv_chain(nn.Sequential(*stages(net)[:stage + 1])))[0]
        assert measured_receptive_field(net, stage, size=28, in_channels=1) == theory
    # the third stage sees more than the 28 px input: the measurement is capped at the input
    assert measured_receptive_field(net, 2, size=28, in_channels=1) == 28
    assert all(p.grad is None for p in net.parameters())  # measuring leaves no gradients behind


def test_measured_equals_formula_on_pretrained_lite0(lite0):
    model = lite0
    all_stages = stages(model)
    for stage in (0, 2, 3):
        theory = receptive_field(conv_chain(nn.Sequential(*all_stages[:stage + 1])))[0]
        assert measured_receptive_field(model, stage, size=96) == theory
    assert not model.training
