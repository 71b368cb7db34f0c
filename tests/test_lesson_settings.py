"""Each lesson's configuration cell sets exactly the values `course_utils.lesson_settings` records.

`LessonClaims` fails hard only when a notebook's settings equal the recorded ones; if the two
drifted apart, CI would run a lesson "as changed by a learner" and its checks would only
explain. These tests run every configuration cell in both modes and compare.
"""

import ast
import json
import re

import pytest
import torch

from course_utils.claims import ClaimFailed, LessonClaims
from course_utils.classroom import NOTEBOOKS
from course_utils.lesson_settings import LESSONS, lesson_settings

NOT_SETTINGS = {"FAST", "LESSON_DIR"}  # the mode itself, and where lesson 08 writes its files
LESSON_NOTEBOOKS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def configuration_cell(path):
    code = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"]
    return next(source for source in code if "FAST = fast_mode()" in source)


def assigned_constants(source):
    """UPPER_CASE names the cell assigns (tuple targets included)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name) and re.fullmatch(r"[A-Z][A-Z0-9_]*", leaf.id):
                        names.add(leaf.id)
    return names - NOT_SETTINGS


def run_configuration(path, fast, monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1" if fast else "0")
    threads = torch.get_num_threads()
    namespace = {}
    try:
        exec(configuration_cell(path), namespace)  # noqa: S102 - the course's own notebook
    finally:
        torch.set_num_threads(threads)
    return namespace


def test_every_lesson_has_recorded_settings():
    assert sorted(p.name[:2] for p in LESSON_NOTEBOOKS) == sorted(LESSONS)


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
@pytest.mark.parametrize("path", LESSON_NOTEBOOKS, ids=lambda p: p.name[:2])
def test_configuration_cell_matches_the_recorded_settings(path, fast, monkeypatch):
    lesson = path.name[:2]
    namespace = run_configuration(path, fast, monkeypatch)
    assert namespace["FAST"] is fast
    assert set(lesson_settings(lesson, fast)) == assigned_constants(configuration_cell(path)), (
        "a setting was added to or removed from the configuration cell: record it in lesson_settings")
    claims = namespace["claims"]
    assert isinstance(claims, LessonClaims) and claims.lesson == lesson
    assert claims.changed_settings() == {}


def test_a_failed_claim_in_the_lessons_own_configuration_fails_hard(monkeypatch):
    namespace = run_configuration(LESSON_NOTEBOOKS[0], True, monkeypatch)
    with pytest.raises(ClaimFailed, match="lesson 00, fast mode: accuracy above 0.65 does not hold"):
        namespace["claims"].check(False, "accuracy above 0.65", got="0.500")
    assert isinstance(ClaimFailed("x"), AssertionError)  # nbval and the browser tests see it


def test_a_changed_setting_explains_instead_of_failing(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_STRICT_CLAIMS", raising=False)
    namespace = run_configuration(LESSON_NOTEBOOKS[0], False, monkeypatch)
    namespace["K_PER_CLASS"], namespace["IMAGE_SIZE"] = 5, 32  # lesson 00's "Try it"
    namespace["claims"].check(False, "accuracy above 0.74", got="0.285", lesson_measured="0.801")
    out = capsys.readouterr().out
    assert "K_PER_CLASS (the lesson's 100, yours 5)" in out and "IMAGE_SIZE (the lesson's 64, yours 32)" in out
    assert "0.801" in out and "0.285" in out and "full mode" in out
    # a claim that holds says nothing, whatever the settings
    namespace["claims"].check(True, "accuracy above 0.74")
    assert capsys.readouterr().out == ""


def test_switching_mode_by_hand_compares_with_that_modes_settings(monkeypatch):
    namespace = run_configuration(LESSON_NOTEBOOKS[0], False, monkeypatch)
    namespace["FAST"] = True  # full-mode values, but the learner says fast mode
    assert namespace["claims"].changed_settings() == {"K_PER_CLASS": (20, 100), "N_TEST": (1000, 5000)}


def test_deleted_or_odd_settings_count_as_changed():
    namespace = dict(lesson_settings("05", fast=False), FAST=False)
    claims = LessonClaims("05", namespace)
    namespace["PHOTOS"] = ["chelsea", "coffee", "rocket"]  # a list for the tuple: the same setting
    assert claims.changed_settings() == {}
    del namespace["EPOCHS"]
    namespace["LR"] = torch.tensor([2e-3, 1e-3])  # comparing raises: unequal, not a crash
    assert set(claims.changed_settings()) == {"EPOCHS", "LR"}


def test_unknown_lesson_is_named():
    with pytest.raises(KeyError, match="'11'"):
        LessonClaims("11", {})


def test_strict_mode_fails_even_with_changed_settings(monkeypatch):
    namespace = run_configuration(LESSON_NOTEBOOKS[0], False, monkeypatch)
    namespace["SEED"] = 1  # as if a cell had rebound a setting
    monkeypatch.setenv("COURSE_STRICT_CLAIMS", "1")
    with pytest.raises(ClaimFailed, match=r"settings differ from the lesson's \(SEED\)"):
        namespace["claims"].check(False, "accuracy above 0.74", got="0.7")


def target_roots(target):
    """The names an assignment target rebinds or mutates: ``x``, ``x[i]``, ``x.a``, ``(x, y)``."""
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in target_roots(element)]
    if isinstance(target, ast.Starred):
        return target_roots(target.value)
    while isinstance(target, (ast.Subscript, ast.Attribute)):
        target = target.value
    return [target.id] if isinstance(target, ast.Name) else []


def test_no_cell_after_the_configuration_rebinds_or_mutates_a_setting():
    """Otherwise a lesson would run "as changed by a learner" in CI (strict mode catches it at run
    time; this catches it before)."""
    mutating = {"append", "extend", "insert", "pop", "remove", "clear", "update", "setdefault", "sort"}
    for path in LESSON_NOTEBOOKS:
        names = set(lesson_settings(path.name[:2], fast=False))
        cells = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                 if c["cell_type"] == "code"]
        start = next(i for i, source in enumerate(cells) if "FAST = fast_mode()" in source) + 1
        for index, source in enumerate(cells[start:], start):
            tree = ast.parse("\n".join("pass" if line.lstrip().startswith(("%", "!")) else line
                                        for line in source.splitlines()))
            for node in ast.walk(tree):
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For))
                           else [])
                for root in (r for target in targets for r in target_roots(target)):
                    assert root not in names, f"{path.name}, code cell {index}: assigns to the setting {root}"
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in mutating and isinstance(node.func.value, ast.Name)):
                    assert node.func.value.id not in names, (
                        f"{path.name}, code cell {index}: {node.func.value.id}.{node.func.attr}(...) changes a setting")


def test_the_rebinding_finder_sees_what_it_should():
    assign = ast.parse("SEEDS[0] = 1; (a, EPOCHS) = 1, 2; d[SEED] = 3").body
    assert [target_roots(node.targets[0]) for node in assign] == [["SEEDS"], ["a", "EPOCHS"], ["d"]]
