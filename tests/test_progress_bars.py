"""fit's progress bar inside a real notebook kernel (where tqdm.auto picks the widget bars):
TQDM_DISABLE=1 silences it, and a run leaves one bar behind, not one empty output per epoch."""

import nbformat
import pytest
from nbclient import NotebookClient

from course_utils.training.loop import bars_disabled

CELL = """
import torch
from course_utils import DeviceLoader, SmallCNN, fit
x, y = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8), torch.arange(64) % 10
history = fit(SmallCNN(widths=(4, 8)), DeviceLoader(x, y, batch_size=16), epochs=3)
"""


def widget_outputs(env_value, monkeypatch):
    if env_value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", env_value)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL)])
    NotebookClient(notebook, kernel_name="python3", timeout=120).execute()
    outputs = notebook.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"], outputs
    return [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]


def test_tqdm_disable_silences_the_notebook_bars(monkeypatch):
    assert widget_outputs("1", monkeypatch) == []


def test_a_run_leaves_one_bar_not_one_per_epoch(monkeypatch):
    assert len(widget_outputs(None, monkeypatch)) == 1


@pytest.mark.parametrize(("value", "progress", "off"), [
    ("1", True, True), ("0", True, False), ("", True, False), (None, False, True), (None, True, False)])
def test_bars_disabled_reads_the_environment(monkeypatch, value, progress, off):
    if value is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", value)
    assert bars_disabled(progress) is off
