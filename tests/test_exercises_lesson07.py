"""Lesson 07 checkers: right answers pass; plausible wrong ones, and calls to the course's own
function where the exercise asks you to write it, fail."""

import numpy as np
import torch
import torch.nn as nn

from course_utils.evaluation.calibration import expected_calibration_error
from course_utils.evaluation.clinical import threshold_for_sensitivity
from course_utils.exercises import lesson07


def test_rates_right_and_wrong():
    def right(matrix):
        (tn, fp), (fn, tp) = matrix
        return tp / (tp + fn), tn / (tn + fp)

    def swapped(matrix):  # sensitivity and specificity the wrong way round
        return right(matrix)[::-1]

    def ppv_instead(matrix):  # precision is not sensitivity
        (tn, fp), (fn, tp) = matrix
        return tp / (tp + fp), tn / (tn + fn)

    def columns(matrix):  # reads the matrix transposed
        return right(np.asarray(matrix).T)

    assert lesson07.sensitivity_specificity.check(right)
    for wrong in (swapped, ppv_instead, columns):
        assert not lesson07.sensitivity_specificity.check(wrong)


def test_threshold_right_wrong_and_the_course_function_refused():
    def right(labels, probs, target):
        positives = np.sort(probs[labels == 1])[::-1]
        return positives[int(np.ceil(target * len(positives))) - 1]

    def half(labels, probs, target):  # the default threshold, whatever the target
        return 0.5

    def ignores_target(labels, probs, target):  # always aims at 95%
        return right(labels, probs, 0.95)

    def all_scores_quantile(labels, probs, target):  # quantile of every score, not the positives'
        return np.quantile(probs, 1 - target)

    def lowest_passing(labels, probs, target):  # reaches the target, throws specificity away
        return probs[labels == 1].min()

    def calls_the_course(labels, probs, target):
        return threshold_for_sensitivity(labels, probs, target)

    assert lesson07.threshold_choice.check(right)
    for wrong in (half, ignores_target, all_scores_quantile, lowest_passing, calls_the_course):
        assert not lesson07.threshold_choice.check(wrong)
    assert threshold_for_sensitivity(np.array([0, 1]), np.array([0.2, 0.8]), 0.9) == 0.8  # restored


def test_logits_head_right_and_wrong():
    def right(in_features, num_classes):
        return nn.Sequential(nn.Flatten(), nn.Linear(in_features, num_classes))

    def softmax_head(in_features, num_classes):  # the article's bug
        return nn.Sequential(nn.Flatten(), nn.Linear(in_features, num_classes), nn.Softmax(dim=1))

    def ten_classes(in_features, num_classes):  # ignores num_classes, as the article does
        return nn.Sequential(nn.Flatten(), nn.Linear(in_features, 10))

    def no_flatten(in_features, num_classes):
        return nn.Linear(in_features, num_classes)

    def log_softmax_head(in_features, num_classes):  # fine: CrossEntropy of log-probabilities is the same
        return nn.Sequential(nn.Flatten(), nn.Linear(in_features, num_classes), nn.LogSoftmax(dim=1))

    assert lesson07.logits_head.check(right)
    assert lesson07.logits_head.check(log_softmax_head)
    for wrong in (softmax_head, ten_classes, no_flatten):
        assert not lesson07.logits_head.check(wrong)


def test_ece_right_wrong_and_the_course_function_refused():
    def right(probs, labels, n_bins):
        confidence, predicted = probs.max(1), probs.argmax(1)
        bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
        return sum(np.mean(bins == b) * abs((predicted == labels)[bins == b].mean() - confidence[bins == b].mean())
                   for b in range(n_bins) if np.any(bins == b))

    def ignores_bins(probs, labels, n_bins):  # one bin: |accuracy - mean confidence|
        return abs((probs.argmax(1) == labels).mean() - probs.max(1).mean())

    def fixed_ten_bins(probs, labels, n_bins):
        return right(probs, labels, 10)

    def unweighted(probs, labels, n_bins):  # mean gap over bins, not weighted by their size
        confidence, predicted = probs.max(1), probs.argmax(1)
        bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
        return np.mean([abs((predicted == labels)[bins == b].mean() - confidence[bins == b].mean())
                        for b in range(n_bins) if np.any(bins == b)])

    def calls_the_course(probs, labels, n_bins):
        return expected_calibration_error(torch.tensor(probs), torch.tensor(labels), n_bins)

    assert lesson07.ece_by_hand.check(right)
    for wrong in (ignores_bins, fixed_ten_bins, unweighted, calls_the_course):
        assert not lesson07.ece_by_hand.check(wrong)


def test_solutions_come_on_request_only(capsys):
    lesson07.threshold_choice.check(lambda labels, probs, target: 0.5)
    first = capsys.readouterr().out
    assert "Hint:" in first and "Solution:" not in first and "show_solution=True" in first
    lesson07.threshold_choice.check(lambda labels, probs, target: 0.5, show_solution=True)
    assert "Solution: pos = np.sort" in capsys.readouterr().out
