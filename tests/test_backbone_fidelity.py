"""The pretrained backbones run as their weights were trained: architecture and preprocessing.

The Lite weights are a port of Google's TensorFlow checkpoints. They load strictly, shape for
shape, into timm's PyTorch-style ``efficientnet_lite0`` too, and still recognise a cat there, so
only a test of the trained *function* tells the two apart. These tests failed on the course's
earlier configuration (``efficientnet_lite0`` fed ImageNet mean/std).
"""

import pytest
import torch
from PIL import Image

from course_utils.data.datasets import load_photos
from course_utils.data.transforms import imagenet_preprocess
from course_utils.evaluation.zero_shot import (
    PHOTO_CLASSES,
    mean_log_likelihood,
    right_class_probability,
)
from course_utils.models.backbones import IMAGENET_CLASSES, _lite_weight_file, load_backbone
from course_utils.models.conventions import input_convention
from course_utils.models.misconfigured import IMAGENET_STATISTICS, lite0_with_pytorch_padding


def timm_reference(size: int) -> torch.nn.Module:
    """timm's own tf_efficientnet_lite{size}, loaded from the same file without course code."""
    import timm

    model = timm.create_model(f"tf_efficientnet_lite{size}", pretrained=False).eval()
    source = torch.load(_lite_weight_file(size), map_location="cpu", weights_only=True)
    model.load_state_dict(dict(zip(model.state_dict(), source.values())), strict=True)
    return model


@pytest.mark.parametrize("size", [0, 1, 2])
def test_lite_logits_match_timm_with_its_own_data_config(size):
    """Same file, timm's architecture and timm's transform: the same logits as the course's."""
    import skimage.data
    import timm.data

    course = load_backbone(f"efficientnet_lite{size}")
    reference = timm_reference(size)
    config = timm.data.resolve_data_config({}, model=reference)
    transform = timm.data.create_transform(**config)
    photo = Image.fromarray(skimage.data.chelsea())
    expected = reference(transform(photo)[None])
    convention = input_convention(course)
    mine = course(imagenet_preprocess(load_photos(("chelsea",), config["input_size"][-1], convention),
                                      course, size=None))
    assert (convention.mean, convention.std) == (config["mean"], config["std"])
    assert (convention.interpolation, convention.crop_pct) == (config["interpolation"], config["crop_pct"])
    assert torch.allclose(mine, expected, atol=1e-4, rtol=1e-4), (mine - expected).abs().max()
    assert IMAGENET_CLASSES[int(mine.argmax())] in PHOTO_CLASSES["chelsea"]


def test_lite0_as_trained_is_confident_on_unambiguous_photos(lite0):
    """Measured: 0.794 (nll 0.337) as trained; 0.753 (0.406) with the earlier architecture and
    constants, 0.734 with the wrong padding alone, 0.762 (0.376) with the wrong normalisation alone."""
    p = right_class_probability(lite0)
    assert p.mean() > 0.78 and mean_log_likelihood(p) > -0.36, (p.mean(), mean_log_likelihood(p))


def test_fidelity_test_fails_on_the_earlier_configuration(lite0):
    """The control: the same check on the functions the course used to run, or half-fixed, must fail."""
    pytorch_padding = lite0_with_pytorch_padding()
    for model, convention in ((pytorch_padding, IMAGENET_STATISTICS), (pytorch_padding, None),
                              (lite0, IMAGENET_STATISTICS)):
        p = right_class_probability(model, convention)
        assert not (p.mean() > 0.78 and mean_log_likelihood(p) > -0.36), (model, convention)


def test_mobilenet_v2_is_torchvisions_file_and_recognises_photos():
    from torchvision.models import MobileNet_V2_Weights

    from course_utils.models.backbones import WeightsUnavailableError

    try:
        model = load_backbone("mobilenet_v2")
    except WeightsUnavailableError as error:
        pytest.skip(f"MobileNetV2 weights not in the kit here: {error}")
    assert input_convention(model).mean == tuple(MobileNet_V2_Weights.IMAGENET1K_V1.transforms().mean)
    p = right_class_probability(model)
    assert p.mean() > 0.6, p.mean()
