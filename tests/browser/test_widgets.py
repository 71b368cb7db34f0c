"""Every lesson's widgets, used in a real browser: JupyterLab runs the lesson in fast mode, the test
moves each widget's first control and checks that the output changes, that no cell errored,
that no figure is shown twice, and that the browser console stayed clean. It prints the
response times; a widget that does not train must answer within 2 seconds on the 2-core CPU,
one that trains must show progress within 2 seconds.

Run: ``make browser`` (part of ``make test``). Screenshots: tests/browser/screenshots/.
"""

from __future__ import annotations

import pytest

from course_utils.classroom import widget_notebooks

from .conftest import SCREENSHOTS
from .pages import (
    ConsoleLog,
    RunStopped,
    errored_cells,
    figures,
    open_notebook,
    run_all,
    save_and_read,
    shut_down_kernels,
    use_control,
    wait_until_run,
    widget_cells,
)

pytestmark = pytest.mark.browser
RESPONSE_BUDGET_S = 2.0


@pytest.mark.parametrize("name", [p.name for p in widget_notebooks()])
def test_lesson_widgets_respond_in_jupyterlab(browser, lab, name):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console = ConsoleLog()
    console.attach(page)
    shot = SCREENSHOTS / name.replace(".ipynb", "")
    try:
        open_notebook(page, lab, name)
        run_all(page)
        try:
            seconds, stopped = wait_until_run(page, timeout=600), None
        except (RunStopped, TimeoutError) as error:
            seconds, stopped = None, error
        notebook = save_and_read(page, lab["notebooks"] / name)  # says which cell failed, and why
        errors = errored_cells(notebook)
        assert stopped is None and errors == [], f"{name}: {stopped or 'ran'}; cells errored: {errors}"
        areas = widget_cells(page)
        assert areas, f"{name}: no widget rendered (is the ipywidgets front end installed?)"
        print(f"\n{name}: ran in {seconds:.0f} s in JupyterLab; {len(areas)} widget(s)")
        for i, area in enumerate(areas):
            area.scroll_into_view_if_needed()
            assert figures(area)[1] == 0, f"{name} widget {i}: a figure is shown twice"
            response = use_control(page, area)
            page.screenshot(path=f"{shot}-widget{i}.png")
            trains = "button" in response.control
            print(f"  widget {i}: {response.control}: first change {response.first_change_s:.2f} s, "
                  f"settled {response.settled_s:.2f} s ({'trains' if trains else 'no training'})")
            assert response.duplicate_images == 0, f"{name} widget {i}: a figure is shown twice"
            assert response.first_change_s < RESPONSE_BUDGET_S, (
                f"{name} widget {i}: {response.control} took {response.first_change_s:.1f} s to respond")
        assert console.errors == [], f"{name}: browser console errors: {console.errors}"
    except Exception:
        page.screenshot(path=f"{shot}-failure.png", full_page=True)
        raise
    finally:
        if console.offline:
            print(f"  (offline: {len(console.offline)} request(s) to other hosts failed, e.g. {console.offline[0]})")
        page.close()
        shut_down_kernels(lab)


DOUBLE_FIGURE = """
import ipywidgets as widgets
import matplotlib.pyplot as plt


def view(n):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot(range(n))
    return fig  # returned AND left open: the inline backend draws it a second time


widgets.interact(view, n=widgets.IntSlider(value=3, min=1, max=5));
"""


def test_a_figure_shown_twice_is_caught(browser, lab):
    """The negative control for the check above: lesson 05's old widget pattern, in miniature."""
    import nbformat

    name = "double_figure.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(DOUBLE_FIGURE)],
                                            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                     "language": "python"}}),
                   lab["notebooks"] / name)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        open_notebook(page, lab, name)
        run_all(page)
        wait_until_run(page, timeout=120)
        page.wait_for_timeout(1000)
        (area,) = widget_cells(page)
        images, repeated = figures(area)
        assert images == 2 and repeated == 1
    finally:
        page.close()
        shut_down_kernels(lab)
