"""What a training run records, epoch by epoch, in a form plots and checkpoints take directly.

>>> h = History()
>>> h.record(epoch=1, train_loss=0.9, train_acc=0.6, val_loss=0.8, val_acc=0.7, lr=1e-3, time=2.0)
>>> h.val_acc, h.as_dict()["epoch"]
([0.7], [1])

Any other metric, such as one task's accuracy in multi-task training, goes to ``extra``:

>>> h.record(epoch=2, val_acc=0.8, val_acc_coarse=0.9)
>>> h.extra["val_acc_coarse"], h.metric("val_acc")
([nan, 0.9], [0.7, 0.8])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

CORE_METRICS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time")


@dataclass
class History:
    """Per-epoch lists plus how the run ended.

    ``stopped`` is one of ``"completed"``, ``"early_stopping"``, ``"interrupted"``,
    ``"diverged"``; ``best_epoch`` is the epoch whose weights the model holds at the end.
    ``extra`` holds further per-epoch metrics by name (per-task losses and accuracies,
    task weights), each a list as long as ``epoch``, NaN where an epoch lacks it.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    best_score: float | None = None
    stopped: str = "not started"
    extra: dict[str, list[float]] = field(default_factory=dict)

    def record(self, **values: float) -> None:
        """Append one epoch's values; missing metrics (no validation set) are NaN."""
        for name in CORE_METRICS:
            getattr(self, name).append(values.get(name, float("nan")))
        for name, value in values.items():
            if name not in CORE_METRICS:
                self.add(name, value)

    def add(self, name: str, value: float) -> None:
        """Set the extra metric ``name`` for the latest recorded epoch (a callback may call this)."""
        if not len(self):
            raise ValueError(f"no epoch recorded yet to add {name!r} to")
        column = self.metric(name)
        column[-1] = value

    def metric(self, name: str) -> list[float]:
        """The per-epoch list of ``name``, core or extra (an extra one padded with NaN to every epoch)."""
        if name in CORE_METRICS:
            return getattr(self, name)
        column = self.extra.setdefault(name, [])
        column.extend([float("nan")] * (len(self) - len(column)))
        return column

    def __len__(self) -> int:
        return len(self.epoch)

    def as_dict(self) -> dict:
        """Plain lists and numbers, safe for ``torch.save`` with ``weights_only`` loading."""
        for name in self.extra:
            self.metric(name)  # pad every extra column to full length
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> History:
        return cls(**values)
