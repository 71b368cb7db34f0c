"""Classroom mode: ``make demo LESSON=NN`` serves a lesson's widgets with Voilà, no code cells.
The test starts it the same way, waits for the page, uses a widget and checks the answer."""

from __future__ import annotations

import json
import time

import pytest

from course_utils.classroom import lesson_notebook

from .conftest import SCREENSHOTS
from .pages import ConsoleLog, use_control, widget_cells

pytestmark = pytest.mark.browser
DEMO_LESSON = "01"  # the quickest lesson with a widget: the page is ready soonest


def code_lines(notebook) -> list[str]:
    cells = json.loads(notebook.read_text())["cells"]
    return [line.strip() for c in cells if c["cell_type"] == "code" for line in "".join(c["source"]).splitlines()]


def test_demo_page_shows_widgets_without_code(browser, demo_server):
    notebook = lesson_notebook(DEMO_LESSON)
    url = demo_server(notebook)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    console = ConsoleLog()
    console.attach(page)
    try:
        start = time.monotonic()
        page.goto(url, timeout=600_000)  # Voilà answers once every cell has run
        page.wait_for_selector(".widget-output, .widget-label", timeout=600_000)
        ready = time.monotonic() - start
        assert page.locator(".jp-CodeMirrorEditor, .cm-editor").count() == 0  # no code editor shown
        shown = page.inner_text("body")
        definitions = [line for line in code_lines(notebook) if line.startswith("def ")]
        assert definitions and not [d for d in definitions if d in shown], "code is visible on the demo page"
        areas = widget_cells(page) or [page.locator("body")]
        response = use_control(page, areas[0])
        page.screenshot(path=str(SCREENSHOTS / f"demo-{notebook.stem}.png"), full_page=True)
        print(f"\ndemo {notebook.name}: page ready in {ready:.0f} s; {response.control}: "
              f"first change {response.first_change_s:.2f} s")
        assert response.first_change_s < 2.0
        assert response.duplicate_images == 0
        assert console.errors == [], f"browser console errors: {console.errors}"
    except Exception:
        page.screenshot(path=str(SCREENSHOTS / f"demo-{notebook.stem}-failure.png"), full_page=True)
        raise
    finally:
        page.close()
