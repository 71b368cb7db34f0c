"""Evaluation: accuracy, loss and predictions over a loader.

- ``classification``: :func:`accuracy`, :func:`evaluate`, :func:`predict`
- ``multitask``: per-task loss and accuracy, the ``(N, T)`` label convention
- ``repeats``: :func:`mean_sd` and :func:`format_mean_sd` for results over seeds

``from course_utils.evaluation import evaluate`` keeps working: those names are re-exported.
"""

from .classification import accuracy, evaluate, predict
from .repeats import format_mean_sd, mean_sd

__all__ = ["accuracy", "evaluate", "format_mean_sd", "mean_sd", "predict"]
