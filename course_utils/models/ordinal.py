"""Ordinal labels: grades 0 < 1 < ... < K-1, where predicting 3 for a 4 is better than 0.

Plain cross-entropy treats the K grades as unrelated names. The *cumulative* (or
"extended binary") formulation asks K-1 yes/no questions instead, one per boundary:
"is the grade above k?" for k = 0 .. K-2 (Frank and Hall, 2001; Niu et al., 2016).
A grade g becomes the targets ``[1]*g + [0]*(K-1-g)``; the head has K-1 outputs trained
with binary cross-entropy; the predicted grade is the number of "yes" answers.

>>> import torch
>>> ordinal_targets(torch.tensor([0, 2, 4]), num_grades=5)
tensor([[0., 0., 0., 0.],
        [1., 1., 0., 0.],
        [1., 1., 1., 1.]])
>>> ordinal_to_grade(torch.tensor([[3.0, 1.0, -2.0, -4.0]]))
tensor([2])
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _check_grades(labels: torch.Tensor, num_grades: int) -> None:
    if torch.is_floating_point(labels):
        raise ValueError(f"grades must be integers 0..{num_grades - 1}, got a {labels.dtype} tensor")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_grades):
        raise ValueError(f"grades must lie in 0..{num_grades - 1}, got {int(labels.min())}..{int(labels.max())}")


def ordinal_targets(labels: torch.Tensor, num_grades: int) -> torch.Tensor:
    """``(N,)`` grades to ``(N, num_grades - 1)`` float targets: entry k is 1 when grade > k."""
    _check_grades(labels, num_grades)
    boundaries = torch.arange(num_grades - 1, device=labels.device)
    return (labels[:, None] > boundaries).float()


def ordinal_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the K-1 boundary logits against the cumulative targets.

    Use it as ``fit(..., loss_fn=ordinal_loss)`` with a head of ``num_grades - 1`` outputs.
    """
    if logits.ndim != 2:
        raise ValueError(f"ordinal logits must be (N, K-1), got shape {tuple(logits.shape)}")
    return F.binary_cross_entropy_with_logits(logits, ordinal_targets(labels, logits.shape[1] + 1))


def ordinal_to_grade(logits: torch.Tensor) -> torch.Tensor:
    """Predicted grade: how many boundary probabilities exceed one half."""
    return (logits > 0).sum(dim=1)


def ordinal_to_probs(logits: torch.Tensor) -> torch.Tensor:
    """``(N, K)`` grade probabilities from the boundary logits, for AUC and calibration.

    ``P(grade = k) = P(grade > k-1) - P(grade > k)``; the boundary probabilities are first
    made non-increasing (a running minimum), so no probability is negative.

    >>> ordinal_to_probs(torch.tensor([[0.0, -10.0]])).round(decimals=3)
    tensor([[0.5000, 0.5000, 0.0000]])
    """
    above = torch.sigmoid(logits.float()).cummin(dim=1).values  # P(grade > k), non-increasing
    ones = torch.ones(len(above), 1, device=above.device)
    zeros = torch.zeros(len(above), 1, device=above.device)
    return torch.cat([ones, above], dim=1) - torch.cat([above, zeros], dim=1)


def mean_absolute_error(predicted: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean number of grades between prediction and truth (0 is perfect).

    >>> mean_absolute_error(torch.tensor([0, 2, 4]), torch.tensor([1, 2, 2]))
    1.0
    """
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted {tuple(predicted.shape)} and labels {tuple(labels.shape)} differ in shape")
    return (predicted.float() - labels.float()).abs().mean().item()
