"""Mean and spread over seeds (course_utils.evaluation.repeats)."""

import math

import numpy as np
import pytest

from course_utils.evaluation import format_mean_sd, mean_sd


@pytest.mark.parametrize("ddof", [0, 1])
def test_mean_sd_matches_numpy(ddof):
    values = [0.71, 0.74, 0.69, 0.80]
    mean, sd = mean_sd(values, ddof=ddof)
    assert mean == pytest.approx(np.mean(values))
    assert sd == pytest.approx(np.std(values, ddof=ddof))


def test_one_value_has_no_sample_spread_and_bad_input_is_refused():
    mean, sd = mean_sd([0.4])
    assert mean == 0.4 and math.isnan(sd)
    assert mean_sd([0.4], ddof=0) == (0.4, 0.0)
    with pytest.raises(ValueError, match="at least one value"):
        mean_sd([])
    with pytest.raises(ValueError, match="ddof must be 0 or 1, got 2"):
        mean_sd([1.0, 2.0], ddof=2)


def test_format_mean_sd_says_when_there_is_only_one_run():
    assert format_mean_sd([0.1, 0.3], ddof=0) == "0.200 ± 0.100"
    assert format_mean_sd([0.1, 0.3]) == f"0.200 ± {np.std([0.1, 0.3], ddof=1):.3f}"
    assert format_mean_sd(np.array([0.1234]), digits=2) == "0.12 (one run)"
