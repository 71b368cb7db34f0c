"""`python -m course_utils <task>`: the one set-up route that make, Windows and CI share."""

import subprocess
import sys

from course_utils.paths import REPO_ROOT
from course_utils.tasks import CAPABILITIES, run, steps


def test_make_targets_call_the_cross_platform_tasks():
    makefile = (REPO_ROOT / "Makefile").read_text()
    for task in ("lab", "test", "demo $(LESSON)", "unit", "notebooks", "browser", "kit", "lint",
                 "notebooks-full", "unit --cpu-capability avx2"):
        assert f"$(BIN)/python -m course_utils {task}" in makefile, task
    assert "make unit-avx2" in (REPO_ROOT / ".ci" / "run").read_text()


def test_module_entry_point_runs_a_task():
    done = subprocess.run([sys.executable, "-m", "course_utils", "lint", "--dry-run"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "-m ruff check course_utils tests benchmarks notebooks" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "course_utils", "tset"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "invalid choice: 'tset'" in bad.stderr


def test_a_failing_step_stops_the_task(tmp_path, capsys):
    marker = tmp_path / "second-step-ran"
    status = run([(sys.executable, "-c", "raise SystemExit(3)", {}),
                  (sys.executable, "-c", f"open({str(marker)!r}, 'w')", {})])
    assert status == 3 and not marker.exists()
    assert "failed (3)" in capsys.readouterr().err


def test_capability_reaches_the_child_process(tmp_path):
    out = tmp_path / "out.txt"
    probe = (f"import os; open({str(out)!r}, 'w').write("
             "os.environ['ATEN_CPU_CAPABILITY'] + ' ' + os.environ['ONEDNN_MAX_CPU_ISA'])")
    assert run([(sys.executable, "-c", probe, CAPABILITIES["avx2"])]) == 0
    assert out.read_text() == "avx2 AVX2"
    unit = steps("unit", cpu_capability="avx2")[0]
    assert unit[-1] == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert steps("demo", lesson="07", full=True)[-1][-2:-1] == ("--full",)
