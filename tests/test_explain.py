"""Grad-CAM by hand against captum, hooks that always go away, and the sanity-check helpers."""

import matplotlib
import pytest
import scipy.stats
import torch
import torch.nn as nn
from captum.attr import (
    GuidedBackprop,
    LayerAttribution,
    LayerGradCam,
    LayerGradientXActivation,
    Saliency,
)

from course_utils import IMAGENET_CLASSES, SmallCNN, load_photos
from course_utils.data.transforms import Normalize
from course_utils.explanations.explain import (
    GradCAM,
    HiResCAM,
    average_ranks,
    cascading_randomization,
    hookable,
    normalize_maps,
    overlay,
    randomize_,
    rank_correlation,
    record,
    resolve_target,
    show_maps,
    split_relu6,
    upsample_maps,
)
from course_utils.models.surgery import stages

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def photos():
    """Two real photos (a cat, a cup of espresso) as [0, 1] floats, 128 px."""
    return load_photos(("chelsea", "coffee"), size=128).float() / 255


@pytest.fixture()
def pixel_lite0(lite0):
    """The ImageNet backbone taking [0, 1] pixels, as in the lesson."""
    return nn.Sequential(Normalize.like(lite0), lite0).eval()


@pytest.fixture()
def small_cnn():
    torch.manual_seed(0)
    return SmallCNN(in_channels=1, num_classes=10).eval()


@pytest.fixture()
def garments(fashion_test):
    return fashion_test.images[:16].float() / 255


def hooks_left(module: nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks)
               for m in module.modules())


def captum_gradcam(model, layer, images, target, size=None):
    maps = LayerGradCam(model, hookable(layer)).attribute(images, target=target, relu_attributions=True)
    return LayerAttribution.interpolate(maps, size, "bilinear") if size else maps


# ---------------------------------------------------------------- agreement with captum

@pytest.mark.parametrize("stage", [0, 1, 2])
def test_gradcam_matches_captum_on_small_cnn(small_cnn, garments, stage):
    layer = small_cnn.stages[stage]
    target = torch.arange(len(garments)) % 10
    mine = GradCAM(small_cnn, layer).attribute(garments, target, upsample=False)
    reference = captum_gradcam(small_cnn, layer, garments, target)
    assert mine.shape == reference.shape == (16, 1, 28 >> (stage + 1), 28 >> (stage + 1))
    assert reference.abs().max() > 0
    torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-6)
    # upsampled like with like: bilinear, align_corners=False on both sides
    torch.testing.assert_close(GradCAM(small_cnn, layer).attribute(garments, target),
                               captum_gradcam(small_cnn, layer, garments, target, (28, 28)),
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("stage", [0, 4, -1])  # the stem (a ModuleList), a block, the head conv
def test_gradcam_matches_captum_on_lite0_photos(pixel_lite0, photos, stage):
    layer = stages(pixel_lite0[1])[stage]
    predicted = pixel_lite0(photos).argmax(1)
    assert [IMAGENET_CLASSES[k] for k in predicted] == ["Egyptian cat", "espresso"]
    for target in (predicted, IMAGENET_CLASSES.index("tabby")):
        mine = GradCAM(pixel_lite0, layer).attribute(photos, target)
        reference = captum_gradcam(pixel_lite0, layer, photos, target, (128, 128))
        assert reference.abs().max() > 0
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-5 * reference.abs().max().item())


def test_hirescam_matches_captum_gradient_times_activation(small_cnn, garments):
    layer = small_cnn.stages[1]
    target = torch.arange(len(garments)) % 10
    mine = HiResCAM(small_cnn, layer).attribute(garments, target, upsample=False)
    products = LayerGradientXActivation(small_cnn, layer).attribute(garments, target=target)
    torch.testing.assert_close(mine, products.sum(1, keepdim=True).clamp(min=0), rtol=1e-4, atol=1e-6)
    assert not torch.allclose(mine, GradCAM(small_cnn, layer).attribute(garments, target, upsample=False))


def test_gradcam_is_cam_before_global_pooling(small_cnn, garments):
    """Last stage -> global average pool -> linear: the gradient is W[c] / (h w) everywhere."""
    target = 4
    activations = small_cnn.stages(garments)  # (B, 128, 3, 3)
    weights = small_cnn.classifier[-1].weight[target]  # (128,)
    cam = torch.einsum("k,bkij->bij", weights, activations).clamp(min=0)[:, None] / 9
    torch.testing.assert_close(
        GradCAM(small_cnn, small_cnn.stages[-1]).attribute(garments, target, upsample=False),
        cam.detach(), rtol=1e-4, atol=1e-6)
    # the gradient is the same at every position, so HiResCAM agrees there too
    torch.testing.assert_close(
        HiResCAM(small_cnn, small_cnn.stages[-1]).attribute(garments, target, upsample=False),
        cam.detach(), rtol=1e-4, atol=1e-6)


