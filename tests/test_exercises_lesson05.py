"""Every lesson-05 checker accepts a right answer, rejects wrong ones, and never raises."""

import pytest
import torch

from course_utils.exercises import lesson05


def right_gradcam(activations, gradients):
    weights = gradients.mean(dim=(2, 3), keepdim=True)
    return (weights * activations).sum(1, keepdim=True).clamp(min=0)


def right_cam(model, images, target):
    activations = model.stages(images)  # (B, C, h, w)
    weights = model.classifier[-1].weight[target]  # (C,)
    h, w = activations.shape[-2:]
    cam = (weights[None, :, None, None] * activations).sum(1, keepdim=True)
    return cam.clamp(min=0) / (h * w)


def right_ig(model, x, baseline, target, steps):
    total = torch.zeros_like(x)
    for k in range(1, steps + 1):
        point = (baseline + k / steps * (x - baseline)).requires_grad_(True)
        (grad,) = torch.autograd.grad(model(point)[:, target].sum(), point)
        total += grad
    return (x - baseline) * total / steps


def gradient_times_input(model, x, baseline, target, steps):  # no path integral
    point = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(model(point)[:, target].sum(), point)
    return (x - baseline) * grad


def ignores_the_baseline(model, x, baseline, target, steps):  # always integrates from black
    return right_ig(model, x, torch.zeros_like(x), target, steps)


def right_spearman(a, b):
    ra, rb = a.argsort().argsort().double(), b.argsort().argsort().double()
    ra, rb = ra - ra.mean(), rb - rb.mean()
    return ((ra * rb).sum() / (ra.norm() * rb.norm())).item()


def argsort_once(a, b):  # positions of the sorted values, not ranks
    return pearson(a.argsort().double(), b.argsort().double())


def course_spearman(a, b):  # the course's own function: blocked
    from course_utils.explanations.explain import rank_correlation

    return rank_correlation(a[None], b[None]).item()


def pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    return ((a * b).sum() / (a.norm() * b.norm())).item()


RIGHT_AND_WRONG = [
    (lesson05.gradcam_map, right_gradcam,
     [lambda a, g: (g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True),         # no ReLU
      lambda a, g: (g.sum((2, 3), keepdim=True) * a).sum(1, keepdim=True).clamp(min=0),  # sum, not mean
      lambda a, g: (g.mean((2, 3), keepdim=True) * a).clamp(min=0).sum(1, keepdim=True)]),  # ReLU per channel
    (lesson05.cam_from_head, right_cam,
     [lambda m, x, t: right_cam(m, x, t) * 9,                                         # forgot 1 / (h w)
      lambda m, x, t: right_cam(m, x, 0)]),                                            # ignores the target
    (lesson05.integrated_gradients, right_ig, [gradient_times_input, ignores_the_baseline]),
    (lesson05.spearman, right_spearman, [pearson, argsort_once, course_spearman]),
]


@pytest.mark.parametrize("exercise, right, wrongs", RIGHT_AND_WRONG, ids=lambda v: getattr(v, "name", ""))
def test_right_answer_passes_and_wrong_ones_fail(exercise, right, wrongs, capsys):
    assert exercise.check(right) is True
    for wrong in wrongs:
        assert exercise.check(wrong) is False
    assert "correct" in capsys.readouterr().out


@pytest.mark.parametrize("exercise", [row[0] for row in RIGHT_AND_WRONG], ids=lambda e: e.name)
def test_unfinished_answers_never_raise(exercise, capsys):
    def stub(*args):
        ...  # the learner has not written the body yet: returns None

    assert exercise.check(stub) is False
    assert exercise.check(None) is False
    assert exercise.check(...) is False
    out = capsys.readouterr().out
    assert "no answer yet" in out and "not yet" in out


@pytest.mark.parametrize("exercise", [row[0] for row in RIGHT_AND_WRONG], ids=lambda e: e.name)
def test_hint_nudges_and_solution_waits_to_be_asked(exercise, capsys):
    assert exercise.hint and exercise.solution and exercise.solution not in exercise.hint
    exercise.check(lambda *args: None)
    out = capsys.readouterr().out
    assert "show_solution=True" in out and exercise.solution not in out
    exercise.check(lambda *args: None, show_solution=True)
    assert exercise.solution in capsys.readouterr().out
