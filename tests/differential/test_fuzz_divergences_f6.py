"""Divergences the linalg, indexing and dtypes families of the differential tester filed in known.py, fixed: one
regression test each, ember's own expected outcome and PyTorch's where it is installed (oracle.same)."""
import pytest

from .oracle import same


def _grad(f, M, create_graph=False):
    def run(m):
        a = m.tensor(M, dtype=m.float64, requires_grad=True)
        try:
            (g,) = m.autograd.grad(f(m, a), a, create_graph=create_graph)
        except RuntimeError as e:
            return type(e).__name__.lstrip("_")       # PyTorch's is torch._C._LinAlgError
        return str((g.detach() + 0.0).tolist())       # str: nan equals itself; + 0.0: no signed zeros
    return run


_SINGULAR = [[1.0, 2.0], [2.0, 4.0]]


def test_det_gradient_at_a_singular_matrix_is_zero():
    same(_grad(lambda m, a: m.linalg.det(a) * 3, _SINGULAR), "[[0.0, 0.0], [0.0, 0.0]]")
    same(_grad(lambda m, a: m.linalg.det(a), [[0.0, 0.0], [0.0, 0.0]]), "[[0.0, 0.0], [0.0, 0.0]]")


def test_det_gradient_at_a_singular_matrix_with_create_graph_is_the_cofactor_matrix():
    def run(m):
        a = m.tensor([_SINGULAR, [[2.0, 1.0], [1.0, 3.0]]], dtype=m.float64, requires_grad=True)
        (g,) = m.autograd.grad(m.linalg.det(a).sum(), a, create_graph=True)
        (gg,) = m.autograd.grad(g.pow(2).sum(), a)
        return [round(v, 9) for v in g.detach().flatten().tolist() + gg.flatten().tolist()]
    same(run, [4.0, -2.0, -2.0, 1.0, 3.0, -1.0, -1.0, 2.0, 2.0, 4.0, 4.0, 8.0, 4.0, 2.0, 2.0, 6.0])


