import pytest
import torch
import torch.nn.functional as F

from course_utils.data.loaders import DeviceLoader
from course_utils.data.transforms import (
    Augment,
    ImageNetInput,
    Normalize,
    imagenet_preprocess,
    random_crop,
    random_hflip,
)


def test_random_crop_equals_per_image_reference():
    x = torch.rand(6, 2, 10, 12)
    generator = torch.Generator().manual_seed(1)
    out = random_crop(x, padding=3, generator=generator)
    shifts = torch.randint(0, 7, (2, 6), generator=torch.Generator().manual_seed(1))
    padded = F.pad(x, (3, 3, 3, 3))
    for i in range(6):
        top, left = shifts[0, i].item(), shifts[1, i].item()
        assert torch.equal(out[i], padded[i, :, top:top + 10, left:left + 12])


def test_hflip_flips_about_half():
    x = torch.arange(2 * 3 * 4 * 1000, dtype=torch.float).view(1000, 2, 3, 4)
    out = random_hflip(x)
    flipped = (out != x).flatten(1).any(1)
    assert torch.equal(out[flipped], x[flipped].flip(-1))
    assert 400 < flipped.sum() < 600


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "resnet18"])
def test_imagenet_preprocess_follows_the_backbone_convention(fashion_test, backbone):
    from course_utils.models.conventions import convention_for

    convention = convention_for(backbone)
    x = fashion_test.images[:4]
    out = imagenet_preprocess(x, backbone, size=56)
    assert out.shape == (4, 3, 56, 56)
    manual = F.interpolate(x.float() / 255, size=(56, 56), mode=convention.interpolation)
    manual = manual.expand(-1, 3, -1, -1)
    manual = (manual - torch.tensor(convention.mean).view(1, 3, 1, 1)) / torch.tensor(convention.std).view(1, 3, 1, 1)
    assert torch.allclose(out, manual, atol=1e-5)
    assert torch.allclose(Normalize.like(backbone)(x.float().expand(-1, 3, -1, -1) / 255),
                          imagenet_preprocess(x, backbone, size=None), atol=1e-6)
    assert torch.equal(ImageNetInput(56, backbone)(x), out)
    with pytest.raises(ValueError, match="expected 1 or 3 channels"):
        imagenet_preprocess(torch.rand(1, 4, 8, 8), backbone)


def test_the_two_conventions_differ_where_it_matters():
    """Lite0 (Google's TF weights) and ResNet18 (torchvision's) were trained with other inputs."""
    lite0, resnet = (imagenet_preprocess(torch.ones(1, 3, 4, 4), name, size=None) for name in
                     ("efficientnet_lite0", "resnet18"))
    assert torch.allclose(lite0, torch.ones_like(lite0))             # (1 - 0.5) / 0.5
    assert resnet[0, :, 0, 0].tolist() == pytest.approx([2.2489, 2.4286, 2.64], abs=1e-3)
    with pytest.raises(ValueError, match="carries no input_convention"):
        ImageNetInput(40, torch.nn.Linear(2, 2))


def test_device_loader_visits_each_example_once_per_epoch(fashion_test):
    images, labels = fashion_test.images[:1000], fashion_test.labels[:1000]
    loader = DeviceLoader(images, labels, batch_size=300, shuffle=True, augment=Augment(2), seed=5)
    assert len(loader) == 4
    epochs = []
    for _ in range(2):
        seen = torch.cat([y for _, y in loader])
        assert torch.equal(seen.sort().values, labels.sort().values)
        epochs.append(seen)
    assert not torch.equal(epochs[0], epochs[1])  # reshuffled
    x, _ = next(iter(loader))
    assert x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    same = DeviceLoader(images, labels, batch_size=300, shuffle=True, seed=5)
    assert torch.equal(torch.cat([y for _, y in same]), epochs[0])


def test_device_loader_order_batches_and_errors():
    images = torch.arange(10).view(10, 1, 1, 1).to(torch.uint8)
    loader = DeviceLoader(images, torch.arange(10), batch_size=4)
    assert [len(y) for _, y in loader] == [4, 4, 2]
    assert len(DeviceLoader(images, torch.arange(10), batch_size=4, drop_last=True)) == 2
    features = torch.randn(10, 3)
    x, _ = next(iter(DeviceLoader(features, torch.arange(10), batch_size=10)))
    assert torch.equal(x, features)  # float features pass through untouched
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        DeviceLoader(images, torch.arange(9))


def test_balanced_sampling_evens_out_an_imbalanced_real_split():
    from tests.conftest import medmnist_available

    if not medmnist_available():
        pytest.skip("MEDMNIST_DIR not set")
    from course_utils import load_medmnist

    train = load_medmnist("pneumoniamnist", "train")  # about 26% normal, 74% pneumonia
    loader = DeviceLoader.from_data(train, batch_size=512, balanced=True, seed=0)
    drawn = torch.cat([y for _, y in loader])
    assert len(drawn) == len(train)
    assert abs(drawn.float().mean().item() - 0.5) < 0.03  # each class about half
    plain = torch.cat([y for _, y in DeviceLoader.from_data(train, batch_size=512, shuffle=True)])
    assert abs(plain.float().mean().item() - train.labels.float().mean().item()) < 1e-6
    with pytest.raises(ValueError, match="one class label per example"):
        DeviceLoader(train.images[:4], torch.zeros(4, 2), balanced=True)
