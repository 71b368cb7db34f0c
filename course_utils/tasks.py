"""The course's commands on any system: ``python -m course_utils lab | demo 04 | test | ...``.

``make lab`` and ``make test`` call these, so Linux, macOS and Windows (where there is often
no ``make`` and the venv's Python is ``.venv\\Scripts\\python``) run the same code. Every step
runs with the Python that runs this module, so run it with the course's virtual environment.

>>> [step[2] for step in steps("test")]  # doctest: +NORMALIZE_WHITESPACE
['course_utils.data.kit', 'ruff', 'pytest', 'pytest', 'pytest']
>>> steps("unit", cpu_capability="avx2")[0][-1]
{'ATEN_CPU_CAPABILITY': 'avx2', 'ONEDNN_MAX_CPU_ISA': 'AVX2'}
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from .paths import REPO_ROOT

# (argv..., extra environment): one step of a task
Step = tuple


def _python(*args: str, env: dict[str, str] | None = None) -> Step:
    return (sys.executable, "-m", *args, env or {})


def _nbval_notebooks() -> list[str]:
    from .classroom import nbval_notebooks

    return [str(p.relative_to(REPO_ROOT)) for p in nbval_notebooks()]


# ATEN_CPU_CAPABILITY picks PyTorch's kernels; ONEDNN_MAX_CPU_ISA caps oneDNN's instructions.
# "avx2" runs a machine with AVX-512 as a learner's AVX2-only laptop computes (last bits differ).
CAPABILITIES = {
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "default": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41"},
}


def steps(task: str, lesson: str = "04", full: bool = False, cpu_capability: str | None = None) -> list[Step]:
    """The commands a task runs, in order (``test`` is ``kit``, ``lint``, ``unit``, ``notebooks``, ``browser``)."""
    capability = CAPABILITIES[cpu_capability] if cpu_capability else {}
    single = {
        "kit": lambda: [_python("course_utils.data.kit", "--prepare")],
        "lint": lambda: [_python("ruff", "check", "course_utils", "tests", "benchmarks", "notebooks")],
        "unit": lambda: [_python("pytest", "-q", "--doctest-modules", "course_utils", "tests",
                                 "--ignore=tests/browser", env=capability)],
        "notebooks": lambda: [_python("pytest", "-q", "--nbval", "--nbval-current-env",
                                      "--nbval-cell-timeout=900", *_nbval_notebooks(),
                                      env={"COURSE_FAST": "1", **capability})],
        "browser": lambda: [_python("pytest", "-q", "-s", "-p", "no:cacheprovider", "tests/browser",
                                    env=capability)],
        "notebooks-full": lambda: [_python("benchmarks.run_notebooks", "--mode", "full",
                                           "--cell-timeout", "1500", env=capability)],
        "lab": lambda: [*single["kit"](), _python("course_utils.classroom", "lab")],
        "demo": lambda: [*single["kit"](), _python("course_utils.classroom", "demo", lesson,
                                                   *(["--full"] if full else []))],
    }
    if task == "test":
        return [step for name in ("kit", "lint", "unit", "notebooks", "browser") for step in single[name]()]
    return single[task]()


def base_environment() -> dict[str, str]:
    """Quiet progress bars and a file-only plot backend for tests, and MedMNIST from a local mirror.

    The mirror is ``../shared/data/medmnist`` beside the checkout, used when it holds the
    official files and ``MEDMNIST_DIR`` is not set already.
    """
    env = dict(os.environ)
    env.setdefault("TQDM_DISABLE", "1")
    env.setdefault("MPLBACKEND", "Agg")
    mirror = REPO_ROOT.parent / "shared" / "data" / "medmnist"
    if "MEDMNIST_DIR" not in env and any(mirror.glob("*.npz")):
        env["MEDMNIST_DIR"] = str(mirror)
    return env


def _call(argv: list[str], env: dict[str, str]) -> int:
    """Run one step; on Ctrl+C let the child (JupyterLab, pytest) shut down before returning."""
    child = subprocess.Popen(argv, cwd=REPO_ROOT, env=env)
    try:
        return child.wait()
    except KeyboardInterrupt:
        try:
            return child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


def run(task_steps: list[Step], dry_run: bool = False) -> int:
    """Run the steps in order and stop at the first that fails; return its exit status."""
    for *argv, extra in task_steps:
        shown = " ".join([*(f"{k}={v}" for k, v in extra.items()), *map(str, argv)])
        print(f"--> {shown}", flush=True)
        if dry_run:
            continue
        if "--nbval" in argv and not any(str(a).endswith(".ipynb") for a in argv):
            print("    (no notebook left for nbval: the browser tests run them all)")
            continue
        status = _call(argv, {**base_environment(), **extra})
        if status != 0:
            print(f"failed ({status}): {shown}", file=sys.stderr)
            return status
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils", description=__doc__.splitlines()[0])
    parser.add_argument("task", choices=["lab", "demo", "test", "kit", "lint", "unit", "notebooks",
                                         "browser", "notebooks-full"])
    parser.add_argument("lesson", nargs="?", default="04", help="demo: the lesson number (default 04)")
    parser.add_argument("--full", action="store_true", help="demo: full mode (default: fast, starts sooner)")
    parser.add_argument("--cpu-capability", choices=sorted(CAPABILITIES),
                        help="run with PyTorch's and oneDNN's kernels for this processor level")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args(argv)
    return run(steps(args.task, args.lesson, args.full, args.cpu_capability), dry_run=args.dry_run)
