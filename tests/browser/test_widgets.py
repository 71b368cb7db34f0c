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