@pytest.mark.parametrize("op", ["slogdet", "logdet"])
def test_slogdet_gradient_at_a_singular_matrix_divides_by_the_zero_pivot(op):
    f = (lambda m, a: m.linalg.slogdet(a)[1]) if op == "slogdet" else (lambda m, a: m.logdet(a))
    same(_grad(f, _SINGULAR), "[[-inf, inf], [inf, -inf]]")
    same(_grad(f, [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
         "[[nan, nan, nan], [inf, -inf, inf], [-inf, inf, -inf]]")
    same(_grad(f, [[2.0, 1.0], [1.0, 3.0]]), "[[0.6, -0.2], [-0.2, 0.4]]")
    same(_grad(f, _SINGULAR, create_graph=True), "LinAlgError")        # PyTorch's differentiable formula refuses


def _norm(shape, ord, dim=(-2, -1), keepdim=False):
    def run(m):
        out = m.linalg.matrix_norm(m.zeros(shape, requires_grad=True), ord, dim=dim, keepdim=keepdim)
        return tuple(out.shape), out.requires_grad, out.tolist()
    return run


@pytest.mark.parametrize("ord", [1, 2, float("inf")])
def test_max_matrix_norms_over_an_empty_dim_are_zero(ord):
    shape = (3, 0) if ord == 1 else (0, 3) if ord == float("inf") else (0, 0)
    same(_norm(shape, ord), ((), False, 0.0))
    same(_norm((2, 0, 3) if ord == float("inf") else (2, 3, 0), ord, keepdim=True), ((2, 1, 1), False, [[[0.0]], [[0.0]]]))
    same(lambda m: m.linalg.norm(m.zeros(shape), ord).tolist(), 0.0)


@pytest.mark.parametrize("ord", [-1, -2, float("-inf")])
def test_min_matrix_norms_over_an_empty_dim_raise_index_error(ord):
    shape = (3, 0) if ord == -1 else (0, 3) if ord == float("-inf") else (0, 0)
    same(_norm(shape, ord), "IndexError")
    same(_norm((2, 0, 3), ord, dim=(2, 1)), "IndexError" if ord != float("-inf") else ((2,), True, [0.0, 0.0]))
    with pytest.raises(IndexError, match="amin\\(\\): Expected reduction dim .* to have non-zero size"):
        _norm((3, 3, 0), ord, dim=(1, 2) if ord != float("-inf") else (2, 1))(__import__("ember"))


def test_triangular_solve_cloned_coefficient_is_an_output_of_the_solve():
    def run(m):
        a = m.tensor([[2.0, 0.5], [1.0, 3.0]], dtype=m.float64, requires_grad=True)
        b = m.tensor([[[1.0], [2.0]], [[3.0], [4.0]]], dtype=m.float64, requires_grad=True)
        with __import__("warnings").catch_warnings():
            __import__("warnings").simplefilter("ignore")
            x, c = m.triangular_solve(b, a.detach(), transpose=True)         # only B requires grad
            info = [c.requires_grad, c.is_leaf, type(c.grad_fn).__name__, tuple(c.shape)]
            x, c = m.triangular_solve(b, a, upper=False)
        ((x * m.arange(4.0).view(2, 2, 1)).sum() + (c * 2).sum()).backward()
        return info + [x.detach().flatten().tolist(), a.grad.flatten().tolist(), b.grad.flatten().tolist()]
    same(run, [True, False, "TriangularSolveBackward0", (2, 2, 2), [0.5, 0.5, 1.5, 0.8333333333333334],
               [4.0 - 2 / 3, 4.0, 4.0 - 5 / 3, 3.0], [-1 / 6, 1 / 3, 0.5, 1.0]])


def test_baddbmm_reads_the_result_sizes_before_its_3d_checks():
    def run(*shapes, inplace=False):
        return lambda m: (m.Tensor.baddbmm_ if inplace else m.baddbmm)(*[m.zeros(s) for s in shapes]).shape
    same(run((2, 2), (2, 2), (2, 2)), "IndexError")
    same(run((2, 2, 2), (2,), (2, 2, 2)), "IndexError")
    same(run((2, 2), (2, 2), (2, 2), inplace=True), "IndexError")
    same(run((2, 2), (2, 2), (2, 2, 2)), "RuntimeError")
    same(run((2, 2), (2, 2, 2, 2), (2, 2, 2)), "RuntimeError")
    same(lambda m: list(m.baddbmm(m.zeros(2, 2), m.ones(3, 2, 1), m.ones(3, 1, 2)).shape), [3, 2, 2])


def test_solve_left_false_refuses_a_vector_right_hand_side():
    def run(a, b):
        return lambda m: m.linalg.solve(m.ones(a) + m.eye(a[-1]), m.ones(b), left=False).double().round(
            decimals=6).tolist()
    same(run((3, 1, 1), (3, 1)), "RuntimeError")
    same(run((1, 1), (1,)), "RuntimeError")
    same(run((3, 2, 2), (3, 2)), "RuntimeError")
    same(run((3, 1, 1), (3, 2, 1)), [[[0.5], [0.5]]] * 3)
    same(run((2, 2), (1, 2)), [[0.333333, 0.333333]])


def test_index_add_with_a_0d_index_is_one_element():
    same(lambda m: m.zeros(2, 3).index_add(1, m.tensor(1), m.tensor([[2.0], [3.0]]), alpha=2).tolist(),
         [[0.0, 4.0, 0.0], [0.0, 6.0, 0.0]])
    same(lambda m: m.zeros(3).index_add(0, m.tensor(2), m.ones(1)).tolist(), [0.0, 0.0, 1.0])
    same(lambda m: m.zeros(3, 2).t().index_add_(1, m.tensor(1), m.ones(2, 1)).tolist(), [[0.0, 1.0, 0.0]] * 2)
    same(lambda m: m.zeros(4, 3)[::2].index_add_(0, m.tensor(1), m.ones(1, 3)).tolist(), [[0.0] * 3, [1.0] * 3])
    same(lambda m: m.zeros(2, 3).index_add(1, m.tensor(1), m.ones(2)).tolist(), "RuntimeError")
    same(lambda m: m.zeros(2, 3).index_add(0, m.tensor(1), m.ones(3)).tolist(), "RuntimeError")

    def grads(m):
        x, s = m.zeros(2, 3, requires_grad=True), m.tensor([[2.0], [3.0]], requires_grad=True)
        (x.index_add(1, m.tensor(1), s, alpha=2) * m.arange(6.0).view(2, 3)).sum().backward()
        return x.grad.tolist(), s.grad.tolist()
    same(grads, ([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], [[2.0], [8.0]]))


@pytest.mark.parametrize("accumulate", [False, True])
def test_put_into_a_0d_tensor(accumulate):
    same(lambda m: m.tensor(3.0).put(m.tensor([], dtype=m.long), m.tensor([]), accumulate=accumulate).tolist(), 3.0)
    same(lambda m: m.tensor(3.0).put_(m.tensor([], dtype=m.long), m.tensor([]), accumulate=accumulate).tolist(), 3.0)
    same(lambda m: m.tensor(3.0).put(m.tensor([0, -1]), m.tensor([1.0, 2.0]), accumulate=accumulate).tolist(),
         6.0 if accumulate else 2.0)


def test_index_fill_value_gradient_refuses_a_negative_index_as_index_select():
    def run(shape, dim, index):
        def f(m):
            x, v = m.ones(shape, requires_grad=True), m.tensor(2.0, requires_grad=True)
            (x.index_fill(dim, m.tensor(index), v) * 3).sum().backward()
            return x.grad.tolist(), v.grad.tolist()
        return f
    same(run((3,), 0, [-1]), "IndexError")
    same(run((2, 3), 1, [-1]), "RuntimeError")
    same(run((2, 3), 1, [0, 2, 0]), ([[0.0, 3.0, 0.0]] * 2, 12.0))


def test_setitem_of_a_python_scalar_converts_as_pytorch():
    def write(dtype, value, index=1):
        def f(m):
            t = m.zeros(3, dtype=getattr(m, dtype))
            t[m.tensor([1]) if index is None else index] = value            # None: an advanced index
            return t.tolist()
        return f
    same(write("float32", 1 + 2j), "RuntimeError")
    same(write("int64", 3 + 1j, None), "RuntimeError")
    same(write("float32", 4 + 0j, None), [0.0, 4.0, 0.0])
    same(write("int64", 3 + 0j, slice(None)), [3, 3, 3])
    same(write("int8", 300), "RuntimeError")
    same(write("uint8", -1), [0, 255, 0])
    same(write("float32", 1e300), "RuntimeError")
    same(write("float16", 1e5), [0.0, float("inf"), 0.0])
    same(write("bfloat16", 1e5 + 0j), [0.0, 99840.0, 0.0])
    same(write("float16", 1 + 1j), "RuntimeError")


_HALF_VALUES = [0.35, 1000.0, 3.0, -2.5, 0.1]


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
@pytest.mark.parametrize("form", ["operator", "method", "function", "inplace", "inplace_operator", "tensor_0d",
                                  "requires_grad"])
def test_half_mul_and_div_by_a_scalar_compute_in_float32(dtype, form):
    def run(op, scalar):
        def f(m):
            x = m.tensor(_HALF_VALUES, dtype=getattr(m, dtype), requires_grad=form == "requires_grad")
            if form == "operator" or form == "requires_grad":
                r = x * scalar if op == "mul" else x / scalar
            elif form == "method":
                r = getattr(x, op)(scalar)
            elif form == "function":
                r = getattr(m, op)(x, scalar)
            elif form == "inplace":
                r = getattr(x, op + "_")(scalar)
            elif form == "inplace_operator":
                r = x
                if op == "mul":
                    r *= scalar
                else:
                    r /= scalar
            else:
                r = getattr(x, op)(m.tensor(scalar, dtype=m.float64))
            return str(r.dtype).split(".")[1], r.tolist()
        return f
    product = {"float16": [35008.0, float("inf"), float("inf"), float("-inf"), 10000.0],
               "bfloat16": [35072.0, 100139008.0, 299008.0, -249856.0, 9984.0]}[dtype]
    same(run("mul", 1e5), (dtype, product))
    quotient = {"float16": 0.01000213623046875, "bfloat16": 0.010009765625}[dtype]
    same(lambda m: run("div", 1e5)(m)[1][1], quotient)                      # 1000 / 1e5
    if dtype == "float16":
        same(lambda m: run("mul", 0.1)(m)[1][2], 0.300048828125)            # 3 * 0.1 rounded once


def test_half_scalar_gradient_and_reflected_division():
    def f(m):
        x = m.tensor(_HALF_VALUES, dtype=m.float16, requires_grad=True)
        (x * 1e5).sum().backward()
        return (1e5 / x.detach()).tolist()[1], (x * 70000).tolist()[0], x.grad.tolist()[0]
    same(f, (100.0625, 24512.0, float("inf")))          # 1e5 / x is x.reciprocal() * 1e5, as PyTorch's


@pytest.mark.parametrize("op", ["mul_", "div_"])
def test_half_in_place_op_casts_a_lower_category_tensor_first(op):
    def f(m):
        x = m.tensor(_HALF_VALUES, dtype=m.float16)
        return getattr(x, op)(m.tensor([70000] * 5, dtype=m.int32)).tolist()
    same(f, [float("inf"), float("inf"), float("inf"), float("-inf"), float("inf")] if op == "mul_" else
         [0.0, 0.0, 0.0, -0.0, 0.0])
    same(lambda m: m.tensor([0.35], dtype=m.float16).mul_(m.tensor(70000, dtype=m.int32)).tolist(), [24512.0])


def test_float32_mul_by_a_scalar_unchanged():
    same(lambda m: (m.tensor([0.35, 3.0]) * 0.1).tolist(), [0.03500000014901161, 0.30000001192092896])
    same(lambda m: m.tensor([0.35, 3.0], dtype=m.float64).div_(1e5).tolist(), [3.5e-06, 3e-05])


def test_bool_pow_false_stays_bool():
    def f(m):
        x = m.tensor([True, False])
        y = x.pow_(False)
        return y is x, y.dtype == m.bool, y.tolist(), (x ** False).dtype == m.bool, x.pow(True).tolist()
    same(f, (True, True, [True, True], True, [True, True]))
    same(lambda m: m.tensor([True, False]).pow_(2).tolist(), "RuntimeError")


@pytest.mark.parametrize("left", [True, False])
def test_triangular_solve_with_a_zero_on_the_diagonal_divides_by_it(left):
    def run(m):
        a = m.tensor([[[0.0, 0.0], [1.0, 2.0]], [[2.0, 0.0], [1.0, 4.0]]], dtype=m.float64)
        b = m.tensor([[1.0, 0.0], [2.0, 4.0]], dtype=m.float64)
        return str(m.linalg.solve_triangular(a, b, upper=False, left=left).tolist())
    same(run, "[[[inf, nan], [-inf, nan]], [[0.5, 0.0], [0.375, 1.0]]]" if left else
         "[[[inf, 0.0], [nan, 2.0]], [[0.5, 0.0], [0.5, 1.0]]]")
    same(lambda m: str(m.triangular_solve(m.tensor([[0.274]]), m.tensor([[0.0]]), upper=False)[0].tolist()),
         "[[inf]]")


def test_setitem_with_a_mask_and_a_2d_value_is_a_shape_mismatch():
    def f(m):
        t = m.full((3,), 0.5)
        t[t < 0.5] = m.zeros((0, 2))
    same(f, "RuntimeError")
    same(lambda m: m.full((3,), 0.5).__setitem__(m.tensor([False] * 3), m.zeros((0,))), None)


def test_setitem_with_a_bad_mask_into_a_view_of_a_leaf_refuses_the_in_place_write_first():
    def f(m, requires_grad):
        v = m.tensor_split(m.full((2, 3, 5), 0.5, requires_grad=requires_grad), 2, 1)[1]
        v[m.ones(3, dtype=m.bool)] = 2.5
    same(lambda m: f(m, True), "RuntimeError")
    same(lambda m: f(m, False), "IndexError")
    same(lambda m: m.full((2,), 0.5, requires_grad=True).__setitem__(7, 1.0), "IndexError")


def test_half_in_place_sub_still_refuses_a_bool_tensor():
    same(lambda m: m.tensor([0.5, 0.5], dtype=m.float16).sub_(m.tensor(True)).tolist(), "RuntimeError")
    same(lambda m: m.tensor([0.5, 0.5], dtype=m.float16).add_(m.tensor(True)).tolist(), [1.5, 1.5])


def test_det_gradient_of_a_singular_1x1_matrix_is_the_incoming_gradient():
    def f(m):
        a = m.tensor([[[0.0]], [[0.0]], [[4.0]]], dtype=m.float64, requires_grad=True)
        (g,) = m.autograd.grad((m.linalg.det(a) * m.tensor([2.5, float("inf"), 3.0], dtype=m.float64)).sum(), a)
        return g.flatten().tolist()
    same(f, [2.5, float("inf"), 3.0])
