"""Regression tests for the last divergences of issue 12 (h_fuzz12b): each checks ember's own expected value, and
compares with PyTorch where it is installed."""
import pytest

import ember

from .oracle import outcome, same, torch  # noqa: F401


# --- 1. the ops that select along a dim record their own node, saving the indices (0-d inputs too) ----------

SELECTIONS = {
    "max": (lambda m, x, kd: m.max(x, 0, keepdim=kd), "MaxBackward0"),
    "min": (lambda m, x, kd: m.min(x, 0, keepdim=kd), "MinBackward0"),
    "sort": (lambda m, x, kd: m.sort(x, 0), "SortBackward0"),
    "median": (lambda m, x, kd: m.median(x, 0, keepdim=kd), "MedianBackward1"),
    "nanmedian": (lambda m, x, kd: m.nanmedian(x, 0, keepdim=kd), "NanmedianBackward1"),
    "kthvalue": (lambda m, x, kd: m.kthvalue(x, 1, 0, keepdim=kd), "KthvalueBackward0"),
    "topk": (lambda m, x, kd: m.topk(x, 1, 0), "TopkBackward0"),
    "mode": (lambda m, x, kd: m.mode(x, 0, keepdim=kd), "ModeBackward0"),
}


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_selection_of_a_0d_tensor_saves_its_indices(name, keepdim):
    f, node = SELECTIONS[name]

    def run(m):
        x = m.tensor(0.5, requires_grad=True)
        v, i = f(m, x, keepdim)
        out = [v.grad_fn.name(), v._is_view(), tuple(v.shape), i.tolist(), i.requires_grad]
        v.backward(retain_graph=False)
        out.append(x.grad.item())
        try:
            v.backward()                           # the indices were freed: as any node's saved tensors
        except RuntimeError as e:
            out.append("second time" in str(e))
        return out
    same(run, [node, False, (), 0, False, 1.0, True])


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", sorted(SELECTIONS))
def test_selection_along_a_dim_is_its_own_node_and_no_view(name, keepdim):
    f, node = SELECTIONS[name]

    def run(m):
        x = m.tensor([[3.0, 1.0], [2.0, 5.0], [2.0, 0.0]], requires_grad=True)
        v, i = f(m, x, keepdim)
        out = [v.grad_fn.name(), v._is_view(), i._is_view(), v.tolist(), i.tolist()]
        v.sum().backward()
        out.append(x.grad.tolist())
        v, i = f(m, x, keepdim)
        i.add_(0)                                  # the saved indices were modified in place
        try:
            v.sum().backward()
        except RuntimeError as e:
            out.append("modified by an inplace operation" in str(e))
        return out
    results = outcome(run)
    assert results[0][:3] == [node, False, False] and results[0][-1] is True
    assert all(r == results[0] for r in results)


