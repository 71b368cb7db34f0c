"""Checked exercises: a learner runs a cell and is told right or wrong, with a hint.

Each lesson has a module here (``lesson01.py``, ...) whose checkers take the learner's
answer. A check never raises on a wrong or unfinished answer, so "Run all" still runs
the whole notebook; it prints the verdict and returns True or False. The unit tests
feed every checker a right and a wrong answer.

>>> ex = Exercise("1", "Square 3.", lambda answer: answer == 9, hint="3 * 3")
>>> ex.check(9)
Exercise 1: correct.
True
>>> ex.check(6)
Exercise 1: not yet. Hint: 3 * 3
False
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


class UseYourOwnCode(RuntimeError):
    """Raised by a course function that an exercise asks the learner to write themselves."""


def _refuse(*args, **kwargs):
    # This code runs as the blocked function, with *its* module's globals: builtins only.
    exercises = __import__("course_utils.exercises", fromlist=["UseYourOwnCode"])
    name = __import__("sys")._getframe().f_code.co_name
    raise exercises.UseYourOwnCode(f"this exercise asks you to write {name} yourself, "
                                   "not to call the course's")


def _resolve(path: str) -> Callable:
    """The function at ``"package.module.function"`` or ``"package.module.Class.method"``."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise ImportError(f"cannot find {path!r}")


@contextmanager
def blocked(paths: tuple[str, ...]) -> Iterator[None]:
    """While inside, each course function ``"module.function"`` in ``paths`` raises :class:`UseYourOwnCode`.

    An exercise that asks for a function the course already has would otherwise be passed
    by calling it. The function's code is swapped, so a reference imported earlier is
    blocked too; the original code comes back on the way out, whatever happens.

    >>> from course_utils.models import ordinal
    >>> with blocked(("course_utils.models.ordinal.mean_absolute_error",)):
    ...     ordinal.mean_absolute_error(None, None)
    Traceback (most recent call last):
    ...
    course_utils.exercises.UseYourOwnCode: this exercise asks you to write mean_absolute_error yourself, not to call the course's

    A method is named through its class: ``"course_utils.training.lr_finder.LRRangeResult.suggestion"``.
    """
    saved = []
    try:
        for path in paths:
            function = _resolve(path)
            saved.append((function, function.__code__))
            function.__code__ = _refuse.__code__.replace(co_name=path.rsplit(".", 1)[1])
        yield
    finally:
        for function, code in reversed(saved):
            function.__code__ = code


@dataclass
class Exercise:
    """A question, a function that judges an answer, and hints for a wrong one.

    ``hint`` is the first nudge; ``solution`` (optional) is shown only on request, by
    ``check(answer, show_solution=True)``, so a learner can try again before seeing it.
    ``blocked`` lists course functions (``"module.function"``) that the answer may not call.
    """

    name: str
    question: str
    judge: Callable[[Any], bool]
    hint: str = ""
    solution: str = ""
    blocked: tuple[str, ...] = ()

    def check(self, answer: Any, show_solution: bool = False) -> bool:
        """Print and return whether ``answer`` is right. ``None`` or ``...`` means not tried yet.

        A wrong answer gets the hint; ``show_solution=True`` also prints the solution.
        """
        if answer is None or answer is Ellipsis:
            print(f"Exercise {self.name}: no answer yet. {self.question}")
            self._offer_solution(show_solution)
            return False
        try:
            with blocked(self.blocked):
                ok = bool(self.judge(answer))
        except Exception as error:  # the learner's code failed inside the judge
            print(f"Exercise {self.name}: your answer raised {type(error).__name__}: {error}. "
                  f"Hint: {self.hint}")
            self._offer_solution(show_solution)
            return False
        print(f"Exercise {self.name}: correct." if ok else f"Exercise {self.name}: not yet. Hint: {self.hint}")
        if not ok:
            self._offer_solution(show_solution)
        return ok

    def _offer_solution(self, show: bool) -> None:
        if not self.solution:
            return
        if show:
            print(f"Solution: {self.solution}")
        else:
            print("Stuck? Run the check again with show_solution=True to see a solution.")
