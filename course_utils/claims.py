"""Checking a lesson's claims: a hard failure in the lesson's own configuration, an explanation otherwise.

Every lesson states what it measured ("a linear head on Lite0 features beats 0.74 test
accuracy") and checks it in a cell, so CI fails when a lesson breaks. A learner who changes
the configuration cell ("Try it: 5 labels per class") changes what is measured, and a plain
``assert`` would then stop "Run all" as if the course were broken. ``LessonClaims.check``
tells the two apart: it compares the notebook's settings, as they are now, with the lesson's
own (``course_utils.lesson_settings``, for the mode the notebook runs in), and

- raises ``ClaimFailed`` (an ``AssertionError``, so nbval and the browser tests fail) when the
  claim does not hold in the lesson's own configuration;
- prints what the lesson measured, what the learner got and which changed settings explain it,
  and goes on, when the learner changed them.

>>> namespace = {"FAST": False, "SEED": 0, "K_PER_CLASS": 100, "N_TEST": 5000, "IMAGE_SIZE": 64,
...              "HEAD_EPOCHS": 40}
>>> claims = LessonClaims("00", namespace, strict=False)  # strict=False: explain, even in CI
>>> claims.check(0.80 > 0.74, "test accuracy above 0.74", got="0.800")  # holds: silent
>>> claims.check(0.70 > 0.74, "test accuracy above 0.74", got="0.700")
Traceback (most recent call last):
...
course_utils.claims.ClaimFailed: lesson 00, full mode: test accuracy above 0.74 does not hold (got 0.700)
>>> namespace["K_PER_CLASS"] = 5          # the learner's "Try it"
>>> claims.check(0.285 > 0.74, "test accuracy above 0.74", got="0.285", lesson_measured="0.801")
... # doctest: +NORMALIZE_WHITESPACE
Not checked with your settings: test accuracy above 0.74.
  The lesson measured 0.801 in its own configuration (full mode); you got 0.285.
  You changed K_PER_CLASS (the lesson's 100, yours 5), which explains the difference.
  Restore the lesson's value to check the claim again; the lesson goes on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .lesson_settings import lesson_settings


def strict() -> bool:
    """``COURSE_STRICT_CLAIMS=1`` (set by ``.ci/run``): every failed claim fails hard.

    CI runs each lesson in its own configuration, so a changed setting there means a cell
    rebinds or mutates one (``SEEDS.append(...)``): that must not turn checks into explanations.
    """
    return os.environ.get("COURSE_STRICT_CLAIMS", "").strip() not in ("", "0")


class ClaimFailed(AssertionError):
    """A lesson's claim failed in the lesson's own configuration: a real regression."""


class LessonClaims:
    """The claims of one lesson, checked against the notebook's live settings.

    ``namespace`` is the notebook's ``globals()``: it is read at each check, so a setting the
    learner changes in any cell counts. Its ``FAST`` picks which of the lesson's two
    configurations (fast or full mode) is the reference.
    """

    def __init__(self, lesson: str, namespace: Mapping[str, Any], strict: bool | None = None):
        self.lesson = lesson
        self.namespace = namespace
        self.strict = strict  # None: COURSE_STRICT_CLAIMS decides (see strict())
        lesson_settings(lesson, fast=False)  # an unknown lesson fails here, not at the first check

    @property
    def fast(self) -> bool:
        return bool(self.namespace.get("FAST", False))

    def changed_settings(self) -> dict[str, tuple[Any, Any]]:
        """``{name: (lesson's value, notebook's value)}`` for each setting that differs now.

        A setting missing from the notebook counts as changed (its value shows as ``<unset>``).
        """
        changed = {}
        for name, expected in lesson_settings(self.lesson, fast=self.fast).items():
            actual = self.namespace.get(name, _UNSET)
            if not _same(expected, actual):
                changed[name] = (expected, actual)
        return changed

    def check(self, holds: bool, claim: str, *, got: str = "", lesson_measured: str = "") -> None:
        """Check one claim; see the module docstring.

        Returns nothing, so a cell that ends with a check shows no stray ``True``.
        ``claim`` states what should hold, ``got`` the value measured now, ``lesson_measured``
        (optional) what the lesson measured in its own configuration.
        """
        if holds:
            return
        mode = "fast mode" if self.fast else "full mode"
        changed = self.changed_settings()
        detail = f" (got {got})" if got else ""
        if not changed:
            raise ClaimFailed(f"lesson {self.lesson}, {mode}: {claim} does not hold{detail}")
        if strict() if self.strict is None else self.strict:  # CI: a changed setting is a defect
            raise ClaimFailed(f"lesson {self.lesson}, {mode}: {claim} does not hold{detail}, and the "
                              f"settings differ from the lesson's ({', '.join(changed)}): in CI "
                              "(COURSE_STRICT_CLAIMS=1) nothing may change them")
        print(self.explanation(claim, mode, changed, got, lesson_measured))

    @staticmethod
    def explanation(claim: str, mode: str, changed: Mapping[str, tuple[Any, Any]], got: str,
                    lesson_measured: str) -> str:
        measured = (f"The lesson measured {lesson_measured}" if lesson_measured
                    else "The lesson checked this")
        yours = f"; you got {got}." if got else "; with your settings it does not hold."
        which = ", ".join(f"{name} (the lesson's {_show(old)}, yours {_show(new)})"
                          for name, (old, new) in changed.items())
        return (f"Not checked with your settings: {claim}.\n"
                f"  {measured} in its own configuration ({mode}){yours}\n"
                f"  You changed {which}, which explains the difference.\n"
                f"  Restore the lesson's value{'s' if len(changed) > 1 else ''} to check the claim "
                f"again; the lesson goes on.")


class _Unset:
    def __repr__(self) -> str:
        return "<unset>"


_UNSET = _Unset()


def _same(expected: Any, actual: Any) -> bool:
    """Equal as settings: 0.5 == 0.5, (0, 1) == [0, 1], but never an error for odd types."""
    if isinstance(expected, (list, tuple)) and isinstance(actual, (list, tuple)):
        return len(expected) == len(actual) and all(map(_same, expected, actual))
    try:
        return bool(expected == actual)
    except Exception:  # noqa: BLE001 - a learner may assign anything; unequal is the safe answer
        return False


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a learner's object with a broken repr
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."
