"""What a training run records, epoch by epoch, in a form plots and checkpoints take directly.

>>> h = History()
>>> h.record(epoch=1, train_loss=0.9, train_acc=0.6, val_loss=0.8, val_acc=0.7, lr=1e-3, time=2.0)
>>> h.val_acc, h.as_dict()["epoch"]
([0.7], [1])
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class History:
    """Per-epoch lists plus how the run ended.

    ``stopped`` is one of ``"completed"``, ``"early_stopping"``, ``"interrupted"``,
    ``"diverged"``; ``best_epoch`` is the epoch whose weights the model holds at the end.
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

    def record(self, **values: float) -> None:
        """Append one epoch's values; missing metrics (no validation set) are NaN."""
        for name in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "time"):
            getattr(self, name).append(values.get(name, float("nan")))

    def __len__(self) -> int:
        return len(self.epoch)

    def as_dict(self) -> dict:
        """Plain lists and numbers, safe for ``torch.save`` with ``weights_only`` loading."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> History:
        return cls(**values)
