import math

import pytest

from jobs.digest.stats import change_pct, mad, median, percentile, ratio, stdev


def test_empty_input_gives_none_not_an_error() -> None:
    assert median([]) is None
    assert percentile([], 95) is None
    assert mad([]) is None
    assert stdev([]) is None
    assert stdev([5.0]) is None


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile(range(1, 21), 95) == pytest.approx(19.05)
    assert percentile([10], 95) == 10
    assert percentile([3, 1, 2], 0) == 1
    assert percentile([3, 1, 2], 100) == 3


def test_percentile_rejects_q_outside_0_to_100() -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        percentile([1.0], 101)


def test_median_of_odd_and_even_counts() -> None:
    assert median([5, 1, 3]) == 3
    assert median([4, 1, 3, 2]) == 2.5


def test_mad_is_the_median_absolute_deviation_unscaled() -> None:
    # median 3; deviations 2, 1, 0, 1, 97 -> median 1
    assert mad([1, 2, 3, 4, 100]) == 1
    assert mad([7, 7, 7]) == 0


def test_stdev_is_the_sample_standard_deviation() -> None:
    assert stdev([2, 4, 4, 4, 5, 5, 7, 9]) == pytest.approx(math.sqrt(32 / 7))


def test_ratio_and_change_are_unknown_without_a_denominator() -> None:
    assert ratio(1, 0) is None
    assert ratio(1, 4) == 0.25
    assert change_pct(120, 100) == pytest.approx(20)
    assert change_pct(1, 0) is None
    assert change_pct(None, 5) is None
