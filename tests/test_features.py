import torch

from course_utils.data.transforms import ImageNetInput
from course_utils.models.features import extract_features, headless
from course_utils.paths import cache_dir


def test_features_equal_the_headless_forward_and_are_cached(lite0, fashion_test):
    images = fashion_test.images[:40]
    features = extract_features(lite0, images, ImageNetInput(64, lite0), batch_size=16)
    assert features.shape == (40, 1280)
    with torch.no_grad(), headless(lite0):
        direct = lite0(ImageNetInput(64, lite0)(images.float() / 255))
    assert torch.allclose(features, direct, atol=1e-4)
    assert lite0.classifier.out_features == 1000  # head restored
    cached = list(cache_dir().glob("features-*.pt"))
    assert len(cached) == 1
    assert torch.equal(extract_features(lite0, images, ImageNetInput(64, lite0)), features)
    extract_features(lite0, images, ImageNetInput(32, lite0))  # another transform, another entry
    assert len(list(cache_dir().glob("features-*.pt"))) == 2
