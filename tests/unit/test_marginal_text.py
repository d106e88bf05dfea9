"""How every report table shows the marginal CPU per event (the ``marginal`` column of
bench.report.columns): a point with its 95 % interval when the interval lies above zero, *not
resolved* otherwise, and never a negative cost."""

import math

import pandas as pd
import pytest

from bench.report.columns import marginal
from bench.report.present import cell_text


def marginal_text(row) -> str:
    return cell_text(marginal(row))

NAN = math.nan


@pytest.mark.parametrize("point, lo, hi, text", [
    (50.0, 24.54, 75.46, "50.0 [24.5–75.5]"),          # resolved
    (3.2, -1.0, 7.4, "not resolved (≤ 7.4)"),           # holds zero: at most 7.4
    (-5.0, -30.5, 20.5, "not resolved (≤ 20.5)"),       # a negative point is never shown
    (-9.0, -12.0, -6.0, "not resolved"),                # wholly below zero: no bound to give
    (0.0, 0.0, 4.0, "not resolved (≤ 4.0)"),            # touching zero is not above it
    (12.0, NAN, NAN, "12.0"),                           # a folder from before intervals
    (-4.0, NAN, NAN, "not resolved"),
    (NAN, NAN, NAN, "–"),                                # no events (a control)
])
def test_marginal_text(point, lo, hi, text):
    row = pd.Series({"sensor_marginal_us_per_event": point, "sensor_marginal_ci_low_us": lo,
                     "sensor_marginal_ci_high_us": hi})
    assert marginal_text(row) == text


def test_marginal_text_of_a_missing_row_or_columns():
    assert marginal_text({}) == "–"
    assert marginal_text({"sensor_marginal_us_per_event": 7.0}) == "7.0"
    assert marginal_text({"sensor_marginal_us_per_event": pd.NA}) == "–"
