"""Shared fixtures: real data and the pretrained backbone, loaded once per test session."""

import os

import pytest
import torch

from course_utils import efficientnet_lite0, load_fashion_mnist


@pytest.fixture(scope="session")
def fashion_train():
    return load_fashion_mnist("train")


@pytest.fixture(scope="session")
def fashion_test():
    return load_fashion_mnist("test")


@pytest.fixture(scope="session")
def lite0():
    return efficientnet_lite0()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Caches written by a test go to a temporary folder; data sets are found where they are."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(0)


def medmnist_available() -> bool:
    folder = os.environ.get("MEDMNIST_DIR", "")
    return bool(folder) and os.path.exists(os.path.join(folder, "breastmnist.npz"))
