"""Results repeated over seeds: their mean and spread, and one way to print them.

A comparison a lesson draws a conclusion from is run over several seeds and reported as
mean ± standard deviation. The standard deviation is the sample one (``ddof=1``) by default,
the usual estimate of the spread a new seed would show; it is undefined (NaN) for one run.

>>> mean, sd = mean_sd([0.80, 0.82, 0.84])
>>> round(mean, 3), round(sd, 3)
(0.82, 0.02)
>>> format_mean_sd([0.80, 0.82, 0.84])
'0.820 ± 0.020'
>>> format_mean_sd([0.5])
'0.500 (one run)'
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def mean_sd(values: Iterable[float], ddof: int = 1) -> tuple[float, float]:
    """Mean and standard deviation of ``values``, dividing by ``n - ddof``.

    With ``ddof=1`` (the default) a single value has no measurable spread: sd is NaN.

    >>> mean_sd([1.0, 3.0])
    (2.0, 1.4142135623730951)
    >>> mean_sd([1.0, 3.0], ddof=0)
    (2.0, 1.0)
    """
    numbers = [float(v) for v in values]
    if not numbers:
        raise ValueError("mean_sd needs at least one value, got none")
    if ddof not in (0, 1):
        raise ValueError(f"ddof must be 0 or 1, got {ddof}")
    mean = sum(numbers) / len(numbers)
    if len(numbers) - ddof <= 0:
        return mean, math.nan
    return mean, math.sqrt(sum((v - mean) ** 2 for v in numbers) / (len(numbers) - ddof))


def format_mean_sd(values: Iterable[float], digits: int = 3, ddof: int = 1) -> str:
    """``"mean ± sd"`` with ``digits`` decimals, or ``"value (one run)"`` for a single run.

    >>> format_mean_sd([0.25, 0.75], digits=2, ddof=0)
    '0.50 ± 0.25'
    """
    numbers = list(values)
    mean, sd = mean_sd(numbers, ddof)
    if len(numbers) == 1:
        return f"{mean:.{digits}f} (one run)"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"
