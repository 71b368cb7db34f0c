"""The predictor artefact: a round trip in a fresh process, every kind of bad input, batches."""

import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils import FitConfig, load_backbone, replace_head
from course_utils.deployment import Predictor, artefact_path
from course_utils.deployment.inputs import InvalidImageError
from tests.deployment_helpers import needs_pneumonia, png_bytes, splits, trained_predictor

pytestmark = needs_pneumonia

ARCHITECTURE = {"backbone": "efficientnet_lite0", "num_classes": 2}
PREPROCESSING = {"channels": 1, "source_size": 28, "input_size": 40}

CHILD = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse                          # loading must not download anything
from course_utils.deployment import Predictor
predictor = Predictor.load(sys.argv[1])
results = predictor.predict(sys.argv[2:])
print(json.dumps({"version": predictor.version, "temperature": predictor.temperature,
                  "threshold": predictor.threshold, "metadata": predictor.metadata,
                  "results": [r.as_dict() for r in results]}))
"""


@pytest.fixture(scope="module")
def predictor():
    return trained_predictor()


@pytest.fixture
def files(tmp_path):
    test = splits()["test"]
    paths = []
    for i in range(4):
        path = tmp_path / f"test_{i}.png"
        path.write_bytes(png_bytes(test.images[i]))
        paths.append(path)
    return paths


def test_round_trip_in_a_fresh_process(predictor, files, tmp_path):
    path = predictor.save(tmp_path / "model.pt")
    raw = torch.load(path, weights_only=True)  # tensors and plain Python values only
    assert raw["predictor"]["classes"] == ["normal", "pneumonia"]
    assert raw["config"]["epochs"] == 1  # the training config travels with the weights
    child = subprocess.run([sys.executable, "-c", CHILD, str(path), *map(str, files)],
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    loaded = json.loads(child.stdout.strip().splitlines()[-1])
    assert loaded["version"] == predictor.version and loaded["metadata"] == predictor.metadata
    assert loaded["temperature"] == pytest.approx(predictor.temperature)
    assert loaded["threshold"] == pytest.approx(predictor.threshold)
    here = predictor.predict([str(f) for f in files])
    for mine, theirs in zip(here, loaded["results"]):
        assert theirs["label"] == mine.label
        for entry in theirs["top"]:
            assert entry["probability"] == pytest.approx(mine.probabilities[entry["class"]], abs=1e-5)


def test_lesson07_contract_call(tmp_path, monkeypatch):
    """The exact call lesson 07 makes: metadata with a FitConfig, saved at artefact_path."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    model = replace_head(load_backbone("efficientnet_lite0", pretrained=False), 2)
    metadata = {"training": asdict(FitConfig(epochs=3, lr=1e-3, backbone_lr=1e-4)),
                "data": {"name": "PneumoniaMNIST", "splits": {"train": 4708, "val": 524, "test": 624}},
                "metrics": {"auc": [0.97, 0.96, 0.98]}, "intended_use": "teaching",
                "limitations": ["28 px"], "created_by": "notebooks/07_medical_case_study.ipynb"}
    predictor = Predictor(model=model, architecture=ARCHITECTURE, preprocessing=PREPROCESSING,
                          classes=["normal", "pneumonia"], version="1.0.0", temperature=1.3,
                          threshold=0.42, metadata=metadata)
    path = predictor.save(artefact_path("pneumoniamnist", "1.0.0"))
    assert path == tmp_path / "artefacts" / "pneumoniamnist-v1.0.0.pt"
    loaded = Predictor.load(path)
    assert (loaded.temperature, loaded.threshold, loaded.metadata) == (1.3, 0.42, metadata)
    x = splits()["test"].images[:8]
    assert torch.allclose(loaded.logits(x), predictor.logits(x), atol=1e-6)


