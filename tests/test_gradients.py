"""Gradient conflict and PCGrad, checked against hand computations."""

import math

import pytest
import torch

from course_utils.data.auxiliary import coarse_labels
from course_utils.data.loaders import DeviceLoader
from course_utils.data.splits import few_shot
from course_utils.models.backbones import SmallCNN
from course_utils.models.multitask import MultiTaskModel
from course_utils.runtime import seed_everything
from course_utils.training import fit
from course_utils.training.gradients import (
    GradientConflictLoss,
    PCGradLoss,
    cosine,
    pairwise_cosines,
    pcgrad,
    project_conflicting,
    task_gradients,
)
from course_utils.training.multitask import WeightedTaskLoss


def test_cosine_and_pcgrad_on_two_known_gradients():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])
    # cos = (1 * -1 + 0 * 1) / (1 * sqrt 2)
    assert cosine(g1, g2) == pytest.approx(-1 / math.sqrt(2))
    # g1 - (g1.g2)/|g2|^2 g2 = (1, 0) + 1/2 (-1, 1) = (0.5, 0.5);  g2 - (g2.g1)/|g1|^2 g1 = (0, 1)
    assert project_conflicting(g1, g2).tolist() == pytest.approx([0.5, 0.5])
    assert project_conflicting(g2, g1).tolist() == pytest.approx([0.0, 1.0])
    assert pcgrad({"a": g1, "b": g2}).tolist() == pytest.approx([0.5, 1.5])
    # each projected gradient no longer conflicts with the other task's
    assert project_conflicting(g1, g2) @ g2 == pytest.approx(0.0, abs=1e-7)


def test_pcgrad_leaves_agreeing_gradients_alone():
    g1, g2 = torch.tensor([1.0, 2.0]), torch.tensor([3.0, -1.0])  # dot = 1 > 0
    assert pcgrad({"a": g1, "b": g2}).tolist() == pytest.approx((g1 + g2).tolist())
    assert cosine(torch.zeros(2), g1) == 0.0


def test_pcgrad_with_three_tasks_by_hand():
    grads = {"a": torch.tensor([1.0, 0.0, 0.0]), "b": torch.tensor([-1.0, 1.0, 0.0]),
             "c": torch.tensor([0.0, -1.0, 1.0])}
    # a.b = -1, b.c = -1, a.c = 0. Each task is projected against the others' original gradients,
    # in a random order, and a projection can create a new conflict, so the order matters:
    # a: against b -> (0.5, 0.5, 0), which now conflicts with c -> (0.5, 0.25, 0.25);
    #    against c first (no conflict), then b -> (0.5, 0.5, 0)
    # b: either order -> (0, 0.5, 0.5)
    # c: against b -> (-0.5, -0.5, 1), now conflicting with a -> (0, -0.5, 1); a first -> (-0.5, -0.5, 1)
    a_options = [torch.tensor([0.5, 0.25, 0.25]), torch.tensor([0.5, 0.5, 0.0])]
    b = torch.tensor([0.0, 0.5, 0.5])
    c_options = [torch.tensor([0.0, -0.5, 1.0]), torch.tensor([-0.5, -0.5, 1.0])]
    by_hand = [a + b + c for a in a_options for c in c_options]
    seen = set()
    for seed in range(12):
        total = pcgrad(grads, torch.Generator().manual_seed(seed))
        matches = [i for i, expected in enumerate(by_hand) if torch.allclose(total, expected)]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 1  # different seeds, different orders, different results


def test_task_gradients_match_autograd_and_pairwise_cosines():
    torch.manual_seed(0)
    w = torch.randn(3, requires_grad=True)
    head = torch.randn(2, requires_grad=True)
    x = torch.randn(3)
    terms = {"a": (w @ x) ** 2, "b": (w.sum() - 1) ** 2 + head.sum()}
    grads = task_gradients(terms, [w, head])
    assert torch.allclose(grads["a"][:3], 2 * (w @ x) * x)
    assert torch.allclose(grads["a"][3:], torch.zeros(2))  # a does not reach head
    assert torch.allclose(grads["b"][:3], 2 * (w.sum() - 1) * torch.ones(3))
    assert pairwise_cosines(grads) == {"a/b": pytest.approx(cosine(grads["a"], grads["b"]))}


def _batch(fashion_train):
    data = few_shot(fashion_train, k=8, seed=0)
    return data.images.float() / 255, torch.stack([data.labels, coarse_labels(data.labels)], 1)


def test_pcgrad_loss_gives_the_projected_gradient_and_the_plain_value(fashion_train):
    x, y = _batch(fashion_train)
    torch.manual_seed(0)
    model = MultiTaskModel.from_classifier(SmallCNN(widths=(4, 8, 8)), {"fine": 10, "coarse": 4})
    weights = WeightedTaskLoss({"fine": 1.0, "coarse": 2.0})
    shared, params = model.shared_parameters(), list(model.parameters())
    outputs = model(x)
    terms = weights.terms(outputs, y)
    grads = task_gradients(terms, shared)
    expected_shared = pcgrad(grads, torch.Generator().manual_seed(0))
    expected_heads = torch.autograd.grad(sum(terms.values()), list(model.heads.parameters()), retain_graph=True)

    loss = PCGradLoss(weights, shared, params, every=1, seed=0)
    value = loss(outputs, y)
    assert value.item() == pytest.approx(sum(terms.values()).item(), rel=1e-6)
    value.backward()
    got_shared = torch.cat([p.grad.reshape(-1) for p in shared])
    assert torch.allclose(got_shared, expected_shared, atol=1e-6)
    for p, g in zip(model.heads.parameters(), expected_heads):
        assert torch.allclose(p.grad, g, atol=1e-6)  # heads keep their own task's gradient
    assert loss.log[0]["fine/coarse"] == pytest.approx(cosine(grads["fine"], grads["coarse"]), abs=1e-5)
    with torch.no_grad():  # in evaluation: the plain weighted loss
        assert loss(model(x), y).item() == pytest.approx(value.item(), rel=1e-5)


def test_conflict_measure_during_fit_leaves_training_unchanged(fashion_train):
    x, y = _batch(fashion_train)
    histories, losses = [], []
    for measure in (False, True):
        seed_everything(0)
        model = MultiTaskModel.from_classifier(SmallCNN(widths=(4, 8, 8)), {"fine": 10, "coarse": 4})
        loss = WeightedTaskLoss({"fine": 1.0, "coarse": 1.0})
        if measure:
            loss = GradientConflictLoss(loss, model.shared_parameters(), every=2)
        histories.append(fit(model, DeviceLoader(x, y, batch_size=20, shuffle=True), epochs=2, lr=3e-3,
                             loss_fn=loss, progress=False))
        losses.append(loss)
    assert histories[1].train_loss == pytest.approx(histories[0].train_loss, rel=1e-5)
    log = losses[1].log
    assert [entry["step"] for entry in log] == [2, 4, 6, 8] and all(-1 <= e["fine/coarse"] <= 1 for e in log)
