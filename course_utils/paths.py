"""Where the course keeps data, caches and checkpoints.

Notebooks never write ``../data``: the kernel starts in ``notebooks/`` locally and
in ``/content`` on Colab. Every path comes from here instead.

>>> from course_utils.paths import data_dir
>>> data_dir().name  # doctest: +SKIP
'data'
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Debian's ``dataset-fashion-mnist`` package installs the four idx files here.
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def data_dir() -> Path:
    """The folder for downloaded data and caches.

    ``COURSE_DATA_DIR`` wins; otherwise the repository's ``data/`` folder when the
    package runs from a checkout; otherwise ``~/.cache/course_utils``.
    """
    if env := os.environ.get("COURSE_DATA_DIR"):
        path = Path(env).expanduser()
    elif (REPO_ROOT / "pyproject.toml").exists():
        path = REPO_ROOT / "data"
    else:
        path = Path.home() / ".cache" / "course_utils"
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Folder for computed artefacts (features, checkpoints): ``COURSE_CACHE_DIR`` or ``data_dir()/cache``."""
    env = os.environ.get("COURSE_CACHE_DIR")
    path = Path(env).expanduser() if env else data_dir() / "cache"
    path.mkdir(parents=True, exist_ok=True)
    return path


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` asks for the small CI-sized version of a lesson.

    >>> fast_mode() in (True, False)
    True
    """
    return os.environ.get("COURSE_FAST", "0").strip().lower() not in ("", "0", "false", "no")
