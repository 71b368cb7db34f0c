"""Training: the ``fit`` loop and what it records, saves and schedules.

- ``loop``: :func:`fit`, :class:`FitConfig`, callbacks
- ``history``: the per-epoch record a plot takes directly
- ``checkpoints``: atomic saves, ``weights_only`` loads
- ``lr_finder``: the learning-rate range test
- ``finetune``: phased unfreezing and two-phase fine-tuning
- ``multitask``: weighted and learned (uncertainty) multi-task losses, task-weight logging
- ``gradients``: gradient conflict between tasks, PCGrad

``from course_utils.training import fit`` keeps working: the loop's names are re-exported.
"""

from .loop import Callback, FitConfig, Trainer, TrainingDivergedError, fit, save_run

__all__ = ["Callback", "FitConfig", "Trainer", "TrainingDivergedError", "fit", "save_run"]
