"""Every lesson-04 checker accepts a right answer, rejects a wrong one, and never raises."""

import pytest
import torch
import torch.nn.functional as F

from course_utils.exercises import lesson04


def right_project_l2(delta, eps):
    length = delta.flatten(1).norm(dim=1).clamp_min(1e-12)
    return delta * (eps / length).clamp(max=1).view(-1, *[1] * (delta.ndim - 1))


def wrong_project_l2(delta, eps):
    """Scales every example to length eps, also the short ones."""
    length = delta.flatten(1).norm(dim=1)
    return delta * (eps / length).view(-1, *[1] * (delta.ndim - 1))


def targeted_fgsm(model, x, target, eps, sign=-1.0, clip=True):
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(x), target, reduction="sum"), x)
    x_adv = x.detach() + sign * eps * grad.sign()
    return x_adv.clamp(0, 1) if clip else x_adv


STD = torch.tensor([0.229, 0.224, 0.225])

RIGHT_AND_WRONG = [
    (lesson04.linear_budget, lambda w, eps: eps * w.abs().sum(),
     lambda w, eps: eps * w.norm()),                                       # the random-noise size
    (lesson04.l2_projection, right_project_l2, wrong_project_l2),
    (lesson04.normalised_budget, ((8 / 255) / STD).tolist(), ((8 / 255) * STD).tolist()),
    (lesson04.targeted_step, targeted_fgsm,
     lambda m, x, t, eps: targeted_fgsm(m, x, t, eps, sign=1.0)),           # went up the loss
    (lesson04.spot_masking, "B", "A"),
]


@pytest.mark.parametrize("exercise, right, wrong", RIGHT_AND_WRONG,
                         ids=[e.name for e, _, _ in RIGHT_AND_WRONG])
def test_checker_accepts_right_and_rejects_wrong(exercise, right, wrong, capsys):
    assert exercise.check(right) is True
    assert exercise.check(wrong) is False
    assert "Hint" in capsys.readouterr().out


def test_a_linear_budget_that_ignores_eps_is_rejected():
    assert lesson04.linear_budget.check(lambda w, eps: w.abs().sum()) is False
    assert lesson04.linear_budget.check(lambda w, eps: (8 / 255) * w.abs().sum()) is False


def test_unclipped_targeted_step_is_rejected():
    assert lesson04.targeted_step.check(lambda m, x, t, eps: targeted_fgsm(m, x, t, eps, clip=False)) is False


@pytest.mark.parametrize("exercise", [e for e, _, _ in RIGHT_AND_WRONG], ids=lambda e: e.name)
def test_unfinished_answers_never_raise(exercise):
    assert exercise.check(None) is False
    assert exercise.check(lambda *args: None) is False
    assert exercise.check(lambda *args: 1 / 0) is False
