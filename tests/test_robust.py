"""Accuracy under attack, robustness curves and adversarial training batches, on real images."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from course_utils.data.loaders import DeviceLoader
from course_utils.data.transforms import to_float
from course_utils.robustness.attacks import fgsm, pgd
from course_utils.robustness.robust import (
    AdversarialBatches,
    adversarial_examples,
    make_attack,
    robust_accuracy,
    robustness_curve,
)
from course_utils.training import fit


def linear() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


@pytest.fixture(scope="module")
def data(fashion_train, fashion_test):
    """2000 training and 300 test images of Fashion-MNIST (uint8)."""
    return (fashion_train.images[:2000], fashion_train.labels[:2000],
            fashion_test.images[:300], fashion_test.labels[:300])


@pytest.fixture(scope="module")
def trained(data) -> nn.Module:
    """Logistic regression trained normally with ``fit`` (about 80% test accuracy)."""
    torch.manual_seed(0)
    model = linear()
    fit(model, DeviceLoader(data[0], data[1], batch_size=100, shuffle=True), epochs=4, lr=1e-2,
        progress=False)
    return model.eval()


def test_make_attack_names_and_defaults(data):
    x, y = to_float(data[2][:16]), data[3][:16]
    model = linear().eval()
    assert torch.equal(make_attack("fgsm", 0.1)(model, x, y), fgsm(model, x, y, 0.1))
    fast = make_attack("fgsm_rs", 0.1, generator=torch.Generator().manual_seed(1))(model, x, y)
    by_hand = pgd(model, x, y, 0.1, 0.125, 1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(fast, by_hand)
    attack = make_attack("pgd", 0.1, steps=5)
    assert attack.keywords["alpha"] == pytest.approx(0.05) and attack.keywords["steps"] == 5
    assert make_attack("pgd", 1.0, norm="l2").keywords["norm"] == "l2"
    with pytest.raises(ValueError, match="unknown attack"):
        make_attack("deepfool", 0.1)


def test_robust_accuracy_clean_matches_plain_accuracy_and_keeps_mode(trained, data):
    x, y = data[2], data[3]
    with torch.no_grad():
        expected = (trained(to_float(x)).argmax(1) == y).float().mean().item()
    trained.train()
    try:
        assert robust_accuracy(trained, x, y, batch_size=64) == pytest.approx(expected)
        assert trained.training
    finally:
        trained.eval()
    assert expected > 0.7


def test_batches_do_not_change_deterministic_attacks(trained, data):
    x, y = data[2][:50], data[3][:50]
    attack = make_attack("fgsm", 0.05)
    whole = adversarial_examples(trained, x, y, attack, batch_size=500)
    pieces = adversarial_examples(trained, x, y, attack, batch_size=7)
    assert torch.allclose(whole, pieces, atol=1e-6)
    assert whole.dtype == torch.float32 and whole.min() >= 0 and whole.max() <= 1


def test_robustness_curve_falls_with_eps_and_pgd_beats_fgsm(trained, data):
    x, y = data[2], data[3]
    eps_values = [0.0, 0.02, 0.05, 0.1]
    fgsm_curve = robustness_curve(trained, x, y, eps_values, "fgsm")
    pgd_curve = robustness_curve(trained, x, y, eps_values, "pgd", steps=10)
    assert fgsm_curve[0] == pgd_curve[0] == pytest.approx(robust_accuracy(trained, x, y))
    assert all(a >= b - 0.01 for a, b in zip(pgd_curve, pgd_curve[1:]))  # non-increasing
    assert all(p <= f + 0.01 for f, p in zip(fgsm_curve, pgd_curve))
    assert pgd_curve[-1] < 0.2 and fgsm_curve[0] > 0.7  # measured: 0.11 and 0.80


def test_adversarial_batches_attack_the_current_weights(data):
    loader = DeviceLoader(data[0][:64], data[1][:64], batch_size=32)
    model = linear().eval()
    batches = AdversarialBatches(loader, model, make_attack("fgsm", 0.1))
    assert len(batches) == 2 and torch.equal(batches.labels, loader.labels)
    first = next(iter(batches))[0]
    clean = next(iter(loader))[0]
    assert (first - clean).abs().max() <= 0.1 + 1e-6 and (first - clean).abs().max() > 0.05
    with torch.no_grad():
        model[1].weight.neg_()  # new weights: the gradient's sign flips, so does the attack
    second = next(iter(batches))[0]
    assert not torch.equal(first, second)


def test_adversarial_training_with_fit_raises_robust_accuracy(trained, data):
    torch.manual_seed(0)
    robust = linear()
    loader = DeviceLoader(data[0], data[1], batch_size=100, shuffle=True)
    fit(robust, AdversarialBatches(loader, robust, make_attack("fgsm_rs", 0.1)), epochs=4,
        lr=1e-2, progress=False)
    attack = make_attack("pgd", 0.1, steps=10)
    before = robust_accuracy(trained, data[2], data[3], attack)
    after = robust_accuracy(robust, data[2], data[3], attack)
    assert after > before + 0.25, (before, after)  # measured: 0.11 -> 0.46


def test_robust_only_if_clean_prediction_is_right_too(data):
    x = data[2]
    y = torch.zeros(len(x), dtype=torch.long)
    bright = nn.Sequential(nn.Flatten(), nn.Linear(784, 2))  # class 0 if the mean pixel > 0.5
    with torch.no_grad():
        bright[1].weight.zero_()
        bright[1].weight[0].fill_(1 / 784)
        bright[1].bias.copy_(torch.tensor([-0.5, 0.0]))

    def whiten(model, images, labels):  # an "attack" that makes every answer right
        return torch.ones_like(to_float(images))

    clean = robust_accuracy(bright, x, y)
    assert clean < 0.2  # Fashion-MNIST images are mostly dark
    assert robust_accuracy(bright, x, y, whiten) == pytest.approx(clean)  # not 1.0


def test_restarts_make_pgd_no_weaker_and_converge(trained, data):
    x, y = data[2], data[3]
    one = robust_accuracy(trained, x, y, make_attack("pgd", 0.03, steps=5,
                                                     generator=torch.Generator().manual_seed(0)))
    several = robust_accuracy(trained, x, y, make_attack("pgd", 0.03, steps=5, restarts=4,
                                                         generator=torch.Generator().manual_seed(0)))
    assert several <= one  # every example keeps the first run that fooled the model
    longer = robust_accuracy(trained, x, y, make_attack("pgd", 0.03, steps=40, restarts=3))
    assert abs(longer - several) < 0.05, (one, several, longer)  # a linear model: PGD converges
    with pytest.raises(ValueError, match="restarts"):
        make_attack("pgd", 0.03, restarts=0)
