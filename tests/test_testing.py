"""ember.testing.assert_close against PyTorch's: the same verdicts and, word for word, the same messages."""
import pytest

import ember

CASES = {
    "float_mismatch": lambda m: m.testing.assert_close(m.tensor([1., 2., 3.]), m.tensor([1., 2., 3.1])),
    "dtype": lambda m: m.testing.assert_close(m.tensor([1., 2.]), m.tensor([1, 2])),
    "shape": lambda m: m.testing.assert_close(m.tensor([1., 2.]), m.tensor([1., 2., 3.])),
    "python_floats": lambda m: m.testing.assert_close(1.0, 1.1),
    "python_ints": lambda m: m.testing.assert_close((1, 2), (1, 3)),
    "zero_dim_in_list": lambda m: m.testing.assert_close([m.tensor(1.)], [m.tensor(2.)]),
    "ints_exact": lambda m: m.testing.assert_close(m.tensor([1, 2]), m.tensor([1, 3])),
    "nan": lambda m: m.testing.assert_close(m.tensor([float("nan")]), m.tensor([float("nan")])),
    "nan_equal": lambda m: m.testing.assert_close(m.tensor([float("nan")]), m.tensor([float("nan")]),
                                                  equal_nan=True),
    "mapping_keys": lambda m: m.testing.assert_close({"a": m.tensor(1.)}, {"b": m.tensor(1.)}),
    "within_tolerance": lambda m: m.testing.assert_close(m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-6])),
    "explicit_tolerance": lambda m: m.testing.assert_close(m.tensor([[1.0, 2.0], [3., 4.]]),
                                                           m.tensor([[1.0, 2.0], [3.5, 4.]]), rtol=0, atol=0.1),
    "float64": lambda m: m.testing.assert_close(m.tensor([1.0], dtype=m.float64), m.tensor([1.0 + 1e-8], dtype=m.float64)),
    "half_tolerance": lambda m: m.testing.assert_close(m.tensor([1.0, 5.0], dtype=m.float16),
                                                       m.tensor([1.001, 5.0], dtype=m.float16)),
    "only_rtol": lambda m: m.testing.assert_close(m.tensor([1.0]), m.tensor([1.0]), rtol=1e-3),
    "msg": lambda m: m.testing.assert_close(m.tensor([1.0]), m.tensor([2.0]), msg="custom"),
    "msg_callable": lambda m: m.testing.assert_close(m.tensor([1.0]), m.tensor([2.0]), msg=lambda s: "pre " + s),
    "complex": lambda m: m.testing.assert_close(m.tensor([1.0 + 1j]), m.tensor([1.0 + 2j])),
    "bool": lambda m: m.testing.assert_close(m.tensor(True), m.tensor(False)),
    "all_mismatch": lambda m: m.testing.assert_close(m.ones(2, 3), m.ones(2, 3) * 1.5),
}


def _outcome(m, program):
    try:
        program(m)
        return "ok"
    except Exception as e:                         # noqa: BLE001 - the type and text are what we compare
        return f"{type(e).__name__}: {e}".replace("torch.", "ember.")


@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_matches_torch(torch, name):
    assert _outcome(ember, CASES[name]) == _outcome(torch, CASES[name])


def test_assert_close_without_torch():
    ember.testing.assert_close(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0 + 1e-6]))
    with pytest.raises(AssertionError, match=r"Mismatched elements: 1 / 3 \(33.3%\)"):
        ember.testing.assert_close(ember.tensor([1., 2., 3.]), ember.tensor([1., 2., 3.1]))
    with pytest.raises(AssertionError, match="The failure occurred for item \\['w'\\]\\[1\\]"):
        ember.testing.assert_close({"w": [1.0, 2.0]}, {"w": [1.0, 2.5]})
    ember.testing.assert_allclose(ember.tensor([1.0, float("nan")]), [1.0, float("nan")])
