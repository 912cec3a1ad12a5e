"""Divergences the dtypes family of the differential tester (tests/differential/dtypes.py) found, one regression
test each: ember's own expected outcome, and PyTorch's where it is installed (oracle.same)."""
import pytest

from .oracle import same


def _run(f):
    def g(m):
        f(m)
        return "runs"
    return g


@pytest.mark.parametrize("op", ["lt", "le", "gt", "ge"])
def test_ordering_comparisons_of_complex_tensors_raise(op):
    same(_run(lambda m: getattr(m, op)(m.tensor([1 + 2j, 0j]), 1)), "NotImplementedError")
    same(_run(lambda m: getattr(m.tensor([1.0, 2.0]), f"__{op}__")(1j)), "NotImplementedError")
    same(_run(lambda m: getattr(m.tensor([1j], dtype=m.complex128), op)(m.tensor([2j]))), "NotImplementedError")


def test_equality_of_complex_tensors_still_runs():
    same(lambda m: (m.tensor([1j, 2.0]) == 1j).tolist(), [True, False])
    same(lambda m: m.ne(m.tensor([1j, 2.0]), 1j).tolist(), [False, True])


def test_ordering_comparisons_of_real_tensors_unchanged():
    same(lambda m: (m.tensor([1, 2, 3], dtype=m.int8) < 2.5).tolist(), [True, True, False])
    same(lambda m: m.ge(m.tensor([0.5, -1.0]), m.tensor(0, dtype=m.uint8)).tolist(), [True, False])


def test_sign_of_a_complex_tensor_raises():
    same(_run(lambda m: m.tensor([1 + 2j, 0j]).sign()), "NotImplementedError")
    same(_run(lambda m: m.tensor([1 + 2j]).sign_()), "NotImplementedError")
    same(lambda m: m.tensor([-2.0, 0.0, float("nan")]).sign().tolist(), [-1.0, 0.0, 0.0])
    same(lambda m: m.tensor([-3, 0, 5], dtype=m.int16).sign().tolist(), [-1, 0, 1])


@pytest.mark.parametrize("other", ["True", "tensor"])
def test_in_place_subtraction_with_a_bool_operand_raises(other):
    def sub_(m):
        x = m.tensor([0, 1, 2], dtype=m.uint8)
        y = True if other == "True" else m.tensor([True, False, True])
        try:
            x -= y
        except RuntimeError:
            return "RuntimeError", x.tolist()      # and x is left as it was
        return "runs", x.tolist()
    same(sub_, ("RuntimeError", [0, 1, 2]))


def test_in_place_subtraction_from_a_bool_tensor_raises():
    same(_run(lambda m: m.tensor([True, False]).sub_(1)), "RuntimeError")
    same(_run(lambda m: m.tensor([True, False]).sub_(m.tensor([True, True]))), "RuntimeError")


def test_in_place_subtraction_of_numbers_still_wraps_and_promotes_checks():
    def sub_(m):
        x = m.tensor([0, 1, 2], dtype=m.uint8)
        x.sub_(1)
        y = m.tensor([1.5, 2.0])
        y -= m.tensor([1.0, 0.5])
        return x.tolist(), y.tolist()
    same(sub_, ([255, 0, 1], [0.5, 1.5]))
    same(_run(lambda m: m.tensor([1, 2]).sub_(0.5)), "RuntimeError")   # Float can't be cast to Long


def _outcome(f):
    def g(m):
        try:
            return f(m)
        except Exception as e:     # noqa: BLE001 (the exception's type is the outcome compared)
            return type(e).__name__
    return g


def test_true_division_of_an_integer_tensor_keeps_a_negative_scalar():
    u8 = [3, 200]
    same(lambda m: (m.tensor(u8, dtype=m.uint8) / -1).tolist(), [-3.0, -200.0])
    same(lambda m: (m.tensor(u8, dtype=m.uint8) / m.tensor(-1)).tolist(), [-3.0, -200.0])
    same(lambda m: (m.tensor(u8, dtype=m.uint8) / m.tensor(300)).tolist()[0], 0.009999999776482582)
    same(lambda m: m.div(m.tensor(u8, dtype=m.uint8), -1, rounding_mode="floor").tolist(), [0, 0])   # wraps there


@pytest.mark.parametrize("op", ["imul", "mul_", "sub_", "add_"])
def test_in_place_integer_arithmetic_wraps_a_scalar_out_of_range(op):
    def f(m):
        x = m.tensor([3, 200], dtype=m.uint8)
        if op == "imul":
            x *= -1
        else:
            getattr(x, op)(-1 if op != "add_" else 300)
        return x.tolist()
    same(f, {"imul": [253, 56], "mul_": [253, 56], "sub_": [4, 201], "add_": [47, 244]}[op])


def test_in_place_integer_add_with_alpha_wraps():
    def f(m):
        x = m.tensor([3, 200], dtype=m.uint8)
        x.add_(m.tensor([3, 200], dtype=m.uint8), alpha=-1)
        y = m.tensor([3, 200], dtype=m.uint8)
        y.add_(200, alpha=3)
        return x.tolist(), y.tolist()
    same(f, ([0, 0], [91, 32]))


