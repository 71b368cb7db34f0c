"""No lesson types in a normalisation: each takes it from the backbone it feeds (issue 20)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
# ImageNet's statistics typed in, or a Normalize / ImageNetInput that does not say whose convention it is
HARD_CODED = re.compile(r"0\.485|0\.456|0\.406|0\.229|0\.224|0\.225|IMAGENET_(MEAN|STD)"
                        r"|Normalize\(\s*\)|Normalize\(\s*[\[(]|ImageNetInput\(\s*\w+\s*\)"
                        r"|imagenet_preprocess\(\s*[^,()]+,\s*size=")


def code_lines(path: Path):
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        if cell["cell_type"] == "code":
            for line in "".join(cell["source"]).splitlines():
                yield index, line


def test_the_pattern_catches_what_the_course_used_to_write():
    for line in ("net = nn.Sequential(Normalize(), backbone)", "prep = ImageNetInput(SIZE)",
                 "mean = (0.485, 0.456, 0.406)", "z = imagenet_preprocess(photos, size=None)"):
        assert HARD_CODED.search(line), line
    for line in ("prep = ImageNetInput(SIZE, BACKBONE)", "Normalize.like(lite0)",
                 "imagenet_preprocess(photos, model, size=None)"):
        assert not HARD_CODED.search(line), line


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_hard_codes_a_normalisation(path):
    found = [(index, line.strip()) for index, line in code_lines(path) if HARD_CODED.search(line)]
    assert not found, f"{path.name}: take the convention from the backbone: {found}"
