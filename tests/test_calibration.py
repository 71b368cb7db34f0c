"""Calibration: ECE by hand, temperature scaling fitted on validation data of a real model."""

import pytest
import torch
import torch.nn.functional as F

from course_utils.evaluation.calibration import (
    expected_calibration_error,
    fit_temperature,
    reliability_bins,
)


def test_ece_equals_a_hand_computation():
    probs = torch.tensor([0.95, 0.9, 0.85, 0.7, 0.65, 0.15], dtype=torch.float64)  # P(positive)
    labels = torch.tensor([1, 1, 0, 1, 0, 0])
    # top-label confidences: .95 .9 .85 .7 .65 .85 ; correct: 1 1 0 1 0 1
    # 5 bins of width .2: [.6,.8): .7 .65 -> conf .675 acc .5 ; [.8, 1]: .95 .9 .85 .85 -> conf .8875 acc .75
    expected = 2 / 6 * abs(0.5 - 0.675) + 4 / 6 * abs(0.75 - 0.8875)
    assert expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(expected)
    bins = reliability_bins(probs, labels, n_bins=5)
    assert bins["count"].tolist() == [0, 0, 0, 2, 4]


def test_temperature_scaling_lowers_ece_of_an_overconfident_real_model(fashion_train, fashion_test):
    from course_utils import DeviceLoader, SmallCNN, few_shot, fit, predict, seed_everything

    seed_everything(0)
    train, val = few_shot(fashion_train, 30, seed=0), few_shot(fashion_train, 50, seed=1)
    model = SmallCNN()
    fit(model, DeviceLoader.from_data(train, batch_size=32, shuffle=True), epochs=25, lr=3e-3,
        progress=False)  # no validation set: trained to memorise, hence over-confident
    val_logits, test_logits = predict(model, val.images.float() / 255), predict(model, fashion_test.images[:2000].float() / 255)
    labels = fashion_test.labels[:2000]
    temperature = fit_temperature(val_logits, val.labels)
    assert temperature > 1.2
    before = expected_calibration_error(F.softmax(test_logits, 1), labels)
    after = expected_calibration_error(F.softmax(test_logits / temperature, 1), labels)
    assert after < before - 0.05
    assert torch.equal((test_logits / temperature).argmax(1), test_logits.argmax(1))  # accuracy unchanged
    nll = [F.cross_entropy(val_logits / t, val.labels).item() for t in (temperature * 0.8, temperature, temperature * 1.25)]
    assert nll[1] <= min(nll[0], nll[2])  # a minimum of the validation NLL


def test_bad_probabilities_are_named():
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        expected_calibration_error(torch.tensor([0.2, 1.3]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="empty"):
        expected_calibration_error(torch.zeros(0), torch.zeros(0, dtype=torch.long))
    with pytest.raises(ValueError, match="3 predictions but 2 labels"):
        reliability_bins(torch.tensor([0.2, 0.3, 0.9]), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="logits must be"):
        fit_temperature(torch.zeros(4), torch.zeros(4, dtype=torch.long))
