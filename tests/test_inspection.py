"""course_utils.explanations.inspection: stage hooks, per-stage pooled features, filter images, feature-map plots.

The ``lite0`` fixture (pretrained EfficientNet-Lite0) comes from conftest.py."""

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
import torch.nn as nn

from course_utils.data.datasets import load_photos
from course_utils.data.transforms import ImageNetInput, imagenet_preprocess
from course_utils.explanations.inspection import (
    filter_images,
    plot_feature_maps,
    plot_stage_maps,
    pooled_stage_features,
    show_feature_maps,
    stage_feature_maps,
    stage_outputs,
    strongest_channels,
)
from course_utils.models.backbones import SmallCNN
from course_utils.models.features import extract_features
from course_utils.models.surgery import stages


def _hook_count(model: nn.Module) -> int:
    return sum(len(m._forward_hooks) for m in model.modules())


def test_stage_outputs_catches_each_stage_and_removes_hooks():
    net = SmallCNN().eval()
    with stage_outputs(net) as outputs:
        assert _hook_count(net) == 3
        logits = net(torch.rand(2, 1, 28, 28))
    assert _hook_count(net) == 0
    assert sorted(outputs) == [0, 1, 2]
    assert [tuple(o.shape) for o in outputs.values()] == [(2, 32, 14, 14), (2, 64, 7, 7), (2, 128, 3, 3)]
    # the last stage output, pooled, is what the head sees
    expected = net.classifier(outputs[2].mean(dim=(2, 3)))
    assert torch.allclose(logits, expected, atol=1e-5)


def test_stage_outputs_removes_hooks_when_forward_fails():
    net = SmallCNN()
    with pytest.raises(RuntimeError):
        with stage_outputs(net, [1]):
            net(torch.rand(2, 3, 28, 28))  # wrong number of channels
    assert _hook_count(net) == 0


def test_stage_feature_maps_on_real_photos(lite0):
    x = imagenet_preprocess(load_photos(("chelsea",), size=224), lite0, size=None)
    maps = stage_feature_maps(lite0, x)
    assert len(maps) == len(stages(lite0)) == 9
    assert [m.shape[-1] for m in maps] == [112, 112, 56, 28, 14, 14, 7, 7, 7]
    assert [m.shape[1] for m in maps] == [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    assert not lite0.training and _hook_count(lite0) == 0
    # the last stage of the real model still classifies the cat as a cat
    logits = lite0.classifier(maps[-1].mean(dim=(2, 3)))
    assert 281 <= logits.argmax().item() <= 285  # tabby, tiger cat, Persian, Siamese, Egyptian cat


def test_pooled_last_stage_equals_extract_features(lite0):
    photos = load_photos(("chelsea", "coffee", "rocket"), size=64)
    per_stage = pooled_stage_features(lite0, photos, ImageNetInput(64, lite0), batch_size=2)
    assert [f.shape for f in per_stage][0] == (3, 32)
    pooled = extract_features(lite0, photos, ImageNetInput(64, lite0), cache=False)
    assert torch.allclose(per_stage[-1], pooled, atol=1e-4)


def test_pooled_stage_features_picks_stages_and_keeps_train_mode():
    net = SmallCNN().train()
    feats = pooled_stage_features(net, torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8), indices=[2, 0])
    assert [tuple(f.shape) for f in feats] == [(5, 32), (5, 128)]  # in stage order
    assert net.training


def test_filter_images_rescales_each_filter_to_unit_range(lite0):
    images = filter_images(lite0.conv_stem.weight)
    assert images.shape == (32, 3, 3, 3)
    assert images.amin().item() == 0.0 and images.amax().item() == 1.0
    per_filter_max = images.amax(dim=(1, 2, 3))
    constant = lite0.conv_stem.weight.flatten(1).std(dim=1) == 0
    assert torch.all(per_filter_max[~constant] == 1.0)
    assert torch.all(filter_images(torch.ones(2, 1, 3, 3)) == 0.5)


def test_strongest_channels_and_plot():
    maps = torch.zeros(10, 4, 4)
    maps[7] = 3.0
    maps[2] = 1.0
    assert strongest_channels(maps, n=2).tolist() == [7, 2]
    with pytest.raises(ValueError):
        strongest_channels(torch.zeros(1, 10, 4, 4))
    fig = plot_feature_maps(maps, n=6, ncols=4)
    assert sum(1 for ax in fig.axes if ax.images) == 6


def test_show_feature_maps_returns_one_images_maps(lite0):
    photo = load_photos(("coffee",), size=64)[0]
    maps, fig = show_feature_maps(lite0, photo, stage=3, transform=ImageNetInput(64, lite0), n=8)
    assert tuple(maps.shape) == (40, 8, 8)
    assert sum(1 for ax in fig.axes if ax.images) == 9  # the input and 8 channels
    assert _hook_count(lite0) == 0
    expected = stage_feature_maps(lite0, imagenet_preprocess(photo[None], lite0, size=64), [3])[0][0]
    assert torch.allclose(maps, expected)


def test_plot_stage_maps_draws_a_row_per_stage():
    maps = [torch.rand(12, 8, 8), torch.rand(30, 4, 4)]
    fig = plot_stage_maps(torch.rand(3, 16, 16), maps, ["early", "late"], n=5)
    assert sum(1 for ax in fig.axes if ax.images) == 2 * (1 + 5)
