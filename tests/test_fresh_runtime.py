"""Lesson 00 on a fresh online runtime (Colab, a plain `pip install`): nothing prepared, data downloaded.

The runtime is simulated: an empty data folder and HOME, Debian's Fashion-MNIST hidden, and
torchvision's download served over HTTP from a local copy of the files (this machine reaches only
package registries). The lesson's code cells then run to the end in one process, as "Run all"
would. Before lesson 00 called the kit with ``download=True``, cell 5 stopped here with
"Fashion-MNIST is missing".
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from course_utils.data.datasets import DEBIAN_FASHION_MNIST, fashion_mnist_locations
from course_utils.paths import REPO_ROOT
from tests.notebook_scripts import lesson_as_script

LESSON_00 = REPO_ROOT / "notebooks" / "00_setup_and_tour.ipynb"
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
         "t10k-labels-idx1-ubyte.gz")


def local_copy() -> Path | None:
    """A folder holding the four Fashion-MNIST .gz files, if this machine has one."""
    for folder in fashion_mnist_locations():
        if all((folder / name).exists() for name in FILES):
            return folder
    return None


@pytest.fixture
def download_server(tmp_path):
    source = local_copy()
    if source is None:
        pytest.skip("no local copy of Fashion-MNIST to serve")
    served = tmp_path / "mirror"
    served.mkdir()
    for name in FILES:
        shutil.copy(source / name, served / name)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    md5 = {name: hashlib.md5((served / name).read_bytes()).hexdigest() for name in FILES}
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", md5
    finally:
        server.shutdown()


def test_lesson_00_runs_to_the_end_on_a_fresh_online_runtime(tmp_path, download_server):
    url, md5 = download_server
    home, data = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    prelude = f"""
import matplotlib
matplotlib.use("Agg")
from pathlib import Path
import course_utils.data.datasets as datasets
from torchvision.datasets import FashionMNIST

datasets.DEBIAN_FASHION_MNIST = Path({str(tmp_path / "no-debian-package")!r})  # not installed
FashionMNIST.mirrors = [{url!r}]               # the internet, served from a local copy
FashionMNIST.resources = {[(name, md5[name]) for name in FILES]!r}
"""
    script = tmp_path / "lesson00.py"
    script.write_text(prelude + lesson_as_script(LESSON_00) + "\nprint('LESSON 00 RAN TO THE END')\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "COURSE_DATA_DIR": str(data),
           "COURSE_FAST": "1", "TQDM_DISABLE": "1", "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, f"lesson 00 stopped:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert "LESSON 00 RAN TO THE END" in done.stdout
    assert "ok Fashion-MNIST" in done.stdout  # found after the download, not on the machine
    assert all((data / "FashionMNIST" / "raw" / name).exists() for name in FILES)


def test_the_debian_folder_is_the_one_being_hidden():
    assert DEBIAN_FASHION_MNIST in fashion_mnist_locations()
