"""A real browser for the widget tests: Debian's Chromium driven by Playwright, JupyterLab and
Voilà started the way ``make lab`` and ``make demo`` start them (course_utils.classroom).

Where no browser is installed the tests skip and say how to get one. CI installs Chromium
from apt (.ci/run), so there they run.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from course_utils.classroom import course_environment, demo_command, find_chromium, lab_command
from course_utils.paths import REPO_ROOT

SCREENSHOTS = Path(__file__).parent / "screenshots"  # git-ignored; look here when a test fails
HOW_TO_GET_ONE = ("no Chromium found: on Debian/Ubuntu run `sudo apt-get install chromium` "
                  "(or set COURSE_CHROMIUM to a Chromium/Chrome binary); `pip install playwright` "
                  "is part of the course's dev dependencies")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    """Wait until something listens on ``port`` (without requesting a page, which would start work)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s:\n{log.read_text()[-3000:]}")


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def browser():
    path = find_chromium()
    if path is None:
        if os.environ.get("CI") == "true":  # CI installs Chromium: a missing one is a failure there
            pytest.fail(HOW_TO_GET_ONE)
        pytest.skip(HOW_TO_GET_ONE)
    sync_api = pytest.importorskip("playwright.sync_api", reason=HOW_TO_GET_ONE)
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _start(command: list[str], env: dict, cwd: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=cwd, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def lab(tmp_path_factory, browser):
    """JupyterLab on a free port with a token, over a temporary copy of the notebooks, fast mode."""
    root = tmp_path_factory.mktemp("lab")
    notebooks = root / "notebooks"
    shutil.copytree(REPO_ROOT / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = root / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # every cell in the page, so the test can read every prompt; no pop-ups about news or updates
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
    news = root / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    env = course_environment(fast=True) | {"JUPYTERLAB_SETTINGS_DIR": str(root / "settings"),
                                           "JUPYTERLAB_WORKSPACES_DIR": str(root / "workspaces")}
    port, token = free_port(), uuid.uuid4().hex
    log = root / "lab.log"
    process = _start(lab_command(notebooks, port=port, token=token, open_browser=False), env, REPO_ROOT, log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/status?token={token}", process, log)
        yield {"url": f"http://127.0.0.1:{port}", "token": token, "notebooks": notebooks, "log": log}
    finally:
        _stop(process)


@pytest.fixture
def demo_server(tmp_path):
    """Start Voilà for one lesson the way ``make demo LESSON=NN`` does; yields a function."""
    processes = []

    def start(notebook: Path) -> str:
        port = free_port()
        log = tmp_path / "voila.log"
        process = _start(demo_command(notebook, port=port, open_browser=False), course_environment(fast=True),
                         REPO_ROOT, log)
        processes.append(process)
        wait_for_port(port, process, log)
        return f"http://127.0.0.1:{port}/"

    yield start
    for process in processes:
        _stop(process)