def test_relu_flag_keeps_negative_evidence(small_cnn, garments):
    cam = GradCAM(small_cnn, small_cnn.stages[1])
    signed = cam.attribute(garments, 3, upsample=False, relu=False)
    assert signed.min() < 0
    torch.testing.assert_close(cam.attribute(garments, 3, upsample=False), signed.clamp(min=0))


def test_each_example_gets_its_own_map(small_cnn, garments):
    cam = GradCAM(small_cnn, small_cnn.stages[1])
    target = torch.arange(4)
    batch = cam.attribute(garments[:4], target)
    one_by_one = torch.cat([cam.attribute(garments[i:i + 1], int(target[i])) for i in range(4)])
    torch.testing.assert_close(batch, one_by_one, rtol=1e-4, atol=1e-6)


def test_default_target_is_the_prediction(small_cnn, garments):
    cam = GradCAM(small_cnn, small_cnn.stages[1])
    predicted = small_cnn(garments).argmax(1)
    torch.testing.assert_close(cam.attribute(garments), cam.attribute(garments, predicted))
    assert resolve_target(torch.zeros(3, 5), 2).tolist() == [2, 2, 2]


# ---------------------------------------------------------------- hooks and side effects

def test_hooks_are_released_after_use(small_cnn, garments):
    GradCAM(small_cnn, small_cnn.stages[2]).attribute(garments)
    assert hooks_left(small_cnn) == 0


def test_hooks_are_released_after_an_exception(small_cnn, garments):
    layer = small_cnn.stages[1]
    with pytest.raises(KeyError):
        with record(layer):
            assert len(layer._forward_hooks) == 1  # the hook is really there inside the block
            raise KeyError("something failed inside the block")
    assert hooks_left(small_cnn) == 0
    with pytest.raises(RuntimeError):  # class 99 does not exist: gather fails mid-attribution
        GradCAM(small_cnn, layer).attribute(garments, target=99)
    assert hooks_left(small_cnn) == 0


def test_hooks_on_a_module_list_stage_are_released(pixel_lite0, photos):
    stem = stages(pixel_lite0[1])[0]  # ModuleList([conv_stem, bn1]): the hook goes on bn1
    assert hookable(stem) is pixel_lite0[1].bn1
    with pytest.raises(ValueError):
        with record(stem):
            assert len(pixel_lite0[1].bn1._forward_hooks) == 1
            raise ValueError("boom")
    assert hooks_left(pixel_lite0) == 0


def test_layer_outside_the_model_is_an_error(small_cnn, garments):
    with pytest.raises(RuntimeError, match="not called"):
        GradCAM(small_cnn, nn.Conv2d(1, 1, 1)).attribute(garments)


def test_attribute_restores_mode_and_leaves_parameter_grads(small_cnn, garments):
    small_cnn.train()
    for p in small_cnn.parameters():
        p.requires_grad_(False)  # a frozen model still has a Grad-CAM
    maps = GradCAM(small_cnn, small_cnn.stages[1]).attribute(garments)
    assert small_cnn.training and maps.abs().max() > 0
    assert all(p.grad is None for p in small_cnn.parameters())


# ---------------------------------------------------------------- maps for the eye

def test_upsample_and_normalize():
    maps = torch.tensor([[[[0.0, 1.0], [2.0, 4.0]]]])
    assert upsample_maps(maps, (8, 8)).shape == (1, 1, 8, 8)
    unit = normalize_maps(maps)
    assert unit.max() == 1 and unit.min() == 0
    attributions = torch.randn(2, 3, 5, 5)  # signed, colour: abs-summed over channels
    shown = normalize_maps(attributions, quantile=0.9)
    assert shown.shape == (2, 1, 5, 5) and shown.max() == 1 and shown.min() >= 0