def test_kthvalue_values_and_grad_without_torch():
    x = ember.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    v, i = ember.kthvalue(x, 2, 1)
    v.sum().backward()
    assert (v.tolist(), i.tolist(), x.grad.tolist()) == ([2.0, 4.0], [2, 2], [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize("name", ["kthvalue", "topk"])
def test_selection_of_a_0d_tensor_checks_its_dim(name):
    same(lambda m: getattr(m, name)(m.tensor(0.5), 1, 1), "IndexError")


# --- 2. `.data = t` on a view, then an in-place op on it: the view's current geometry over the base -----------

VIEW_DATA = {
    "float64, same shape": ((lambda m: m.tensor([[7.0, 8.0]], dtype=m.float64)), [[2.0, 2.0], [1.0, 1.0]]),
    "size 3": ((lambda m: m.tensor([7.0, 8.0, 9.0])), [[2.0, 2.0], [2.0, 1.0]]),
    "a column": ((lambda m: m.tensor([[7.0], [8.0]])), [[2.0, 2.0], [1.0, 1.0]]),
    "0-d": ((lambda m: m.tensor(4.0)), [[2.0, 1.0], [1.0, 1.0]]),
    "offset 1": ((lambda m: m.tensor([1.0, 2.0, 3.0])[1:]), [[1.0, 2.0], [2.0, 1.0]]),
}


@pytest.mark.parametrize("case", sorted(VIEW_DATA))
def test_inplace_on_a_view_after_data_assignment(case):
    data, grad = VIEW_DATA[case]

    def run(m):
        a = m.tensor([[0.5, 1.5], [2.0, 3.0]], requires_grad=True)
        b = a * 1
        v = b[1:]
        v.data = data(m)
        v.mul_(2)
        out = [v.grad_fn.name(), str(v.dtype).split(".")[-1], v.flatten().tolist(), b.tolist()]
        b.sum().backward()
        return out + [a.grad.tolist()]
    expected = [str(data(ember).dtype).split(".")[-1], (data(ember) * 2).flatten().tolist()]
    same(run, ["AsStridedBackward0"] + expected + [[[0.5, 1.5], [2.0, 3.0]], grad])


def test_backward_from_a_view_after_data_assignment_and_inplace():
    def run(m):
        a = m.tensor([[0.5, 1.5], [2.0, 3.0]], requires_grad=True)
        b = a * 1
        v = b[1:]
        v.data = m.tensor([[7.0, 8.0, 9.0]], dtype=m.float64)
        v.add_(m.tensor([1.0, 2.0, 3.0], requires_grad=True))
        v.sum().backward()
        return a.grad.tolist()
    same(run, [[1.0, 1.0], [1.0, 0.0]])


def test_a_use_of_the_view_before_the_inplace_op_keeps_its_old_geometry():
    def run(m):
        a = m.tensor([[0.5, 1.5], [2.0, 3.0]], requires_grad=True)
        b = a * 1
        v = b[1:]
        v.data = m.tensor([[1.0, 2.0]])
        w = v * 3                                  # recorded against the view's node before the in-place op
        v.add_(w)
        b.sum().backward()
        return a.grad.tolist()
    same(run, [[1.0, 1.0], [4.0, 4.0]])


# --- 3. a second backward: var_mean's node saves the input (it raises), trapezoid's nodes save nothing (it runs) -

def second_backward(make):
    """(first grad, then the second backward's accumulated grad or 'freed') of y = make(m, x), without retain."""
    def run(m):
        x = m.tensor([[0.5, 1.5, -2.0, 3.0]], requires_grad=True)
        y = make(m, x)
        y.sum().backward()
        first = x.grad.tolist()
        try:
            y.sum().backward()
        except RuntimeError as e:
            return y.grad_fn.name(), first, "freed" if "second time" in str(e) else str(e)
        return y.grad_fn.name(), first, x.grad.tolist()
    return run


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("name, node", [("var_mean", "VarMeanBackward0"), ("std_mean", "StdMeanBackward0")])
def test_var_mean_is_one_node_saving_the_input(name, node, which):
    run = second_backward(lambda m, x: getattr(m, name)(x, 1)[which])
    if which == 1:
        same(run, (node, [[0.25] * 4], "freed"))
    else:
        results = outcome(run)
        assert results[0][0] == node and results[0][2] == "freed"
        assert all(r == results[0] for r in results)


def test_var_mean_values_and_grads():
    def run(m):
        x = m.tensor([[1.0, 2.0, 4.0], [3.0, 3.0, 3.0]], requires_grad=True)
        v, mu = m.var_mean(x, 1, keepdim=True)
        (v.sum() * 2 + mu.sum() * 3).backward()
        return v.tolist(), mu.tolist(), x.grad.tolist()
    v, mu, g = outcome(run)[0]
    assert v == [[pytest.approx(7 / 3)], [0.0]] and mu == [[pytest.approx(7 / 3)], [3.0]]
    assert g[1] == [1.0] * 3 and g[0] == pytest.approx([1 - 4 / 3 * 2, 1 - 1 / 3 * 2, 1 + 5 / 3 * 2])
    results = outcome(run)
    assert all(r == results[0] for r in results)


def test_var_mean_of_float32_accumulates_the_mean_wide():
    import numpy as np
    data = np.random.RandomState(0).randn(40).astype(np.float32) * 10
    means = outcome(lambda m: m.var_mean(m.tensor(data))[1].item())
    assert means[0] == float(np.float32(data.astype(np.float64).sum() / 40))
    assert all(r == means[0] for r in means)


@pytest.mark.parametrize("kw", [{}, {"dx": 0.5}])
@pytest.mark.parametrize("name", ["trapezoid", "cumulative_trapezoid"])
def test_trapezoid_by_a_number_can_run_backward_twice(name, kw):
    run = second_backward(lambda m, x: getattr(m, name)(x, **kw))
    results = outcome(run)
    s = kw.get("dx", 1.0)
    if name == "trapezoid":
        assert results[0] == ("MulBackward1", [[s / 2, s, s, s / 2]], [[s, 2 * s, 2 * s, s]])
    else:
        assert results[0] == ("CumsumBackward0", [[s * 1.5, s * 2.5, s * 1.5, s * 0.5]],
                              [[s * 3, s * 5, s * 3, s]])
    assert all(r == results[0] for r in results)


@pytest.mark.parametrize("name", ["trapezoid", "cumulative_trapezoid"])
def test_trapezoid_by_sample_points_saves_them(name):
    same(lambda m: second_backward(lambda m, x: getattr(m, name)(x, m.tensor([0.0, 1.0, 3.0, 4.0])))(m)[::2],
         ("DivBackward1", "freed"))


def test_trapezoid_values():
    same(lambda m: m.trapezoid(m.tensor([[1.0, 2.0, 4.0]]), dx=2.0).tolist(), [9.0])
    same(lambda m: m.trapezoid(m.tensor([[1.0, 2.0, 4.0]]), m.tensor([0.0, 1.0, 3.0])).tolist(), [7.5])
    same(lambda m: m.cumulative_trapezoid(m.tensor([1.0, 2.0, 4.0]), dx=2.0).tolist(), [3.0, 9.0])
    same(lambda m: m.trapezoid(m.zeros(2, 0, requires_grad=True)).requires_grad, False)


# --- 5. vector_norm of an empty reduction with an order that has no identity ---------------------------------

@pytest.mark.parametrize("ord, dim, message", [
    (float("inf"), 0, "cannot compute the inf norm on the dimension 0because this dimension is empty and the "
                      "operation does not have an identity"),
    (-float("inf"), (1, 0), "cannot compute the -inf norm on the dimension 0because"),
    (-1.0, -2, "cannot compute the -1 norm on the dimension -2because"),
    (float("inf"), None, "cannot compute the inf norm on an empty tensor because the operation does not have an "
                         "identity"),
])
def test_vector_norm_of_an_empty_reduction_raises_runtime_error(ord, dim, message):
    def run(m):
        try:
            m.linalg.vector_norm(m.zeros(0, 2), ord=ord, dim=dim)
        except RuntimeError as e:
            return message in str(e)
        return "runs"
    same(run, True)


def test_vector_norm_inf_of_a_0d_tensor():
    same(lambda m: [m.linalg.vector_norm(m.tensor(-0.5), ord=o, dim=d).item()
                    for o in (float("inf"), -float("inf")) for d in (0, -1, (0,), None)], [0.5] * 8)
    same(lambda m: m.linalg.vector_norm(m.zeros(2, 0), ord=float("inf"), dim=0).tolist(), [])
