import re

import numpy as np
import pytest
import torch
from PIL import Image

from course_utils.data.folders import (
    RESIZE_POLICIES,
    ImageFolderDataset,
    UnreadableImageError,
    export_to_folder,
    read_image,
    resize_square,
)


@pytest.fixture
def prefix_folder(tmp_path, fashion_test):
    """Real Fashion-MNIST images saved in the source article's <label>_<name>.png layout."""
    folder = tmp_path / "scans"
    folder.mkdir()
    for i in range(6):
        array = fashion_test.images[i, 0].numpy()
        Image.fromarray(array).save(folder / f"{int(fashion_test.labels[i])}_img{i}.png")
    return folder


def test_prefix_labels_are_the_integers_in_the_file_names(prefix_folder, fashion_test):
    data = ImageFolderDataset(prefix_folder, label_from="prefix", channels=1)
    assert len(data) == 6
    highest = int(fashion_test.labels[:6].max())
    assert data.classes == [str(k) for k in range(highest + 1)]
    for index, (path, label) in enumerate(data.samples):
        assert label == int(path.name.split("_")[0])  # not an index into the classes present
        image, loaded_label = data[index]
        assert image.shape == (1, 28, 28) and image.dtype == torch.uint8 and loaded_label == label


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


def test_prefix_that_is_not_an_integer_is_named(tmp_path):
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "cat_001.png")
    with pytest.raises(ValueError, match=r"cat_001.png: the label prefix 'cat' is not a non-negative integer"):
        ImageFolderDataset(tmp_path, label_from="prefix")


def test_a_class_missing_from_the_folder_is_an_error(prefix_folder, fashion_test):
    names = list(fashion_test.classes)
    present = set(fashion_test.labels[:6].tolist())
    absent = min(set(range(10)) - present)
    with pytest.raises(ValueError, match=rf"no image of class {absent} \('{re.escape(names[absent])}'\)"):
        ImageFolderDataset(prefix_folder, label_from="prefix", classes=names)
    with pytest.raises(ValueError, match="only 2 classes were named"):
        ImageFolderDataset(prefix_folder, label_from="prefix", classes=["a", "b"])


def test_export_and_read_back_is_exact(tmp_path, fashion_test):
    part = fashion_test.subset(slice(0, 120))
    paths = export_to_folder(part, tmp_path / "export")
    assert paths[0].name == f"{int(part.labels[0])}_000.png" and len(paths) == 120
    back = ImageFolderDataset(tmp_path / "export", label_from="prefix", channels=1,
                              classes=part.classes).load_all(size=28)
    assert torch.equal(back.images, part.images) and torch.equal(back.labels, part.labels)
    assert back.classes == part.classes


def test_resize_policies_on_a_real_non_square_photo():
    import skimage.data

    photo = torch.from_numpy(skimage.data.chelsea().copy()).permute(2, 0, 1)  # (3, 300, 451)
    crop, squash, pad = (resize_square(photo, 64, policy) for policy in RESIZE_POLICIES)
    assert crop.shape == squash.shape == pad.shape == (3, 64, 64)
    assert pad[:, :10].max() == 0 and pad[:, 32].float().mean() > 20  # black bars above, photo inside
    assert not torch.equal(crop, squash)
    centre = photo[:, :, 75:375]  # the centre 300 x 300 square, then scaled: what "crop" means
    expected = resize_square(centre, 64, "squash")
    assert (crop.float() - expected.float()).abs().mean() < 3
    assert (squash.float() - expected.float()).abs().mean() > 10  # squashing distorts
    with pytest.raises(ValueError, match="resize must be one of"):
        resize_square(photo, 64, "stretch")
