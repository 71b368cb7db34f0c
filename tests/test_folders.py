import numpy as np
import pytest
import torch
from PIL import Image

from course_utils.data.folders import ImageFolderDataset, UnreadableImageError, read_image


@pytest.fixture
def prefix_folder(tmp_path, fashion_test):
    """Real Fashion-MNIST images saved in the source article's <label>_<name>.png layout."""
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(6):
        array = fashion_test.images[i, 0].numpy()
        Image.fromarray(array).save(folder / f"{int(fashion_test.labels[i])}_img{i}.png")
    return folder


def test_prefix_labels_follow_the_file_names(prefix_folder, fashion_test):
    data = ImageFolderDataset(prefix_folder, label_from="prefix", channels=1)
    assert len(data) == 6
    names = {int(name) for name in data.classes}
    assert names == set(fashion_test.labels[:6].tolist())
    image, label = data[0]
    path = data.samples[0][0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.uint8
    assert data.classes[label] == path.name.split("_")[0]


def test_folder_layout_and_modes(tmp_path):
    (tmp_path / "b_class").mkdir()
    (tmp_path / "a_class").mkdir()
    gray = np.linspace(0, 255, 64, dtype=np.uint8).reshape(8, 8)
    Image.fromarray(gray).save(tmp_path / "a_class" / "gray.png")
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 0  # fully transparent: composited on white
    Image.fromarray(rgba, "RGBA").save(tmp_path / "b_class" / "rgba.png")
    deep = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    Image.fromarray(deep).save(tmp_path / "b_class" / "deep16.png")
    data = ImageFolderDataset(tmp_path)
    assert data.classes == ["a_class", "b_class"]
    images = {path.name: data[i][0] for i, (path, _) in enumerate(data.samples)}
    assert images["gray.png"].shape == (3, 8, 8) and torch.equal(images["gray.png"][0], images["gray.png"][2])
    assert images["rgba.png"].min() == 255  # transparent -> white
    deep16 = images["deep16.png"][0].flatten()
    assert deep16[-1] == round(63000 / 65535 * 255) and deep16[0] == 0
    assert read_image(tmp_path / "b_class" / "deep16.png").dtype == torch.uint8
    loaded = data.load_all(size=4)
    assert loaded.images.shape == (3, 3, 4, 4) and loaded.labels.tolist() == [0, 1, 1]


def test_corrupt_file_error_names_the_file(prefix_folder):
    bad = prefix_folder / "3_broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not a png")
    data = ImageFolderDataset(prefix_folder, label_from="prefix")
    index = [p for p, _ in data.samples].index(bad)
    with pytest.raises(UnreadableImageError, match="3_broken.png"):
        data[index]


def test_skip_mode_warns_with_every_skipped_file(prefix_folder):
    for name in ("1_broken.png", "2_empty.png"):
        (prefix_folder / name).write_bytes(b"" if "empty" in name else b"garbage")
    with pytest.warns(UserWarning, match="skipped 2 unreadable") as record:
        data = ImageFolderDataset(prefix_folder, label_from="prefix", on_error="skip")
    message = str(record[0].message)
    assert "1_broken.png" in message and "2_empty.png" in message
    assert len(data) == 6 and len(data.skipped) == 2


def test_bad_layouts_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ImageFolderDataset(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no images"):
        ImageFolderDataset(tmp_path)
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "nolabel.png")
    with pytest.raises(ValueError, match="nolabel.png does not follow the <label>_<name>"):
        ImageFolderDataset(tmp_path, label_from="prefix")
