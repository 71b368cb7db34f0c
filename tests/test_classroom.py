"""`make lab` and `make demo` start real servers, also as root (classroom containers run as root)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

from course_utils.classroom import course_environment, demo_command, lab_command, lesson_notebook


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str, process: subprocess.Popen, timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status == 200
        except OSError:
            time.sleep(0.5)
    return False


def test_lab_command_starts_jupyterlab_as_whoever_runs_it(tmp_path):
    port, token = _free_port(), uuid.uuid4().hex
    command = lab_command(tmp_path, port=port, token=token, open_browser=False)
    log = (tmp_path / "lab.log").open("w")
    process = subprocess.Popen(command, env=course_environment(), stdout=log, stderr=subprocess.STDOUT)
    try:
        ok = _answers(f"http://127.0.0.1:{port}/api/status?token={token}", process)
        assert ok, f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_root_gets_allow_root_and_others_do_not():
    assert "--allow-root" in lab_command(running_as_root=True)
    assert "--allow-root" not in lab_command(running_as_root=False)


def test_demo_command_hides_code_and_serves_the_lesson():
    command = demo_command(lesson_notebook("04"), port=8123, open_browser=False)
    assert command[1:3] == ["-m", "voila"] and command[3].endswith("04_adversarial.ipynb")
    assert "--strip_sources=True" in command and "--port=8123" in command


def test_course_environment_sets_the_mode_and_keeps_inline_plots(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = course_environment(fast=True)
    assert env["COURSE_FAST"] == "1" and "MPLBACKEND" not in env
    assert course_environment(fast=False)["COURSE_FAST"] == "0"


@pytest.mark.parametrize("bad, message", [("4x", "lesson number"), ("42", "no lesson 42")])
def test_unknown_lessons_are_named(bad, message):
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        lesson_notebook(bad)
