"""Start the course: JupyterLab for learners, a code-free Voilà page for a classroom demo.

``make lab`` and ``make demo LESSON=04`` call this module, and so do the browser tests,
so what is tested is what a teacher runs. Both work as root (common in classroom
containers and cloud images), where JupyterLab would otherwise refuse to start.

>>> lab_command("notebooks", port=8899, token="t", open_browser=False)[:3]  # doctest: +ELLIPSIS
['...', '-m', 'jupyterlab']
>>> "--allow-root" in lab_command("notebooks", running_as_root=True)
True
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from .paths import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"


def find_chromium() -> str | None:
    """A Chromium (or Chrome) binary for the browser tests: ``$COURSE_CHROMIUM``, else the first on PATH."""
    import shutil

    candidates = [os.environ.get("COURSE_CHROMIUM"), shutil.which("chromium"),
                  shutil.which("chromium-browser"), shutil.which("google-chrome")]
    return next((c for c in candidates if c and os.path.exists(c)), None)


def widget_notebooks(notebook_dir: str | Path = NOTEBOOKS) -> list[Path]:
    """The lessons whose code uses ipywidgets: the browser tests run these in JupyterLab.

    >>> "04_adversarial.ipynb" in [p.name for p in widget_notebooks()]
    True
    """
    found = []
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        if any("ipywidgets" in "".join(c["source"]) for c in cells if c["cell_type"] == "code"):
            found.append(path)
    return found


def nbval_notebooks(notebook_dir: str | Path = NOTEBOOKS) -> list[Path]:
    """The lessons ``make notebooks`` runs under nbval in fast mode.

    With a browser present, ``make browser`` runs the lessons that have widgets in fast mode in
    JupyterLab and fails on any cell error, as nbval would; running them twice would only
    cost time, so nbval takes the others. Without a browser, nbval runs every lesson.
    """
    every = sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))
    if find_chromium() is None:
        return every
    in_browser = set(widget_notebooks(notebook_dir))
    return [p for p in every if p not in in_browser]


def running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def lab_command(notebook_dir: str | Path = NOTEBOOKS, port: int | None = None, token: str | None = None,
                open_browser: bool = True, running_as_root: bool | None = None) -> list[str]:
    """The JupyterLab command line: ``--allow-root`` when run as root, the port and token if given."""
    root = running_as_root if running_as_root is not None else globals()["running_as_root"]()
    command = [sys.executable, "-m", "jupyterlab", str(notebook_dir)]
    if root:
        command.append("--allow-root")
    if port is not None:
        command += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1"]
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if not open_browser:
        command.append("--no-browser")
    return command


def lesson_notebook(lesson: str, notebook_dir: str | Path = NOTEBOOKS) -> Path:
    """The notebook of a lesson given by number (``"4"``, ``"04"``) or file name.

    >>> lesson_notebook("4").name
    '04_adversarial.ipynb'
    """
    notebook_dir = Path(notebook_dir)
    if lesson.endswith(".ipynb"):
        path = notebook_dir / lesson
        if not path.exists():
            raise FileNotFoundError(f"no notebook {path}")
        return path
    if not lesson.isdigit():
        raise ValueError(f"LESSON must be a lesson number such as 04, got {lesson!r}")
    matches = sorted(notebook_dir.glob(f"{int(lesson):02d}_*.ipynb"))
    if not matches:
        available = ", ".join(p.name[:2] for p in sorted(notebook_dir.glob("[0-9][0-9]_*.ipynb")))
        raise FileNotFoundError(f"no lesson {lesson} in {notebook_dir}; lessons: {available}")
    return matches[0]


def demo_command(notebook: str | Path, port: int | None = None, open_browser: bool = True) -> list[str]:
    """The Voilà command line: the notebook's widgets and outputs as a page, code cells hidden."""
    command = [sys.executable, "-m", "voila", str(notebook), "--strip_sources=True",
               "--Voila.ip=127.0.0.1"]
    if port is not None:
        command.append(f"--port={port}")
    if not open_browser:
        command.append("--no-browser")
    return command


def course_environment(fast: bool | None = None) -> dict[str, str]:
    """The environment the notebooks run in: progress bars on, inline plots, fast mode if asked."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)  # the notebook's inline backend, not CI's Agg
    env.pop("TQDM_DISABLE", None)
    if fast is not None:
        env["COURSE_FAST"] = "1" if fast else "0"
    return env


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    lab = sub.add_parser("lab", help="open the course in JupyterLab")
    lab.add_argument("notebook_dir", nargs="?", default=str(NOTEBOOKS))
    demo = sub.add_parser("demo", help="serve one lesson's widgets as a page (Voila), for a class")
    demo.add_argument("lesson", help="lesson number, e.g. 04")
    demo.add_argument("--full", action="store_true", help="full mode (default: fast mode, starts sooner)")
    demo.add_argument("--port", type=int, default=None)
    sub.add_parser("nbval-notebooks", help="print the notebooks `make notebooks` runs under nbval")
    args = parser.parse_args(argv)
    if args.what == "nbval-notebooks":
        print(" ".join(str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p)
                       for p in nbval_notebooks()))
        return
    if args.what == "lab":
        command, env = lab_command(args.notebook_dir), course_environment()
    else:
        notebook = lesson_notebook(args.lesson)
        command, env = demo_command(notebook, port=args.port), course_environment(fast=not args.full)
        print(f"Serving {notebook.name} (fast mode: {not args.full}); the page appears once every cell has run.")
    raise SystemExit(subprocess.call(command, env=env, cwd=REPO_ROOT))


if __name__ == "__main__":
    main()
