"""Run notebooks under nbval, one pytest process each, and print a table of their times.

    python -m benchmarks.run_notebooks                        # every notebook, fast mode
    python -m benchmarks.run_notebooks --mode full notebooks/03_fine_tuning.ipynb
    python -m benchmarks.run_notebooks --mode both            # fast, then full (make gpu-check)

Fast mode sets ``COURSE_FAST=1``; full mode removes it. Each notebook runs in its own
``python -m pytest --nbval --nbval-current-env`` subprocess (the Python running this
script), so one notebook's failure or hang does not stop the others and its wall time is
its own. pytest's output goes to the console as it comes; the table comes at the end.
The exit status is 1 if any notebook failed, else 0.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MODES = {"fast": ("fast",), "full": ("full",), "both": ("fast", "full")}
NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass
class NotebookRun:
    notebook: str
    mode: str       # "fast" or "full"
    seconds: float  # wall time of the pytest process
    returncode: int

    @property
    def passed(self) -> bool:
        return self.returncode == 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run notebooks under nbval and time each one.")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebook files (default: every notebooks/*.ipynb, in order)")
    parser.add_argument("--mode", choices=sorted(MODES), default="fast",
                        help="fast (COURSE_FAST=1), full, or both: fast then full (default: fast)")
    parser.add_argument("--cell-timeout", type=int, default=900,
                        help="seconds one cell may run before nbval fails it (default: 900)")
    args = parser.parse_args(argv)
    args.notebooks = args.notebooks or sorted(NOTEBOOK_DIR.glob("*.ipynb"))
    missing = [str(path) for path in args.notebooks if not path.is_file()]
    if missing:
        parser.error(f"no such notebook: {', '.join(missing)}")
    if not args.notebooks:
        parser.error(f"no notebooks found in {NOTEBOOK_DIR}")
    args.modes = MODES[args.mode]
    return args


def nbval_command(notebook: Path, cell_timeout: int, python: str = sys.executable) -> list[str]:
    """The pytest command line that runs one notebook under nbval."""
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval", "--nbval-current-env",
            f"--nbval-cell-timeout={cell_timeout}", str(notebook)]


def mode_environment(mode: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with COURSE_FAST set for ``mode``."""
    env = dict(os.environ if base is None else base)
    if mode == "fast":
        env["COURSE_FAST"] = "1"
    elif mode == "full":
        env.pop("COURSE_FAST", None)
    else:
        raise ValueError(f"mode must be 'fast' or 'full', got {mode!r}")
    return env


def run_notebook(notebook: Path, mode: str, cell_timeout: int = 900) -> NotebookRun:
    """Run one notebook in a subprocess; its output streams to this console."""
    print(f"=== {notebook} ({mode} mode)", flush=True)
    start = time.perf_counter()
    completed = subprocess.run(nbval_command(notebook, cell_timeout), env=mode_environment(mode))
    return NotebookRun(str(notebook), mode, time.perf_counter() - start, completed.returncode)


def format_table(runs: Sequence[NotebookRun]) -> str:
    """A plain-text table: one row per run, then the total time and the failures."""
    width = max([len("notebook")] + [len(run.notebook) for run in runs])
    lines = [f"{'notebook':<{width}}  {'mode':<4}  {'seconds':>8}  result",
             f"{'-' * width}  ----  {'-' * 8}  ------"]
    for run in runs:
        result = "passed" if run.passed else f"FAILED (exit {run.returncode})"
        lines.append(f"{run.notebook:<{width}}  {run.mode:<4}  {run.seconds:8.1f}  {result}")
    failed = sum(not run.passed for run in runs)
    lines.append(f"{len(runs)} runs in {sum(run.seconds for run in runs):.1f} s; "
                 + (f"{failed} failed" if failed else "all passed"))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs = [run_notebook(notebook, mode, args.cell_timeout)
            for mode in args.modes for notebook in args.notebooks]
    print(format_table(runs), flush=True)
    return 0 if all(run.passed for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