def test_overlay_and_show_maps(photos):
    picture = overlay(photos[0], torch.rand(128, 128), alpha=0.4)
    assert picture.shape == (128, 128, 3) and picture.min() >= 0 and picture.max() <= 1
    gray = overlay(torch.rand(1, 28, 28), torch.rand(1, 28, 28))
    assert gray.shape == (28, 28, 3)
    fig = show_maps(photos, {"a": torch.rand(2, 1, 128, 128), "b": torch.randn(2, 3, 128, 128)},
                    row_titles=["cat", "cup"])
    assert len(fig.axes) == 6


# ---------------------------------------------------------------- sanity check helpers

def test_rank_correlation_matches_scipy_with_ties():
    torch.manual_seed(1)
    a = torch.randn(3, 50).clamp(min=0)  # about half zeros: many ties, like ReLU maps
    b = a + 0.5 * torch.randn(3, 50)
    mine = rank_correlation(a, b)
    reference = [scipy.stats.spearmanr(x.numpy(), y.numpy()).statistic for x, y in zip(a, b)]
    torch.testing.assert_close(mine, torch.tensor(reference, dtype=torch.float32), rtol=1e-5, atol=1e-6)
    values = torch.tensor([3.0, 1.0, 3.0, 2.0])
    assert average_ranks(values).tolist() == scipy.stats.rankdata(values.numpy()).tolist()
    constant = torch.zeros(1, 50)  # an all-zero Grad-CAM: no ordering, similarity 0
    assert rank_correlation(constant, b[:1]).item() == 0.0


def test_randomize_is_seeded_and_changes_weights():
    torch.manual_seed(0)
    a, b = nn.Linear(8, 4), nn.Linear(8, 4)
    before = a.weight.clone()
    randomize_(a, seed=3)
    randomize_(b, seed=3)
    assert torch.equal(a.weight, b.weight) and not torch.equal(a.weight, before)


def test_cascading_randomization_lowers_gradcam_similarity(pixel_lite0, photos):
    target = pixel_lite0(photos).argmax(1)
    weights_before = {k: v.clone() for k, v in pixel_lite0.state_dict().items()}

    def gradcam(model):
        return GradCAM(model, model[1].bn2).attribute(photos, target)

    similarity = []  # (seed, step): mean over the photos
    for seed in range(3):  # one random draw is noisy: average three
        steps = cascading_randomization(pixel_lite0, ["1.classifier", ("1.conv_head", "1.bn2")],
                                        gradcam, seed=seed)
        assert [name for name, _ in steps] == ["original", "1.classifier", "1.conv_head + 1.bn2"]
        original = steps[0][1]
        similarity.append([rank_correlation(original, maps).mean().item() for _, maps in steps])
    torch.testing.assert_close(original, gradcam(pixel_lite0))
    similarity = torch.tensor(similarity)
    assert torch.allclose(similarity[:, 0], torch.ones(3))
    assert similarity[:, 1:].mean() < 0.4, similarity  # measured: about 0.0
    for key, value in pixel_lite0.state_dict().items():  # the original model is untouched
        assert torch.equal(value, weights_before[key]), key


# ---------------------------------------------------------------- guided backpropagation and ReLU6

@pytest.mark.filterwarnings("ignore:Input Tensor:UserWarning", "ignore:Setting backward hooks:UserWarning")
def test_split_relu6_keeps_outputs_and_enables_guided_backprop(pixel_lite0, photos):
    x = photos[:1]
    split = split_relu6(pixel_lite0)
    assert not any(isinstance(m, nn.ReLU6) for m in split.modules())
    torch.testing.assert_close(split(x), pixel_lite0(x))
    target = 285
    plain = Saliency(pixel_lite0).attribute(x, target=target, abs=False)
    # the trap: captum finds no nn.ReLU in Lite0, so "guided" backprop is the plain gradient
    torch.testing.assert_close(GuidedBackprop(pixel_lite0).attribute(x, target=target), plain)
    guided = GuidedBackprop(split).attribute(x, target=target)
    assert rank_correlation(guided.abs(), plain.abs()).item() < 0.9
    assert hooks_left(split) == 0 and hooks_left(pixel_lite0) == 0


def test_gradcam_restores_every_module_mode():
    """A model training with one stage held in eval mode (as a frozen block would be) keeps
    each module's own mode after Grad-CAM, not one flag copied to every module."""
    model = SmallCNN().train()
    stages(model)[0].eval()
    before = {name: m.training for name, m in model.named_modules()}
    assert not all(before.values()) and any(before.values())  # mixed modes to begin with
    GradCAM(model, stages(model)[-1]).attribute(torch.rand(2, 1, 28, 28))
    assert {name: m.training for name, m in model.named_modules()} == before
