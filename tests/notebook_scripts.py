"""A lesson's code cells as one Python script, for tests that run a lesson outside Jupyter."""

from __future__ import annotations

import json
from pathlib import Path


def code_cells(notebook: Path) -> list[str]:
    return ["".join(c["source"]) for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def without_magics(source: str) -> str:
    """IPython magics and shell lines (Colab's ``%pip install``) become ``pass``."""
    lines = []
    for line in source.splitlines():
        stripped = line.lstrip()
        lines.append(line[: len(line) - len(stripped)] + "pass" if stripped.startswith(("%", "!")) else line)
    return "\n".join(lines)


def lesson_as_script(notebook: Path, upto: int | None = None, after_configuration: str = "") -> str:
    """The first ``upto`` code cells (all by default) in order, ``after_configuration`` run right
    after the configuration cell (the one that sets ``FAST``), as a learner's edit would be."""
    parts = []
    for source in code_cells(notebook)[:upto]:
        parts.append(without_magics(source))
        if "FAST = fast_mode()" in source and after_configuration:
            parts.append(after_configuration)
    return "\n\n".join(parts) + "\n"
