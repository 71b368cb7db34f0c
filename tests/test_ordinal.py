"""The cumulative ordinal formulation: targets, loss against a hand computation, decoding."""

import pytest
import torch
import torch.nn.functional as F

from course_utils.models.ordinal import (
    mean_absolute_error,
    ordinal_loss,
    ordinal_targets,
    ordinal_to_grade,
    ordinal_to_probs,
)


def test_targets_count_the_boundaries_below_each_grade():
    labels = torch.arange(5)
    targets = ordinal_targets(labels, 5)
    assert targets.sum(1).tolist() == [0, 1, 2, 3, 4]
    assert torch.equal(ordinal_to_grade(targets * 20 - 10), labels)  # decoding inverts encoding


def test_loss_is_the_mean_binary_cross_entropy_over_boundaries():
    logits = torch.tensor([[2.0, -1.0, 0.5, -3.0]], requires_grad=True)
    label = torch.tensor([2])
    by_hand = -(F.logsigmoid(torch.tensor(2.0)) + F.logsigmoid(torch.tensor(-1.0))
                + F.logsigmoid(torch.tensor(-0.5)) + F.logsigmoid(torch.tensor(3.0))) / 4
    loss = ordinal_loss(logits, label)
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    loss.backward()
    expected_grad = (torch.sigmoid(logits.detach()) - torch.tensor([[1.0, 1.0, 0.0, 0.0]])) / 4
    assert torch.allclose(logits.grad, expected_grad, atol=1e-7)


def test_probabilities_are_a_distribution_even_for_inconsistent_boundaries():
    logits = torch.tensor([[1.0, 2.0, -1.0, 0.0], [-5.0, -4.0, -3.0, -2.0]])  # not decreasing
    probs = ordinal_to_probs(logits)
    assert probs.shape == (2, 5) and (probs >= 0).all()
    assert torch.allclose(probs.sum(1), torch.ones(2))


def test_mae_and_bad_grades():
    assert mean_absolute_error(torch.tensor([1, 1, 4]), torch.tensor([1, 3, 3])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"grades must lie in 0..4, got 0..5"):
        ordinal_targets(torch.tensor([0, 5]), 5)
    with pytest.raises(ValueError, match="integers"):
        ordinal_targets(torch.tensor([0.0, 1.0]), 5)
    with pytest.raises(ValueError, match="differ in shape"):
        mean_absolute_error(torch.zeros(3), torch.zeros(4))


def test_fit_trains_an_ordinal_head_on_real_retina_images():
    from tests.conftest import medmnist_available

    if not medmnist_available():
        pytest.skip("MEDMNIST_DIR not set")
    from course_utils import DeviceLoader, fit, load_medmnist, seed_everything

    train, test = load_medmnist("retinamnist", "train"), load_medmnist("retinamnist", "test")
    seed_everything(0)
    head = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 28 * 28, 4))  # 5 grades, 4 boundaries
    with pytest.raises(ValueError, match="labels range over 0..4 but the head"):
        fit(head, DeviceLoader.from_data(train, batch_size=64), epochs=1, progress=False)  # cross-entropy: wrong
    fit(head, DeviceLoader.from_data(train, batch_size=64, shuffle=True), epochs=5, lr=1e-3,
        loss_fn=ordinal_loss, progress=False)  # the custom loss says how outputs and labels relate
    with torch.no_grad():
        grades = ordinal_to_grade(head(test.images.float() / 255))
    mode = torch.full_like(test.labels, int(torch.bincount(train.labels).argmax()))
    assert mean_absolute_error(grades, test.labels) < mean_absolute_error(mode, test.labels)
