"""Regression tests for the autograd divergences from PyTorch that differential testing found (issue 12).

Each program is written once against a module `m` (ember or torch). `outcome` runs it and reduces the
result to plain data (or the exception type and the key phrase of its message), so the two libraries
can be compared; every test also states ember's expected outcome, so it runs without torch too.
"""
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember

MODIFIED = "modified by an inplace operation"
FREED = "backward through the graph a second time"
OVERLAP = "more than one element of the written-to tensor"


def outcome(m, program):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = program(m)
    except RuntimeError as e:
        for phrase in (MODIFIED, FREED, OVERLAP, "a view of a leaf Variable", "post accumulate grad hooks",
                       "is a view and its base or another view"):
            if phrase in str(e):
                return ("raises", phrase)
        return ("raises", str(e))
    return _plain(result)


def _plain(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if hasattr(x, "detach"):
        return np.asarray(x.detach().numpy()).tolist()
    return x


def check(torch_module, program, expected):
    ours = outcome(ember, program)
    assert ours == expected
    if torch_module is not None:
        assert outcome(torch_module, program) == expected


@pytest.fixture
def oracle():
    try:
        import torch
    except ImportError:
        return None
    return torch


# --- Note [array storage]: the 0-d invariant -----------------------------------------------------------

def test_suite_runs_with_the_storage_check_on():
    """tests/conftest.py turns the check on: a NumPy scalar can never become a tensor's storage."""
    from ember import _tensor
    assert _tensor._make is _tensor._make_checked
    with pytest.raises(AssertionError, match="numpy.float32"):
        _tensor._make(np.float32(1.0))


def test_storage_check_is_off_by_default():
    code = "import ember._tensor as t; print(t._make is t._make_unchecked)"
    env = {k: v for k, v in __import__("os").environ.items() if k != "EMBER_DEBUG_INVARIANTS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "True"


def test_zero_d_gradient_summed_in_the_engine_is_an_array():
    """The dynamic-net tutorial's bug: a 0-d parameter used twice gets its gradient as 0-d + 0-d."""
    p = ember.tensor(0.5, dtype=ember.float64, requires_grad=True)
    (p * p).backward()
    assert type(p.grad._array) is np.ndarray and p.grad.item() == 1.0


def test_sgd_momentum_on_a_zero_d_parameter(oracle):
    def program(m):
        p = m.nn.Parameter(m.tensor(.5, dtype=m.float64))
        opt = m.optim.SGD([p], lr=.1, momentum=.9)
        for _ in range(4):
            opt.zero_grad()
            (p * p).backward()
            opt.step()
        return round(p.item(), 10)
    check(oracle, program, -0.1543)


# --- in-place ops stay in the graph --------------------------------------------------------------------

@pytest.mark.parametrize("fill", ["zero_", "fill_", "uniform_", "normal_", "copy_", "bernoulli_"])
def test_overwriting_a_non_leaf_gives_its_leaf_zero_grad(oracle, fill):
    names = {"zero_": "ZeroBackward0", "fill_": "FillBackward2", "uniform_": "UniformBackward0",
             "normal_": "NormalBackward0", "copy_": "CopyBackwards", "bernoulli_": "BernoulliBackward2"}

    def program(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        if fill == "fill_":
            y.fill_(3.0)
        elif fill == "copy_":
            y.copy_(m.zeros(3))
        else:
            getattr(y, fill)()
        (y * 1).sum().backward()
        return x.grad, type(y.grad_fn).__name__
    check(oracle, program, ([0.0, 0.0, 0.0], names[fill]))


def test_zero_on_a_saved_tensor_is_caught(oracle):
    def program(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        z = y * y
        y.zero_()
        z.sum().backward()
    check(oracle, program, ("raises", MODIFIED))


@pytest.mark.parametrize("chain", ["exp_mul_", "sigmoid_add_", "prod_clamp_"])
def test_in_place_chain_on_a_saved_output_is_refused(oracle, chain):
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        if chain == "exp_mul_":
            y.exp_()
            y.mul_(2)
        elif chain == "sigmoid_add_":
            y.sigmoid_()
            y.add_(1)
        else:
            y = y.prod()
            y.clamp_(0, 1)
        y.sum().backward()
    check(oracle, program, ("raises", MODIFIED))


def test_second_backward_through_indexing_is_refused(oracle):
    def program(m):
        x = m.ones(3, requires_grad=True)
        s = x[m.tensor([0, 1])].sum()
        s.backward()
        s.backward()
    check(oracle, program, ("raises", FREED))


def test_second_backward_through_nodes_that_save_nothing_is_allowed(oracle):
    def program(m):
        x = m.ones(3, requires_grad=True)
        s = (x + 1).sum()
        s.backward()
        s.backward()
        return x.grad
    check(oracle, program, [2.0, 2.0, 2.0])


def test_max_pool_saves_indices_not_its_output(oracle):
    """PyTorch's max_pool2d saves input and indices, so an in-place relu_ on its output is allowed."""
    def program(m):
        x = m.arange(16.0).reshape(1, 1, 4, 4).sub(8).requires_grad_()
        y = m.nn.functional.max_pool2d(x, 2)
        m.nn.functional.relu_(y)
        y.sum().backward()
        return x.grad.reshape(-1)
    expected = [0.0] * 16
    for i in (13, 15):          # the windows whose maxima (5, 7) survive relu_
        expected[i] = 1.0
    expected[5] = expected[7] = 0.0
    check(oracle, program, expected)


@pytest.mark.parametrize("split", ["split", "chunk", "unbind"])
@pytest.mark.parametrize("modify", ["base", "sibling_no_grad"])
def test_multi_output_view_after_its_base_changed_is_refused(oracle, split, modify):
    def program(m):
        x = m.arange(4.0, requires_grad=True)
        y = x * 1
        a, b = y.split(2) if split == "split" else y.chunk(2) if split == "chunk" else y.view(2, 2).unbind(0)
        if modify == "base":
            y.mul_(2)
        else:
            with m.no_grad():
                b.mul_(2)
        (a * a).sum().backward()
    check(oracle, program, ("raises", "is a view and its base or another view"))


def test_in_place_on_a_view_of_a_leaf_view_is_refused(oracle):
    def program(m):
        x = m.ones(4, 4)
        v = x[::2]
        v.requires_grad_()
        v[0].mul_(2)
    check(oracle, program, ("raises", "a view of a leaf Variable"))


# --- flags, .data and version counters -----------------------------------------------------------------

def test_data_has_its_own_version_counter(oracle):
    def program(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        z = y.exp()
        y.data.add_(1)                             # invisible to autograd, as PyTorch documents
        z.sum().backward()
        return y._version, round(float(x.grad[0]), 4)
    check(oracle, program, (0, 14.7781))


@pytest.mark.parametrize("switch", ["requires_grad_", "detach_"])
def test_leaf_switched_off_after_the_graph_was_built_gets_no_grad(oracle, switch):
    def program(m):
        x = m.ones(3, requires_grad=True)
        y = (x * 2).sum()
        x.requires_grad_(False) if switch == "requires_grad_" else x.detach_()
        y.backward()
        return x.grad
    check(oracle, program, None)


def test_views_report_their_base_requires_grad(oracle):
    def program(m):
        x = m.ones(3, requires_grad=True)
        with m.no_grad():
            v = x[:2]
        b = m.ones(3)
        w = b[:2]
        b.requires_grad_()
        return v.requires_grad, w.requires_grad, v.is_leaf, x.detach()[:2].requires_grad
    check(oracle, program, (True, True, True, False))


def test_version_bumps(oracle):
    def program(m):
        x = m.ones(3)
        out = [x._version]
        x.add_(1)
        out.append(x._version)
        x[0] = 2
        out.append(x._version)
        x.zero_()
        out.append(x._version)
        m.add(x, 1, out=x)
        out.append(x._version)
        x.data.add_(1)
        out.append(x._version)
        x.view(3).add_(1)
        out.append(x._version)
        x.copy_(m.ones(3))
        out.append(x._version)
        return out
    check(oracle, program, [0, 1, 2, 3, 4, 4, 5, 6])


def test_post_accumulate_grad_hook_must_return_none(oracle):
    def program(m):
        p = m.ones(2, requires_grad=True)
        p.register_post_accumulate_grad_hook(lambda t: t * 2)
        (p * 2).sum().backward()
    check(oracle, program, ("raises", "post accumulate grad hooks"))


# --- writes into self-overlapping memory and out= -----------------------------------------------------

@pytest.mark.parametrize("write", ["add_", "mul_", "copy_", "clamp_", "out="])
def test_writes_into_an_expanded_tensor_are_refused(oracle, write):
    def program(m):
        e = m.zeros(1).expand(3)
        if write == "copy_":
            e.copy_(m.ones(3))
        elif write == "clamp_":
            e.clamp_(0, 1)
        elif write == "out=":
            m.add(m.ones(3), m.ones(3), out=e)
        else:
            getattr(e, write)(2)
    check(oracle, program, ("raises", OVERLAP))


@pytest.mark.parametrize("fill", ["fill_", "zero_"])
def test_filling_an_expanded_tensor_is_allowed(oracle, fill):
    def program(m):
        x = m.zeros(1)
        e = x.expand(3)
        e.fill_(1.0) if fill == "fill_" else e.zero_()
        return x
    check(oracle, program, [1.0] if fill == "fill_" else [0.0])


def test_out_that_must_grow_a_view_writes_through_to_its_base(oracle):
    def program(m):
        base = m.zeros(4)
        v = base[:2]
        m.add(m.ones(3), 1, out=v)
        return base, v
    check(oracle, program, ([2.0, 2.0, 2.0, 0.0], [2.0, 2.0, 2.0]))


def test_grad_with_history_accumulates_in_place_without_create_graph(oracle):
    """A .grad stored by a create_graph backward is a differentiable copy (CopyBackwards); a later plain
    backward adds into it in place (it keeps its history, its version moves on); a later create_graph
    backward replaces it by an out-of-place sum."""
    def program(m):
        x = m.tensor([1.0, 2.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            (x ** 3).sum().backward(create_graph=True)
            g = x.grad
            first = (type(g.grad_fn).__name__, g.tolist())
            (x * 2).sum().backward()
            second = (x.grad is g, x.grad.tolist(), x.grad.requires_grad, g._version)
            (x * 2).sum().backward(create_graph=True)
            third = (x.grad is g, x.grad.tolist(), type(x.grad.grad_fn).__name__)
        return first, second, third
    check(oracle, program, (("CopyBackwards", [3.0, 12.0]), (True, [5.0, 14.0], True, 2),
                            (False, [7.0, 16.0], "AddBackward0")))


def test_view_made_under_no_grad_records_without_an_edge(oracle):
    def program(m):
        x = m.ones(3, requires_grad=True)
        with m.no_grad():
            v = x[1:]
        y = v * 2
        y.sum().backward()
        return y.requires_grad, [e[0] is None for e in y.grad_fn.next_functions], v.grad, x.grad
    check(oracle, program, (True, [True, True], None, None))


@pytest.mark.parametrize("case", ["no_grad_view", "view_of_no_grad_view", "base_detached"])
def test_in_place_on_views_refused_as_in_pytorch(oracle, case):
    def program(m):
        x = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        if case == "base_detached":
            v = x[1:]
            x.detach_()
        else:
            y = x.exp()
            with m.no_grad():
                v = y[1:]
            if case == "view_of_no_grad_view":
                v = v[1:]
        v.exp_()
    expected = {"no_grad_view": "A view was created in no_grad mode",
                "view_of_no_grad_view": "is a view of a view which was created in no_grad mode",
                "base_detached": "a view of a leaf Variable"}[case]
    ours = outcome(ember, program)
    assert ours[0] == "raises" and expected in ours[1]
    if oracle is not None:
        theirs = outcome(oracle, program)
        assert theirs[0] == "raises" and expected in theirs[1]


@pytest.mark.parametrize("write", ["unsqueeze_add_", "shifted_add_", "shifted_mul_", "shifted_copy_",
                                   "shifted_clamp_", "self_add_", "same_view_add_", "self_copy_"])
def test_in_place_with_a_partly_overlapping_operand(oracle, write):
    def program(m):
        v = m.ones(3)
        {"unsqueeze_add_": lambda: v.unsqueeze(0).add_(v), "shifted_add_": lambda: v[1:].add_(v[:2]),
         "shifted_mul_": lambda: v[:2].mul_(v[1:]), "shifted_copy_": lambda: v[1:].copy_(v[:2]),
         "shifted_clamp_": lambda: v[:2].clamp_(v[1:], None), "self_add_": lambda: v.add_(v),
         "same_view_add_": lambda: v.view(3).add_(v), "self_copy_": lambda: v.copy_(v)}[write]()
        return v
    partial = write.startswith(("unsqueeze", "shifted"))
    expected = ("raises", "unsupported operation: some elements of the input tensor and the written-to tensor "
                "refer to a single memory location. Please clone() the tensor before performing the operation.")
    check(oracle, program, expected if partial else ([2.0, 2.0, 2.0] if "add" in write else [1.0, 1.0, 1.0]))


def test_nansum_of_a_zero_d_tensor_backward(oracle):
    def program(m):
        x = m.tensor([0.5, float("nan"), 0.5], requires_grad=True)
        m.nansum(m.nansum(x[0])).backward()
        return x.grad
    check(oracle, program, [1.0, 0.0, 0.0])


def test_fill_of_an_expanded_non_leaf_stays_in_the_graph(oracle):
    def program(m):
        v1 = m.tensor([0.5, 0.5, 0.5], requires_grad=True).exp()
        v2 = v1.expand(2, 3)
        v2.fill_(0.5)
        return v1.tolist(), type(v1.grad_fn).__name__
    check(oracle, program, ([0.5, 0.5, 0.5], "CopySlices"))


def test_remainder_gradient_uses_floor_division(oracle):
    """d remainder(a, b) / db = -floor_divide(a, b): 0.5 // -inf is -1, not floor(0.5 / -inf) = -0."""
    def program(m):
        a = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        b = m.tensor([0.5, 0.5, -float("inf")], requires_grad=True)
        m.remainder(a, b).backward(m.full((3,), 0.5))
        return b.grad
    check(oracle, program, [-0.5, -0.5, 0.5])


@pytest.mark.parametrize("fn", ["median", "nanmedian"])
def test_median_of_an_empty_tensor_stays_in_the_graph(oracle, fn):
    def program(m):
        x = m.zeros(0, requires_grad=True)
        y = getattr(m, fn)(x)
        y.backward()
        return str(y.item()), type(y.grad_fn).__name__, x.grad.shape == (0,)
    check(oracle, program, ("nan", "MedianBackward0" if fn == "median" else "NanmedianBackward0", True))
