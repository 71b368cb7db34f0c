"""Every lesson-02 checker accepts a right answer and rejects a wrong one (and never raises)."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_utils.exercises import lesson02
from course_utils.explanations.receptive_field import receptive_field


def test_conv_output_size(capsys):
    def right(n, k, s, p, d):
        return (n + 2 * p - d * (k - 1) - 1) // s + 1

    assert lesson02.conv_output_size.check(right)
    assert not lesson02.conv_output_size.check(lambda n, k, s, p, d: (n + 2 * p - k) // s + 1)  # no dilation
    assert not lesson02.conv_output_size.check(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) / s + 1)  # no floor
    assert not lesson02.conv_output_size.check(lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) + 1)  # no stride
    assert not lesson02.conv_output_size.check(lambda n, k, s, p: 0)  # wrong signature: judged wrong
    assert not lesson02.conv_output_size.check(...)
    assert "no answer yet" in capsys.readouterr().out

    def measured(n, k, s, p, d):  # asks PyTorch instead of using the formula
        return nn.Conv2d(1, 1, k, s, p, d)(torch.zeros(1, 1, n, n)).shape[-1]

    assert not lesson02.conv_output_size.check(measured)
    assert "not with nn.Conv2d or F.conv2d" in capsys.readouterr().out
    assert F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 3, 3)).item() == 9  # F.conv2d works again afterwards


def test_hints_nudge_and_solutions_wait_to_be_asked(capsys):
    for exercise in lesson02.EXERCISES:
        assert exercise.hint and exercise.solution and exercise.solution not in exercise.hint
        exercise.check(0)
        assert "Solution:" not in capsys.readouterr().out
        exercise.check(0, show_solution=True)
        assert exercise.solution in capsys.readouterr().out


def _rf(layers):
    r, j = 1, 1
    for k, s in layers:
        r, j = r + (k - 1) * j, j * s
    return r


def test_receptive_field():
    assert lesson02.receptive_field.check(_rf)
    assert lesson02.receptive_field.check(lambda layers: (_rf(layers), 0))  # a (size, jump) tuple is fine
    assert not lesson02.receptive_field.check(lambda layers: 1 + sum(k - 1 for k, s in layers))  # ignores strides
    assert not lesson02.receptive_field.check(receptive_field)  # the course's own function is blocked
    assert receptive_field([(3, 1), (3, 1)]) == (5, 1)  # and unblocked afterwards


def test_depthwise_conv(capsys):
    def by_unfold(x, weight, stride=1, padding=0):
        n, c, h, w = x.shape
        k = weight.shape[-1]
        cols = F.unfold(x, k, padding=padding, stride=stride).view(n, c, k * k, -1)
        h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
        return (cols * weight.view(1, c, k * k, 1)).sum(2).view(n, c, h_out, w_out)

    assert lesson02.depthwise_conv.check(by_unfold)
    flipped = lambda x, w, stride=1, padding=0: by_unfold(x, w.flip(-1, -2), stride, padding)  # noqa: E731
    assert not lesson02.depthwise_conv.check(flipped)  # a true convolution, not PyTorch's cross-correlation
    assert not lesson02.depthwise_conv.check(lambda x, w, stride=1, padding=0: torch.zeros(1))
    assert not lesson02.depthwise_conv.check(lambda x, w, stride=1, padding=0: by_unfold(x, w, 1, padding))  # no stride
    assert not lesson02.depthwise_conv.check(lambda x, w, stride=1, padding=0: by_unfold(x, w, stride, 0))  # no padding
    library = lambda x, w, stride=1, padding=0: F.conv2d(x, w, stride=stride, padding=padding, groups=x.shape[1])  # noqa: E731
    assert not lesson02.depthwise_conv.check(library)  # asked for F.unfold, not F.conv2d
    assert not lesson02.depthwise_conv.check(lambda x, w, stride=1, padding=0: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_depthwise_separable():
    assert lesson02.depthwise_separable.check((20736, 3168))
    assert not lesson02.depthwise_separable.check((20736, 864))  # forgot the 1x1 conv
    assert not lesson02.depthwise_separable.check(7)  # not a pair: judged wrong, no exception


def test_every_exercise_is_listed():
    assert len(lesson02.EXERCISES) >= 3
    assert len({e.name for e in lesson02.EXERCISES}) == len(lesson02.EXERCISES)
