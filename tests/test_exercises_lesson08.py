"""Lesson 08 checkers: right answers pass; plausible wrong ones, and calls to the course's own
function where the exercise asks you to write it, fail."""

import numpy as np
import torch

from course_utils.deployment.drift import mmd_test
from course_utils.deployment.quantize import affine_parameters
from course_utils.exercises import lesson08


def test_decision_right_and_wrong():
    def right(logits, temperature, threshold):
        return ((logits / temperature).softmax(1)[:, 1] >= threshold).long()

    def sigmoid_of_difference(logits, temperature, threshold):  # the same thing for two classes
        return (torch.sigmoid((logits[:, 1] - logits[:, 0]) / temperature) >= threshold).long()

    def ignores_temperature(logits, temperature, threshold):
        return (logits.softmax(1)[:, 1] >= threshold).long()

    def argmax(logits, temperature, threshold):  # the threshold forgotten
        return (logits / temperature).argmax(1)

    def sigmoid_of_one_logit(logits, temperature, threshold):
        return (torch.sigmoid(logits[:, 1] / temperature) >= threshold).long()

    def temperature_multiplies(logits, temperature, threshold):
        return ((logits * temperature).softmax(1)[:, 1] >= threshold).long()

    assert lesson08.calibrated_decision.check(right)
    assert lesson08.calibrated_decision.check(sigmoid_of_difference)
    for wrong in (ignores_temperature, argmax, sigmoid_of_one_logit, temperature_multiplies):
        assert not lesson08.calibrated_decision.check(wrong)


def test_int8_parameters_right_wrong_and_the_course_function_refused():
    def right(low, high):
        low, high = min(low, 0.0), max(high, 0.0)
        scale = (high - low) / 255
        return scale, int(min(255, max(0, round(-low / scale))))

    def not_widened(low, high):  # 0.0 is not representable when the range excludes it
        scale = (high - low) / 255
        return scale, int(min(255, max(0, round(-low / scale))))

    def float_zero_point(low, high):
        low, high = min(low, 0.0), max(high, 0.0)
        scale = (high - low) / 255
        return scale, -low / scale

    def levels_not_steps(low, high):  # 256 levels are 255 steps
        low, high = min(low, 0.0), max(high, 0.0)
        scale = (high - low) / 256
        return scale, int(round(-low / scale))

    def calls_the_course(low, high):
        return affine_parameters(low, high)

    assert lesson08.int8_parameters.check(right)
    for wrong in (not_widened, float_zero_point, levels_not_steps, calls_the_course):
        assert not lesson08.int8_parameters.check(wrong)
    assert affine_parameters(-1.0, 3.0)[1] == 64  # restored after the check


def test_mmd_right_wrong_and_the_course_function_refused():
    def kernel(a, b, sigma, denominator=2.0):
        return torch.exp(-torch.cdist(a, b) ** 2 / (denominator * sigma**2))

    def right(x, y, sigma):
        n, m = len(x), len(y)
        return ((kernel(x, x, sigma).sum() - n) / (n * (n - 1)) + (kernel(y, y, sigma).sum() - m) / (m * (m - 1))
                - 2 * kernel(x, y, sigma).mean())

    def biased(x, y, sigma):  # keeps the diagonal
        return kernel(x, x, sigma).mean() + kernel(y, y, sigma).mean() - 2 * kernel(x, y, sigma).mean()

    def no_two(x, y, sigma):  # exp(-d^2 / sigma^2)
        n, m = len(x), len(y)
        return ((kernel(x, x, sigma, 1.0).sum() - n) / (n * (n - 1))
                + (kernel(y, y, sigma, 1.0).sum() - m) / (m * (m - 1)) - 2 * kernel(x, y, sigma, 1.0).mean())

    def calls_the_course(x, y, sigma):
        return mmd_test(x, y, permutations=1, bandwidth=sigma)[0]

    assert lesson08.mmd_by_hand.check(right)
    for wrong in (biased, no_two, calls_the_course):
        assert not lesson08.mmd_by_hand.check(wrong)
    assert mmd_test(torch.zeros(3, 1), torch.ones(3, 1), permutations=5, bandwidth=1.0)[0] > 0  # restored


def test_p_value_right_and_wrong():
    def right(observed, permuted):
        return (1 + np.sum(np.asarray(permuted) >= observed)) / (1 + len(permuted))

    def without_the_observed(observed, permuted):  # can be exactly 0
        return np.mean(np.asarray(permuted) >= observed)

    def strict(observed, permuted):  # ties not counted
        return (1 + np.sum(np.asarray(permuted) > observed)) / (1 + len(permuted))

    def two_sided(observed, permuted):
        return (1 + np.sum(np.abs(permuted) >= abs(observed))) / (1 + len(permuted))

    assert lesson08.permutation_p_value.check(right)
    for wrong in (without_the_observed, strict, two_sided):
        assert not lesson08.permutation_p_value.check(wrong)


def test_solutions_come_on_request_only(capsys):
    lesson08.permutation_p_value.check(lambda observed, permuted: 0.5)
    first = capsys.readouterr().out
    assert "Hint:" in first and "Solution:" not in first and "show_solution=True" in first
    lesson08.permutation_p_value.check(lambda observed, permuted: 0.5, show_solution=True)
    assert "Solution: return (1 + np.sum" in capsys.readouterr().out
