"""What the browser tests do on a page: run a notebook in JupyterLab, find widgets, use them, time them.

A widget "responds" when the parts of its cell's output that the kernel writes (Output
widgets, labels, HTML) change; the slider's own read-out, which the browser updates by
itself, does not count.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

KERNEL_WRITTEN = ".widget-output, .widget-label:not(.widget-readout), .widget-html, .widget-htmlmath"
CONTROLS = ".widget-dropdown select, .widget-slider, .widget-button, .widget-toggle-buttons button"


@dataclass
class ConsoleLog:
    """Browser console errors and failed requests; requests to other hosts fail offline and are noted only."""

    errors: list[str] = field(default_factory=list)
    offline: list[str] = field(default_factory=list)

    def attach(self, page, host: str = "127.0.0.1") -> None:
        def on_console(message):
            if message.type == "error" and "net::ERR_NAME_NOT_RESOLVED" not in message.text:
                self.errors.append(message.text)

        def on_failed(request):
            (self.errors if host in request.url else self.offline).append(f"{request.url} {request.failure}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.errors.append(f"page error: {error}"))
        page.on("requestfailed", on_failed)


def open_notebook(page, lab: dict, name: str) -> None:
    # ?reset: a fresh workspace, so no tab of an earlier test is restored beside this one
    page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}", timeout=60_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle'], "
                           ".jp-Toolbar-kernelStatus, .jp-KernelStatus", timeout=60_000)


def accept_kernel_dialog(page) -> None:
    """If JupyterLab asks which kernel to start, take the one it proposes (the notebook's own)."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.locator(".jp-Dialog-button.jp-mod-accept").click()
        dialog.wait_for(state="detached", timeout=30_000)


def run_all(page, attempts: int = 3) -> None:
    """Run every cell from the Run menu, as a learner would, and wait until the first cell starts.

    JupyterLab may first ask which kernel to start; the dialog is accepted and the menu used again.
    """
    for _ in range(attempts):
        accept_kernel_dialog(page)
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(p != "[ ]:" for p in prompts(page)):
                return
            accept_kernel_dialog(page)
            page.wait_for_timeout(500)
    raise TimeoutError(f"Run All Cells did not start the notebook after {attempts} tries")


def shut_down_kernels(lab: dict) -> None:
    """End every kernel session of the JupyterLab server, so that lessons do not pile up in memory."""
    import urllib.request

    base, token = lab["url"], lab["token"]
    with urllib.request.urlopen(f"{base}/api/sessions?token={token}", timeout=30) as answer:
        sessions = json.loads(answer.read())
    for session in sessions:
        request = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(request, timeout=60).close()


def prompts(page) -> list[str]:
    return page.eval_on_selector_all(".jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")


class RunStopped(RuntimeError):
    """Run All stopped before the last cell: a cell raised (JupyterLab stops at the first error)."""


def wait_until_run(page, timeout: float) -> float:
    """Wait until every code cell has an execution number and none is running; return seconds.

    Raises RunStopped when nothing has run for 20 s while cells are left unrun (a cell errored).
    """
    start = last_progress = time.monotonic()
    last = None
    while time.monotonic() - start < timeout:
        shown = prompts(page)
        if shown and all(p.startswith("[") and p[1:-2].strip().isdigit() for p in shown):
            return time.monotonic() - start
        if shown != last:
            last, last_progress = shown, time.monotonic()
        elif "[*]:" not in shown and time.monotonic() - last_progress > 20:
            raise RunStopped(f"execution stopped with cells left unrun: {shown}")
        page.wait_for_timeout(1000)
    raise TimeoutError(f"cells still running or not run after {timeout} s: {prompts(page)}")


def save_and_read(page, path: Path, timeout: float = 60) -> dict:
    """Save the notebook from the browser and read the file JupyterLab wrote.

    The file is read once its modification time has changed and stayed put for a moment and
    it parses: reading while JupyterLab is still writing it gives a truncated file.
    """
    before = path.stat().st_mtime
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stamp = path.stat().st_mtime
        if stamp != before:
            time.sleep(0.5)
            if path.stat().st_mtime == stamp:
                try:
                    return json.loads(path.read_text())
                except json.JSONDecodeError:
                    pass  # still being written
        time.sleep(0.2)
    raise TimeoutError(f"JupyterLab did not save a readable {path.name} within {timeout} s")


def errored_cells(notebook: dict) -> list[str]:
    """Each cell whose outputs hold an error, as 'cell N: Ename: value'."""
    found = []
    for i, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"cell {i}: {output.get('ename')}: {output.get('evalue')}")
    return found


def widget_cells(page):
    """The output areas that hold at least one control (slider, dropdown, button)."""
    areas = page.locator(".jp-CodeCell .jp-Cell-outputArea")
    return [areas.nth(i) for i in range(areas.count()) if areas.nth(i).locator(CONTROLS).count() > 0]


def kernel_written(area) -> str:
    return "".join(area.locator(KERNEL_WRITTEN).evaluate_all("els => els.map(e => e.innerHTML)"))


@dataclass
class Response:
    control: str
    first_change_s: float
    settled_s: float
    images: int
    duplicate_images: int


def use_control(page, area, timeout: float = 120.0) -> Response:
    """Use the widget as a learner would and time the output's response: press its button if it
    has one (the button starts the action, e.g. training), else change the first dropdown, else
    move the first slider one step."""
    before = kernel_written(area)
    dropdowns, sliders = area.locator(".widget-dropdown select"), area.locator(".widget-slider")
    buttons = area.locator(".widget-button")
    if buttons.count():
        button = buttons.first
        label = f"button {button.inner_text().strip()!r}"
        start = time.monotonic()
        button.click()
    elif dropdowns.count():
        select = dropdowns.first
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        target = next(o for o in options if o != current)
        label = f"dropdown -> {target}"
        start = time.monotonic()
        select.select_option(label=target)
    elif sliders.count():
        handle = sliders.first.locator(".noUi-handle, .ui-slider-handle, input").first
        label = "slider +1 step"
        handle.focus()
        start = time.monotonic()
        handle.press("ArrowRight")
    else:
        raise AssertionError("the widget has no button, dropdown or slider to use")
    first = settled = None
    last, last_change = before, start
    while time.monotonic() - start < timeout:
        now = kernel_written(area)
        if now != last:
            last, last_change = now, time.monotonic()
            if first is None:
                first = last_change - start
        elif first is not None and time.monotonic() - last_change > 1.5:
            settled = last_change - start
            break
        page.wait_for_timeout(100)
    if first is None:
        raise AssertionError(f"{label}: the widget's output did not change within {timeout} s")
    images, repeated = figures(area)
    return Response(label, first, settled if settled is not None else timeout, images, repeated)


def figures(area) -> tuple[int, int]:
    """(images, repeats) in a cell's whole output area: a figure drawn by the widget and drawn
    again by the inline backend below it shows up as the same picture twice."""
    sources = area.locator("img").evaluate_all("els => els.map(e => e.src)")
    return len(sources), len(sources) - len(set(sources))
