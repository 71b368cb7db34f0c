"""Evaluation: accuracy, loss and predictions over a loader.

- ``classification``: :func:`accuracy`, :func:`evaluate`, :func:`predict`
- ``multitask``: per-task loss and accuracy, the ``(N, T)`` label convention

``from course_utils.evaluation import evaluate`` keeps working: those names are re-exported.
"""

from .classification import accuracy, evaluate, predict

__all__ = ["accuracy", "evaluate", "predict"]
