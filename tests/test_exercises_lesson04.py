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


def test_an_l2_projection_that_ignores_eps_is_rejected():
    assert lesson04.l2_projection.check(lambda delta, eps: right_project_l2(delta, 1.0)) is False


def test_answers_that_call_the_course_are_rejected(capsys):
    from course_utils.robustness.attacks import fgsm, pgd, project

    assert lesson04.targeted_step.check(lambda m, x, t, eps: fgsm(m, x, t, eps, targeted=True)) is False
    assert lesson04.l2_projection.check(lambda delta, eps: project(delta, eps, "l2")) is False
    assert "write fgsm yourself" in capsys.readouterr().out
    model = lesson04._tiny_classifier()
    x, y = torch.rand(2, 1, 8, 8), torch.tensor([0, 1])
    assert fgsm(model, x, y, 0.1).shape == x.shape and pgd(model, x, y, 0.1, 0.05, 2).shape == x.shape  # unblocked


def test_the_checkers_references_agree_with_the_course():
    from course_utils.robustness.attacks import fgsm, project

    model = lesson04._tiny_classifier()
    x, target = torch.rand(6, 1, 8, 8), torch.tensor([4, 3, 2, 1, 0, 4])
    for eps in (0.03, 0.2):
        assert torch.allclose(lesson04.targeted_fgsm_reference(model, x, target, eps),
                              fgsm(model, x, target, eps, targeted=True), atol=1e-6)
    delta = torch.randn(5, 3, 4, 4, dtype=torch.float64)
    for eps in (0.5, 1.0, 8.0):
        assert torch.allclose(lesson04.project_l2_reference(delta, eps), project(delta, eps, "l2"))


def test_every_lesson_04_exercise_has_a_solution(capsys):
    for exercise, _, wrong in RIGHT_AND_WRONG:
        assert exercise.solution, exercise.name
        exercise.check(wrong, show_solution=True)
        assert "Solution:" in capsys.readouterr().out
