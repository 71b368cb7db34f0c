import gzip

import pytest
import torch

from course_utils.data import datasets
from course_utils.data.datasets import (
    FASHION_MNIST_CLASSES,
    DataNotFoundError,
    LabeledImages,
    load_fashion_mnist,
    load_medmnist,
    load_photos,
)
from tests.conftest import medmnist_available


def test_fashion_mnist_counts_dtypes_and_classes(fashion_train, fashion_test):
    assert fashion_train.images.shape == (60000, 1, 28, 28)
    assert fashion_test.images.shape == (10000, 1, 28, 28)
    assert fashion_train.images.dtype == torch.uint8 and fashion_train.labels.dtype == torch.int64
    assert fashion_train.classes == FASHION_MNIST_CLASSES
    assert torch.bincount(fashion_test.labels).tolist() == [1000] * 10
    assert 60 < fashion_train.images.float().mean() < 80  # real images, not zeros


def test_fashion_mnist_error_names_every_place_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(datasets, "DEBIAN_FASHION_MNIST", tmp_path / "nowhere")
    with pytest.raises(DataNotFoundError) as info:
        load_fashion_mnist("test", download=False)
    message = str(info.value)
    for place in datasets.fashion_mnist_locations():
        assert str(place) in message
    assert "apt-get install dataset-fashion-mnist" in message


def test_fashion_mnist_found_in_course_data_dir_first(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "data" / "fashion-mnist"
    folder.mkdir(parents=True)
    images = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (2).to_bytes(4, "big") * 2 + bytes(range(8))
    labels = bytes([0, 0, 8, 1]) + (2).to_bytes(4, "big") + bytes([3, 7])
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(images))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)
    data = load_fashion_mnist("test", download=False)
    assert data.images.shape == (2, 1, 2, 2) and data.labels.tolist() == [3, 7]


def test_truncated_idx_file_is_named(tmp_path):
    bad = tmp_path / "bad-idx3-ubyte"
    bad.write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(3))
    with pytest.raises(ValueError, match="bad-idx3-ubyte is truncated"):
        datasets._read_idx(bad)


def test_bad_split_is_rejected():
    with pytest.raises(ValueError, match="'validation'"):
        load_fashion_mnist("validation")


def test_labeled_images_checks_shapes():
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        LabeledImages(torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.zeros(2, dtype=torch.long), ["a"])
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        LabeledImages(torch.zeros(3, 2, 2, dtype=torch.uint8), torch.zeros(3, dtype=torch.long), ["a"])


def test_where_labels_relabels(fashion_test):
    shoes = fashion_test.where_labels([5, 7, 9])
    assert len(shoes) == 3000 and shoes.labels.unique().tolist() == [0, 1, 2]
    assert shoes.classes == ["Sandal", "Sneaker", "Ankle boot"]


@pytest.mark.skipif(not medmnist_available(), reason="set MEDMNIST_DIR to the MedMNIST mirror")
def test_medmnist_from_local_mirror():
    train = load_medmnist("breastmnist", "train", download=False)
    test = load_medmnist("retinamnist", "test", download=False)
    assert train.images.shape == (546, 1, 28, 28) and train.labels.tolist().count(1) > 300
    assert test.images.shape == (400, 3, 28, 28) and set(test.labels.tolist()) <= set(range(5))
    assert train.classes == ["malignant", "normal, benign"]


def test_medmnist_wrong_md5_and_absent_file_give_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMNIST_DIR", str(tmp_path))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(datasets.Path, "home", lambda: tmp_path / "home")
    (tmp_path / "breastmnist.npz").write_bytes(b"not the official file")
    with pytest.raises(DataNotFoundError) as info:
        load_medmnist("breastmnist", download=False)
    assert "wrong md5" in str(info.value) and str(tmp_path) in str(info.value)
    with pytest.raises(ValueError, match="unknown MedMNIST flag"):
        load_medmnist("cifarmnist")


def test_photos_are_real_and_square():
    photos = load_photos(("chelsea", "camera"), size=64)
    assert photos.shape == (2, 3, 64, 64) and photos.dtype == torch.uint8
    assert photos[0].float().std() > 20
    with pytest.raises(ValueError, match="no photo 'selfie'"):
        load_photos(("selfie",))
