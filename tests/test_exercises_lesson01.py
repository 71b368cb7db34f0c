"""Every lesson-01 checker accepts a right answer, rejects a wrong one, and never raises."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_utils.exercises import lesson01


def right_softmax_grad(z, y):
    return (torch.softmax(z, dim=1) - F.one_hot(y, z.shape[1]).to(z.dtype)) / len(y)


def right_sgd_step(theta, grad, lr, weight_decay):
    return theta - lr * grad - lr * weight_decay * theta


def right_stable_bce(z, y):
    return z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))


def naive_bce(z, y):
    return -(y * torch.log(torch.sigmoid(z)) + (1 - y) * torch.log(1 - torch.sigmoid(z)))


def clamped_bce(z, y):  # what F.binary_cross_entropy does to probabilities: log clamped at -100
    return F.binary_cross_entropy(torch.sigmoid(z), y, reduction="none")


def torch_first_steps():
    """The exercise-4 numbers, measured with the real optimisers."""
    values = []
    for optimizer in (torch.optim.Adam, torch.optim.AdamW):
        weight = torch.ones(1, requires_grad=True, dtype=torch.float64)
        weight.grad = torch.zeros(1, dtype=torch.float64)
        optimizer([weight], lr=0.01, weight_decay=0.1).step()
        values.append(weight.item())
    return tuple(values)


RIGHT_AND_WRONG = [
    (lesson01.softmax_grad, right_softmax_grad,
     lambda z, y: torch.softmax(z, 1) - F.one_hot(y, z.shape[1]).to(z.dtype)),  # forgot / N
    (lesson01.sgd_step, right_sgd_step,
     lambda theta, grad, lr, wd: theta - lr * grad - wd * theta),               # decay not scaled by lr
    (lesson01.loss_floor, lambda k: math.log(1 + (k - 1) / math.e),
     lambda k: math.log(1 + 4 / math.e)),                                      # K fixed at 5
    (lesson01.adam_first_step, torch_first_steps(), (0.999, 0.999)),            # "they are the same"
    (lesson01.stable_bce, right_stable_bce, naive_bce),                         # overflows at large |z|
    (lesson01.stable_bce, right_stable_bce, clamped_bce),                       # finite but capped at 100
    (lesson01.stable_bce, right_stable_bce,
     lambda z, y: z.clamp(min=0) - z * y),                                      # forgot log(1 + e^-|z|)
    (lesson01.stable_bce, right_stable_bce,
     lambda z, y: (z.clamp(min=0) - z * y + torch.log1p(torch.exp(-z.abs()))).mean()),  # a mean, not per example
]


@pytest.mark.parametrize("exercise, right, wrong", RIGHT_AND_WRONG,
                         ids=[ex.name for ex, _, _ in RIGHT_AND_WRONG])
def test_right_and_wrong_answers(exercise, right, wrong, capsys):
    assert exercise.check(right) is True
    assert "correct" in capsys.readouterr().out
    assert exercise.check(wrong) is False
    out = capsys.readouterr().out
    assert "not yet" in out and exercise.hint in out


def test_calling_the_checkers_own_function_is_not_an_answer(capsys):
    assert lesson01.loss_floor.check(lambda k: lesson01.softmax_ce_floor(k)) is False
    assert "raised" in capsys.readouterr().out
    assert lesson01.softmax_ce_floor(10) == pytest.approx(1.4612, abs=1e-4)  # restored afterwards


def test_stable_bce_refuses_torchs_own_loss(capsys):
    def torch_loss(z, y):
        return F.binary_cross_entropy_with_logits(z, y, reduction="none")

    assert lesson01.stable_bce.check(torch_loss) is False
    assert "raised UseYourOwnCode" in capsys.readouterr().out
    z, y = torch.tensor([-3.0, 0.0, 40.0]), torch.tensor([1.0, 0.0, 0.0])  # restored afterwards
    assert torch.allclose(torch_loss(z, y), right_stable_bce(z, y))


def test_naive_bce_really_fails_on_real_fashion_mnist_logits():
    """The failure the checker guards against happens on real data, not only on made-up logits:
    a linear model with large weights gives large logits to real images."""
    from course_utils import load_fashion_mnist

    images = load_fashion_mnist("test").images[:64].flatten(1).float() / 255
    z = images @ torch.full((784,), 0.5) - 20        # logits from about 0 to 230
    y = torch.zeros_like(z)
    naive = naive_bce(z, y)
    assert not torch.isfinite(naive).all()                                # inf where sigma(z) rounds to 1
    stable = right_stable_bce(z, y)
    assert torch.isfinite(stable).all()
    assert torch.allclose(stable, F.binary_cross_entropy_with_logits(z, y, reduction="none"))
    assert lesson01.stable_bce.check(right_stable_bce) and not lesson01.stable_bce.check(naive_bce)


def test_hints_nudge_and_solutions_wait_to_be_asked(capsys):
    for exercise in lesson01.EXERCISES:
        assert exercise.hint and exercise.solution and exercise.solution not in exercise.hint
        exercise.check(None)
        assert exercise.solution not in capsys.readouterr().out
        exercise.check(None, show_solution=True)
        assert exercise.solution in capsys.readouterr().out


@pytest.mark.parametrize("exercise", lesson01.EXERCISES, ids=lambda ex: ex.name)
def test_unfinished_answers_never_raise(exercise, capsys):
    def stub(*args):  # what a learner's unfinished function returns
        return None

    def broken(*args):
        raise NotImplementedError("write me")

    for answer in (None, ..., stub, broken, "not a number"):
        assert exercise.check(answer) is False
    assert "no answer yet" in capsys.readouterr().out


def test_exercise_4_numbers_are_what_torch_does():
    adam, adamw = torch_first_steps()
    assert adam == pytest.approx(0.99, abs=1e-6)
    assert adamw == pytest.approx(0.999, abs=1e-9)


def test_softmax_floor_is_reached_by_a_confident_correct_prediction():
    for k in (2, 5, 10):
        logits = torch.zeros(1, k, dtype=torch.float64)
        logits[0, 1] = 60.0  # softmax is one-hot to float64 precision
        loss = F.cross_entropy(torch.softmax(logits, 1), torch.tensor([1]))
        assert loss.item() == pytest.approx(lesson01.softmax_ce_floor(k), abs=1e-12)
