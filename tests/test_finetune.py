import pytest
import torch

from course_utils.data.loaders import DeviceLoader
from course_utils.data.splits import few_shot
from course_utils.evaluation import evaluate
from course_utils.models.backbones import SmallCNN
from course_utils.models.surgery import count_parameters, stages
from course_utils.training import Callback
from course_utils.training.finetune import (
    freeze_batchnorm,
    gradual_unfreeze,
    merge_histories,
    two_phase_fine_tune,
    unfreeze_schedule,
)
from course_utils.training.history import History


class Recorder(Callback):
    """Remembers, for every phase, the trainable parameters and the optimizer's learning rates."""

    def __init__(self):
        self.trainable, self.lrs, self.first_bn_mean = [], [], []

    def before_fit(self, trainer):
        self.trainable.append(count_parameters(trainer.model))
        self.lrs.append(sorted({group["lr"] for group in trainer.optimizer.param_groups}))

    def after_fit(self, trainer):
        self.first_bn_mean.append(trainer.model.stages[0][1].running_mean.clone())


@pytest.fixture(scope="module")
def loaders(fashion_train):
    data = few_shot(fashion_train, 30, seed=0)  # 300 real images
    val = few_shot(fashion_train.subset(torch.arange(50000, 60000)), 10, seed=1)
    return (DeviceLoader.from_data(data, batch_size=50, shuffle=True),
            DeviceLoader.from_data(val, batch_size=100))


def test_unfreeze_schedule():
    assert unfreeze_schedule(9) == [0, 9]
    assert unfreeze_schedule(9, steps=3) == [0, 3, 6, 9]
    assert unfreeze_schedule(3, steps=5) == [0, 1, 2, 3]  # never more phases than stages
    with pytest.raises(ValueError):
        unfreeze_schedule(0)


def test_merge_histories_renumbers_and_picks_the_best_phase():
    a, b = History(best_epoch=2, best_score=0.4), History(best_epoch=1, best_score=0.9)
    for epoch, loss in ((1, 0.5), (2, 0.4)):
        a.record(epoch=epoch, val_loss=loss)
    b.record(epoch=1, val_loss=0.9)
    merged = merge_histories([a, b], monitor="val_loss")  # a loss: lower is better
    assert merged.epoch == [1, 2, 3] and merged.val_loss == [0.5, 0.4, 0.9]
    assert (merged.best_epoch, merged.best_score) == (2, 0.4)
    assert merge_histories([a, b], monitor="val_acc").best_epoch == 3


def test_two_phase_freezes_then_unfreezes_with_discriminative_rates(loaders):
    torch.manual_seed(0)
    model = SmallCNN()
    bn_before = model.stages[0][1].running_mean.clone()
    recorder = Recorder()
    history = two_phase_fine_tune(model, *loaders, head_epochs=1, epochs=2, head_lr=3e-3,
                                  lr=1e-3, backbone_lr=1e-4, callbacks=[recorder],
                                  progress=False)
    assert recorder.trainable == [128 * 10 + 10, count_parameters(model, trainable_only=False)]
    assert recorder.lrs == [[3e-3], [1e-4, 1e-3]]
    # phase 1 left the frozen backbone's BatchNorm statistics alone; phase 2 updated them
    assert torch.equal(recorder.first_bn_mean[0], bn_before)
    assert not torch.equal(recorder.first_bn_mean[1], bn_before)
    assert history.epoch == [1, 2, 3] and history.stopped == "completed"
    # the model holds the best epoch's weights
    assert evaluate(model, loaders[1])["acc"] == pytest.approx(history.best_score)
    assert history.best_score == max(history.val_acc)
    assert history.train_loss[-1] < history.train_loss[0] - 0.3  # it learned


def test_gradual_unfreeze_grows_the_trainable_part(loaders):
    torch.manual_seed(0)
    model = SmallCNN()
    recorder = Recorder()
    schedule = unfreeze_schedule(len(stages(model)), steps=3)
    history = gradual_unfreeze(model, loaders[0], None, schedule=schedule, epochs=[1, 1, 1, 1],
                               callbacks=[recorder], progress=False)
    assert recorder.trainable == sorted(recorder.trainable) and len(set(recorder.trainable)) == 4
    assert len(history) == 4 and history.best_epoch is not None  # monitors train_loss
    with pytest.raises(ValueError, match="4 phases but 2 epoch counts"):
        gradual_unfreeze(model, loaders[0], schedule=schedule, epochs=[1, 1])


def test_frozen_batchnorm_keeps_statistics_in_every_phase(loaders):
    torch.manual_seed(0)
    model = SmallCNN()
    bn_before = model.stages[0][1].running_mean.clone()
    recorder = Recorder()
    two_phase_fine_tune(model, *loaders, head_epochs=1, epochs=1, frozen_batchnorm=True,
                        callbacks=[recorder], progress=False)
    assert all(torch.equal(mean, bn_before) for mean in recorder.first_bn_mean)
    bn_params = sum(p.numel() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)
                    for p in m.parameters())
    assert recorder.trainable[1] == count_parameters(model, trainable_only=False) - bn_params
    conv = model.stages[0][0].weight
    assert conv.requires_grad and not model.stages[0][1].weight.requires_grad


def test_freeze_batchnorm_survives_train_mode():
    model = freeze_batchnorm(SmallCNN()).train()
    bn = model.stages[1][1]
    before = bn.running_var.clone()
    model(torch.rand(8, 1, 28, 28))
    assert not bn.training and torch.equal(bn.running_var, before)
