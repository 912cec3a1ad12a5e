"""mode along a dim with NaNs: NaN equals nothing, so each NaN counts once and a number wins over it (ties go to
the smallest value, the index is the value's last occurrence); a row of NaNs answers NaN at index 0, as PyTorch's.
(It raised IndexError: NumPy's unique folds the NaNs into one value with their total count.)"""
import math

import pytest

import ember

NAN = float("nan")
ROWS = [[1.0, NAN, NAN, 2.0], [NAN, 1.0, 1.0], [NAN], [NAN, NAN], [2.0, NAN, 1.0], [NAN, 2.0, 1.0, 2.0],
        [[1.0, NAN, NAN], [2.0, 2.0, NAN]], [[NAN, NAN], [4.0, NAN]]]


def _mode(m, data):
    values, indices = m.mode(m.tensor(data), -1)
    return values.tolist(), indices.tolist()


@pytest.mark.parametrize("data", ROWS, ids=str)
def test_mode_with_nans_matches_torch(torch, data):
    ours, theirs = _mode(ember, data), _mode(torch, data)
    assert str(ours) == str(theirs)                 # (str: NaN == NaN)


def test_mode_with_nans_without_torch():
    values, indices = _mode(ember, [[NAN, NAN, 5.0], [NAN, NAN, NAN], [3.0, NAN, 3.0]])
    assert values[0] == 5.0 and math.isnan(values[1]) and values[2] == 3.0
    assert indices == [2, 0, 2]
