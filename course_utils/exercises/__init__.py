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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Exercise:
    """A question, a function that judges an answer, and a hint for a wrong one."""

    name: str
    question: str
    judge: Callable[[Any], bool]
    hint: str = ""

    def check(self, answer: Any) -> bool:
        """Print and return whether ``answer`` is right. ``None`` or ``...`` means not tried yet."""
        if answer is None or answer is Ellipsis:
            print(f"Exercise {self.name}: no answer yet. {self.question}")
            return False
        try:
            ok = bool(self.judge(answer))
        except Exception as error:  # the learner's code failed inside the judge
            print(f"Exercise {self.name}: your answer raised {type(error).__name__}: {error}. "
                  f"Hint: {self.hint}")
            return False
        print(f"Exercise {self.name}: correct." if ok else f"Exercise {self.name}: not yet. Hint: {self.hint}")
        return ok