def test_every_input_form_gives_the_same_answer(predictor):
    image = splits()["test"].images[0]  # (1, 28, 28) uint8
    forms = {
        "uint8 tensor": image,
        "float tensor": image.float() / 255,
        "(H, W) tensor": image[0],
        "RGB tensor": image.expand(3, -1, -1),
        "PIL image": Image.fromarray(image[0].numpy()),
        "NumPy (H, W, 1)": image.permute(1, 2, 0).numpy(),
        "PNG bytes": png_bytes(image),
    }
    reference = predictor.predict(image).probabilities
    for name, form in forms.items():
        got = predictor.predict(form).probabilities
        assert got == pytest.approx(reference, abs=1e-6), name
    wider = torch.nn.functional.pad(image, (7, 7), value=255)  # 28 x 42: the centre crop is the image
    assert predictor.predict(wider).probabilities == pytest.approx(reference, abs=1e-6)
    bigger = torch.nn.functional.interpolate(image[None].float(), size=(56, 56), mode="nearest")[0]
    assert predictor.predict(bigger.to(torch.uint8)).probabilities == pytest.approx(reference, abs=0.05)


def _bad_inputs(tmp_path):
    good = png_bytes(splits()["test"].images[0])
    (tmp_path / "notes.png").write_text("this is not an image")
    (tmp_path / "half.png").write_bytes(good[: len(good) // 2])
    (tmp_path / "thumb.png").write_bytes(png_bytes(torch.zeros(1, 8, 8, dtype=torch.uint8)))
    nan = torch.rand(1, 28, 28)
    nan[0, 3, 4] = float("nan")
    return {
        "not an image": (tmp_path / "notes.png", "notes.png: is not an image"),
        "truncated file": (tmp_path / "half.png", "half.png: is truncated or corrupt"),
        "wrong number of channels": (torch.zeros(4, 28, 28, dtype=torch.uint8), "has 4 channels"),
        "two channels": (torch.zeros(2, 28, 28), "has 2 channels"),
        "too small": (tmp_path / "thumb.png", "thumb.png: is 8x8 pixels; the model needs at least 28x28"),
        "NaN values": (nan, "contains 1 NaN"),
        "infinite values": (torch.full((1, 28, 28), float("inf")), "784 infinite"),
        "floats out of range": (torch.full((1, 28, 28), 200.0), "float values from 200 to 200"),
        "missing file": (tmp_path / "absent.png", "absent.png: no such file"),
        "empty upload": (b"", "is empty"),
        "wrong type": ({"pixels": 1}, "is a dict"),
        "wrong shape": (torch.zeros(1, 1, 1, 28, 28), "has shape (1, 1, 1, 28, 28)"),
    }


def test_bad_inputs_get_clear_errors_naming_them(predictor, tmp_path):
    for case, (item, message) in _bad_inputs(tmp_path).items():
        with pytest.raises(InvalidImageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            predictor.predict(item)
        assert case  # every case above raised


def test_channels_last_hint():
    with pytest.raises(InvalidImageError, match=r"channels last\? use image.permute"):
        Predictor(replace_head(load_backbone(pretrained=False), 2), ARCHITECTURE, PREPROCESSING,
                  ["a", "b"], "1.0.0").predict(torch.full((28, 28, 3), 0.5), names=["x"])


def test_a_bad_file_in_a_batch_keeps_the_others(predictor, files, tmp_path):
    (tmp_path / "broken.png").write_bytes(files[0].read_bytes()[:100])
    batch = [files[0], tmp_path / "broken.png", files[1]]
    with pytest.warns(UserWarning, match="1 of 3 inputs could not be read"):
        results = predictor.predict(batch)
    assert [r.ok for r in results] == [True, False, True]
    assert "broken.png" in results[1].error and results[1].label is None
    for result, path in zip((results[0], results[2]), (files[0], files[1])):
        assert result.probabilities == pytest.approx(predictor.predict(path).probabilities, abs=1e-6)
    with pytest.raises(InvalidImageError, match="broken.png"):
        predictor.predict(batch, strict=True)
    stack = torch.stack([splits()["test"].images[0].float() / 255] * 3)
    stack[1, 0, 0, 0] = float("nan")
    with pytest.warns(UserWarning):
        assert [r.ok for r in predictor.predict(stack)] == [True, False, True]


def test_decision_uses_temperature_and_threshold(predictor):
    images = splits()["test"].images[:64]
    logits = predictor.logits(images)
    probs = (logits / predictor.temperature).softmax(1)
    assert torch.allclose(predictor.probabilities(images), probs, atol=1e-6)
    expected = (probs[:, 1] >= predictor.threshold).long()
    results = predictor.predict(images)
    assert [predictor.classes.index(r.label) for r in results] == expected.tolist()
    assert all(list(r.probabilities.values()) == sorted(r.probabilities.values(), reverse=True) for r in results)


def test_construction_and_save_refuse_inconsistent_artefacts(tmp_path):
    model = replace_head(load_backbone(pretrained=False), 2)
    fields = {"model": model, "architecture": ARCHITECTURE, "preprocessing": PREPROCESSING,
              "classes": ["normal", "pneumonia"], "version": "1.0.0"}
    for change, message in [({"version": "v1"}, "MAJOR.MINOR.PATCH"),
                            ({"classes": ["a", "b", "c"]}, "3 class names but architecture says num_classes=2"),
                            ({"temperature": 0.0}, "temperature must be positive"),
                            ({"threshold": 1.5}, "threshold needs exactly 2 classes"),
                            ({"metadata": {"when": object()}}, "JSON-able"),
                            ({"preprocessing": {"channels": 1}}, "preprocessing needs 'source_size'")]:
        with pytest.raises(ValueError, match=message):
            Predictor(**(fields | change))
    wrong = Predictor(**(fields | {"architecture": {"backbone": "resnet18", "num_classes": 2}}))
    with pytest.raises(ValueError, match="does not match architecture"):
        wrong.save(tmp_path / "wrong.pt")
    torch.save({"model": {}}, tmp_path / "plain.pt")
    with pytest.raises(ValueError, match="not a predictor artefact"):
        Predictor.load(tmp_path / "plain.pt")


def test_dropout_head_is_recorded_and_rebuilt(tmp_path):
    model = replace_head(load_backbone(pretrained=False), 2, dropout=0.2)
    predictor = Predictor(model, ARCHITECTURE, PREPROCESSING, ["a", "b"], "1.0.0")
    assert predictor.architecture["head_dropout"] == 0.2
    loaded = Predictor.load(predictor.save(tmp_path / "dropout.pt"))
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    assert torch.allclose(loaded.logits(x), predictor.logits(x), atol=1e-6)


def test_numpy_rgb_arrays_are_read_channels_last(predictor):
    image = splits()["test"].images[1]
    rgb = np.repeat(image.permute(1, 2, 0).numpy(), 3, axis=2)  # (28, 28, 3)
    assert predictor.predict(rgb).probabilities == pytest.approx(predictor.predict(image).probabilities, abs=1e-6)


def test_the_backbone_convention_travels_with_the_file(predictor, tmp_path):
    """The artefact records the normalisation the backbone was trained with, and uses it."""
    from course_utils.models.conventions import convention_for

    path = predictor.save(tmp_path / "model.pt")
    recorded = torch.load(path, weights_only=True)["predictor"]["preprocessing"]["convention"]
    assert recorded["mean"] == [0.5, 0.5, 0.5] == list(convention_for("efficientnet_lite0").mean)
    assert Predictor.load(path).network[0].convention == convention_for("efficientnet_lite0")
    # an artefact of the earlier format assumed ImageNet mean/std: refused with the reason
    raw = torch.load(path, weights_only=True)
    raw["predictor"]["format"] = "course_utils.predictor/1"
    torch.save(raw, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="format /1.*rebuild it"):
        Predictor.load(tmp_path / "old.pt")