def test_clamp_and_square_of_a_bool_tensor_promote_or_raise():
    b = [True, False]
    same(lambda m: (lambda r: (r.tolist(), str(r.dtype)[-5:]))(m.tensor(b).clamp(min=0)), ([1, 0], "int64"))
    same(lambda m: str(m.clamp(m.tensor(b), min=0, max=True).dtype)[-5:], "int64")
    same(lambda m: m.tensor(b).clamp(min=0.5).tolist(), [1.0, 0.5])
    same(_outcome(lambda m: m.tensor(b).clamp(max=True)), "NotImplementedError")
    same(_outcome(lambda m: m.tensor(b).clamp_(min=0)), "RuntimeError")       # Long can't be cast to Bool
    same(lambda m: (lambda r: (r.tolist(), str(r.dtype)[-5:]))(m.square(m.tensor(b))), ([1, 0], "int64"))


@pytest.mark.parametrize("case", ["bool_alpha2", "f16_minus_int_half", "u8_alpha_minus1"])
def test_add_and_sub_alpha_keep_the_operands_result_dtype(case):
    def f(m):
        if case == "bool_alpha2":
            r = m.add(m.tensor([True, False]), True, alpha=2)
        elif case == "f16_minus_int_half":
            r = m.sub(m.tensor(0.5, dtype=m.float16), m.tensor(2), alpha=0.5)
        else:
            r = m.add(m.tensor([3, 200], dtype=m.uint8), m.tensor([3, 200], dtype=m.uint8), alpha=-1)
        return r.tolist(), str(r.dtype).rsplit(".")[-1]
    same(f, {"bool_alpha2": ([True, True], "bool"), "f16_minus_int_half": (-0.5, "float16"),
             "u8_alpha_minus1": ([0, 0], "uint8")}[case])


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32"])
def test_arange_into_a_small_integer_dtype_truncates_start_and_step(dtype):
    same(lambda m: m.arange(0, 2.5, 0.5, dtype=getattr(m, dtype)).tolist(), [0, 0, 0, 0, 0])
    same(lambda m: m.arange(-0.5, 3, 1.5, dtype=getattr(m, dtype)).tolist(), [0, 1, 2])
    same(lambda m: m.arange(0, 2.5, dtype=getattr(m, dtype)).tolist(), [0, 1, 2])


def test_arange_into_int64_truncates_every_argument():
    same(lambda m: m.arange(0, 2.5, dtype=m.int64).tolist(), [0, 1])
    same(lambda m: m.arange(0.5, 3, dtype=m.int64).tolist(), [0, 1, 2])
    same(_outcome(lambda m: m.arange(0, 2.5, 0.5, dtype=m.int64)), "ValueError")
    same(_outcome(lambda m: m.arange(3, dtype=m.bool)), "NotImplementedError")
    same(lambda m: m.arange(-3, 3, 2, dtype=m.uint8).tolist(), [253, 255, 1])


def test_argmax_and_argmin_of_bool_raise():
    same(_outcome(lambda m: m.tensor([True, False]).argmax()), "RuntimeError")
    same(_outcome(lambda m: m.tensor([True, False]).argmin(0)), "RuntimeError")
    same(lambda m: m.tensor([1, 3, 2]).argmax().item(), 1)


def test_integer_division_by_zero_of_an_empty_tensor_runs():
    def ifloordiv(m):
        x = m.zeros((0,), dtype=m.uint8)
        x //= False
        x %= m.tensor(0, dtype=m.uint8)
        return x.tolist()
    same(ifloordiv, [])
    same(lambda m: m.div(m.zeros((0,), dtype=m.uint8), 0, rounding_mode="trunc").tolist(), [])
    same(_outcome(lambda m: m.div(m.tensor([0, 0], dtype=m.uint8), m.tensor([0, 0], dtype=m.uint8),
                                  rounding_mode="trunc")), "RuntimeError")
    same(_outcome(lambda m: m.tensor([1]) // 0), "RuntimeError")


@pytest.mark.parametrize("fn", ["full", "full_like", "fill_"])
def test_fill_values_are_checked_for_the_dtype(fn):
    def f(value, dtype, shape=(2,)):
        def g(m):
            d = getattr(m, dtype)
            if fn == "full":
                r = m.full(shape, value, dtype=d)
            elif fn == "full_like":
                r = m.full_like(m.zeros(shape, dtype=d), value)
            else:
                r = m.zeros(shape, dtype=d).fill_(value)
            return r.tolist()
        return _outcome(g)
    same(f(-1.5, "uint8"), "RuntimeError")
    same(f(300, "uint8"), "RuntimeError")
    same(f(-1, "uint8"), [255, 255])
    same(f(1j, "float32"), "RuntimeError")
    same(f(-0.5 + 0j, "float16"), [-0.5, -0.5])                 # no imaginary part: stored as its real part
    same(f(1e5, "float16"), "RuntimeError")
    same(f(1e5, "float16", ()), float("inf"))                   # PyTorch's one-element fill does not check
    same(f(float("nan"), "int32"), "RuntimeError")


def test_sub_alpha_scales_in_the_result_dtype():
    same(lambda m: m.sub(m.tensor([0, 100], dtype=m.uint8), m.tensor([0, 100], dtype=m.int8), alpha=2).tolist(),
         [0, -100])                                             # int16 math: 100 - 2 * 100, no int8 wrap
