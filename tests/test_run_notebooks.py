"""The notebook runner (benchmarks/run_notebooks.py): arguments, environment, table, exit status."""

import nbformat
import pytest

from benchmarks.run_notebooks import (
    NotebookRun,
    format_table,
    main,
    mode_environment,
    nbval_command,
    parse_args,
)


def test_default_is_every_course_notebook_in_fast_mode():
    args = parse_args([])
    names = [path.name for path in args.notebooks]
    assert args.modes == ("fast",)
    assert names == sorted(names) and names[0].startswith("00_") and len(names) >= 6


def test_both_means_fast_then_full(tmp_path):
    notebook = tmp_path / "a.ipynb"
    notebook.write_text("{}")
    args = parse_args(["--mode", "both", "--cell-timeout", "60", str(notebook)])
    assert args.modes == ("fast", "full") and args.notebooks == [notebook] and args.cell_timeout == 60


@pytest.mark.parametrize("argv", [["missing.ipynb"], ["--mode", "slow"]])
def test_bad_arguments_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "missing.ipynb" in capsys.readouterr().err or argv[0] == "--mode"


def test_mode_environment_sets_or_removes_course_fast():
    base = {"COURSE_FAST": "1", "PATH": "/bin"}
    assert mode_environment("fast", {"PATH": "/bin"})["COURSE_FAST"] == "1"
    assert "COURSE_FAST" not in mode_environment("full", base)
    assert base["COURSE_FAST"] == "1"  # the caller's mapping is left alone
    with pytest.raises(ValueError, match="fast"):
        mode_environment("quick", base)


def test_nbval_command_runs_one_notebook_with_the_cell_timeout():
    command = nbval_command("notebooks/00_setup_and_tour.ipynb", 120, python="python3")
    assert command[:3] == ["python3", "-m", "pytest"]
    assert {"--nbval", "--nbval-current-env", "--nbval-cell-timeout=120"} <= set(command)
    assert command[-1] == "notebooks/00_setup_and_tour.ipynb"


def test_table_lists_each_run_and_counts_failures():
    runs = [NotebookRun("notebooks/00_setup_and_tour.ipynb", "fast", 12.34, 0),
            NotebookRun("notebooks/00_setup_and_tour.ipynb", "full", 30.0, 1)]
    table = format_table(runs).splitlines()
    assert table[0].split() == ["notebook", "mode", "seconds", "result"]
    assert table[2].split() == ["notebooks/00_setup_and_tour.ipynb", "fast", "12.3", "passed"]
    assert "FAILED (exit 1)" in table[3] and "30.0" in table[3]
    assert table[-1] == "2 runs in 42.3 s; 1 failed"
    assert format_table(runs[:1]).endswith("all passed")


@pytest.mark.slow  # two nbval processes, each starting a kernel: about 5-15 s here
def test_runs_a_tiny_notebook_in_both_modes(tmp_path, capfd):
    # passes only where COURSE_FAST=1 reaches the kernel: fast passes, full fails
    notebook = tmp_path / "needs_fast_mode.ipynb"
    cell = nbformat.v4.new_code_cell('import os\nassert os.environ.get("COURSE_FAST") == "1"')
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), notebook)
    status = main(["--mode", "both", "--cell-timeout", "60", str(notebook)])
    rows = [line.split() for line in capfd.readouterr().out.splitlines() if line.startswith(str(notebook))]
    assert status == 1
    assert [row[1] for row in rows] == ["fast", "full"]
    assert rows[0][3] == "passed" and rows[1][3] == "FAILED"
