"""Re-transfer v1 -> v2 (lineage, v1 untouched), the registry's promotions and rollback, the model card."""

import pytest
import torch

from course_utils.data.datasets import LabeledImages
from course_utils.deployment import Predictor
from course_utils.deployment.card import model_card, write_model_card
from course_utils.deployment.registry import ArtefactRegistry
from course_utils.deployment.retrain import bump, concat, retransfer, scores
from course_utils.deployment.shift import scanner_shift
from tests.deployment_helpers import needs_pneumonia, splits, trained_predictor

pytestmark = needs_pneumonia


@pytest.fixture(scope="module")
def v1():
    return trained_predictor()


@pytest.fixture(scope="module")
def v2(v1):
    train = splits()["train"]
    new = train.subset(slice(0, 16))
    new = LabeledImages(scanner_shift(new.images, seed=5), new.labels, new.classes)
    return retransfer(v1, new, replay=train.subset(slice(100, 116)), epochs=1, batch_size=16)


def test_retransfer_makes_a_new_version_and_leaves_v1_alone(v1, v2):
    assert (v1.version, v2.version) == ("1.0.0", "2.0.0")
    assert v2.metadata["lineage"][-1] | {"config": None, "final_train_loss": None} == {
        "parent": "1.0.0", "new_images": 16, "replay_images": 16, "config": None, "final_train_loss": None}
    assert v2.metadata["metrics"] == v1.metadata["metrics"]  # inherited, and the card says from where
    assert (v2.temperature, v2.threshold) == (v1.temperature, v1.threshold)
    x = splits()["test"].images[:32]
    assert not torch.allclose(v1.logits(x), v2.logits(x))
    assert v1.model is not v2.model and not v1.model.training and not v2.model.training


def test_scores_on_real_test_images(v1):
    test = splits()["test"]
    result = scores(v1, test)
    probs = v1.probabilities(test.images)
    assert result["accuracy"] == pytest.approx((v1.decide(probs) == test.labels).float().mean().item())
    assert 0.7 < result["auc"] <= 1.0


def test_registry_promotes_and_rolls_back(v1, v2, tmp_path):
    registry = ArtefactRegistry(tmp_path, "pneumoniamnist")
    with pytest.raises(LookupError, match="no version"):
        registry.current()
    registry.register(v1)
    registry.promote("1.0.0", "first release")
    with pytest.raises(LookupError, match="nothing to roll back to"):
        registry.rollback()
    registry.register(v2)
    with pytest.raises(FileExistsError, match="immutable"):
        registry.register(v2)
    with pytest.raises(ValueError, match="3.0.0 is not registered"):
        registry.promote("3.0.0")
    registry.promote("2.0.0", "new scanner")
    assert registry.versions() == ["1.0.0", "2.0.0"] and registry.current() == "2.0.0"
    assert registry.rollback("v2 misbehaves") == "1.0.0"
    assert registry.current() == "1.0.0" and registry.load().version == "1.0.0"
    assert [entry["version"] for entry in registry.history()] == ["1.0.0", "2.0.0", "1.0.0"]
    x = splits()["test"].images[:8]
    assert torch.allclose(registry.load().logits(x), v1.logits(x), atol=1e-6)
    assert torch.allclose(Predictor.load(registry.path("2.0.0")).logits(x), v2.logits(x), atol=1e-6)


def test_model_card_from_metadata(v1, v2, tmp_path):
    card = model_card(v1, "pneumoniamnist")
    auc = v1.metadata["metrics"]["auc"]
    assert f"| auc | {auc[0]:.3f} | {auc[1]:.3f} to {auc[2]:.3f} |" in card
    assert "PneumoniaMNIST" in card and "CC BY 4.0" in card and "Not a medical device" in card
    assert f"at least {v1.threshold:.3f}" in card and "## Limitations" in card
    assert "## Versions" not in card and "## Versions" in model_card(v2)
    assert "fine-tuned on 16 new images + 16 replayed old images" in model_card(v2)
    bare = Predictor(v1.model, v1.architecture, v1.preprocessing, v1.classes, "1.0.0")
    assert model_card(bare).count("*not recorded*") >= 4  # gaps are shown, not hidden
    assert write_model_card(v1, tmp_path / "card.md").read_text() == model_card(v1)


def test_versions_and_concat():
    assert bump("1.0.0") == "2.0.0" and bump("2.3.4", "patch") == "2.3.5"
    with pytest.raises(ValueError, match="part must be"):
        bump("1.0.0", "huge")
    a = LabeledImages(torch.zeros(2, 1, 4, 4, dtype=torch.uint8), torch.tensor([0, 1]), ["x", "y"])
    assert len(concat(a, a)) == 4
