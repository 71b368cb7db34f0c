"""`make` on a machine whose Python cannot make a venv with pip (Debian/Ubuntu without python3-venv)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_a_half_made_venv_is_removed_with_the_fix_named(tmp_path):
    for name in ("Makefile", "constraints.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True)
    # PYTHON=false: `python3 -m venv` fails, as it does without python3-venv
    result = subprocess.run(["make", "-s", ".venv/.installed", "PYTHON=false"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "sudo apt-get install python3-venv" in result.stdout + result.stderr
    assert not (tmp_path / ".venv").exists()  # not left for the next `make lab` to trip over
