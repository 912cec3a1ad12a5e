"""Views' autograd state as PyTorch keeps it (issue 12, the in-place family of tests/differential): requires_grad,
is_leaf and grad_fn of views made under no_grad, before their base required grad, or whose base changed in place;
the in-place ops PyTorch refuses on views; detach_; a second backward through CopySlices; operands that overlap
the tensor an in-place op writes (Note [views] in ember/ops/views.py, Note [stale views] in autograd/graph.py,
Note [overlapping operands] in ops/inplace.py).

Each program is written once against a module `m` (ember or torch) and reduced to plain data, or to
("raises", key phrase of the message); every test states ember's expected outcome, so it runs without torch too.
"""
import math
import warnings

import numpy as np
import pytest

import ember

NO_GRAD_VIEW = "A view was created in no_grad mode and is being modified inplace with grad mode enabled."
NO_GRAD_VIEW_REBASED = "A view was created in no_grad mode and its base or another view of its base has been"
VIEW_OF_NO_GRAD_VIEW = "is a view of a view which was created in no_grad mode and is being modified"
MULTI_OUTPUT = "This view is the output of a function that returns multiple views."
MULTI_OUTPUT_REBASED = "is a view and its base or another view of its base has been modified inplace."
VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
DETACHED = "Trying to use a saved tensor that has been detached in-place"
TWICE = "Trying to backward through the graph a second time"
OVERLAP = "some elements of the input tensor and the written-to tensor refer to a single memory location"
MODIFIED = "modified by an inplace operation"
PHRASES = (NO_GRAD_VIEW, NO_GRAD_VIEW_REBASED, VIEW_OF_NO_GRAD_VIEW, MULTI_OUTPUT_REBASED, VIEW_OF_LEAF,
           DETACHED, TWICE, OVERLAP, MODIFIED)


def outcome(m, program):
    """program(m) as plain data, or ("raises", the phrases of PHRASES its RuntimeError message contains)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _plain(program(m))
    except RuntimeError as e:
        return ("raises", *[p for p in PHRASES if p in str(e)])


def _plain(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if hasattr(x, "detach"):
        return np.round(np.asarray(x.detach().numpy(), dtype=float), 4).tolist()
    return x


@pytest.fixture
def check():
    try:
        import torch
    except ImportError:
        torch = None

    def run(program, expected):
        assert outcome(ember, program) == expected
        if torch is not None:
            assert outcome(torch, program) == expected
    return run


def flags(t):
    return t.requires_grad, t.is_leaf, t.grad_fn is None


# --- 1. views made under no_grad -------------------------------------------------------------------------------

def test_a_no_grad_view_stops_requiring_grad_when_its_base_is_detached(check):
    def program(m):
        v0 = m.tensor(0.5, requires_grad=True)
        with m.no_grad():
            v1 = v0.view_as(v0)
        before = [*flags(v1), (v1 * 2).requires_grad]
        v0.detach_()
        return before, [*flags(v1), (v1 * 2).requires_grad]
    check(program, ([True, True, True, True], [False, True, True, False]))


def test_ops_on_a_no_grad_view_record_with_no_edge_to_it(check):
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with m.no_grad():
            v = x[1:]
        y = v * 2
        return y.requires_grad, [e[0] is None for e in y.grad_fn.next_functions]
    check(program, (True, [True, True]))


@pytest.mark.parametrize("case", ["split_of_a_plain_base", "view_of_a_plain_base", "split_under_no_grad",
                                  "view_under_no_grad", "view_of_a_no_grad_view"])
def test_in_place_with_grad_on_a_view_made_in_no_grad_mode(check, case):
    def program(m):
        w = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        plain = m.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
        if case == "split_of_a_plain_base":         # made in grad mode, but by a multi-output op: no history
            v = plain.split(1)[0]
        elif case == "view_of_a_plain_base":
            with m.no_grad():
                v = plain[1:]
        else:
            y = w.exp()
            with m.no_grad():
                v = y.split(1)[0] if case == "split_under_no_grad" else y[1:]
            if case == "view_of_a_no_grad_view":
                v = v[1:]
        v.div_(w)
    expected = {"split_of_a_plain_base": ("raises", NO_GRAD_VIEW),
                "view_of_a_plain_base": ("raises", NO_GRAD_VIEW),
                "split_under_no_grad": ("raises", NO_GRAD_VIEW),
                "view_under_no_grad": ("raises", NO_GRAD_VIEW),
                "view_of_a_no_grad_view": ("raises", VIEW_OF_NO_GRAD_VIEW)}[case]
    check(program, expected)


def test_the_multi_output_message_of_a_split_of_a_plain_base():
    v = ember.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]).split(1)[0]
    with pytest.raises(RuntimeError, match=MULTI_OUTPUT):
        v.div_(ember.tensor([0.5, 0.5, 0.5], requires_grad=True))
    v.div_(2.0)                                     # nothing requires grad: allowed
    assert v.tolist() == [[0.25, 0.25, 0.25]]


def test_a_no_grad_view_is_refused_once_its_base_changed_in_place(check):
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with m.no_grad():
            v = x[1:]
            x.mul_(2)
        return v.is_leaf
    check(program, ("raises", NO_GRAD_VIEW_REBASED))


# --- 2. views made before base.requires_grad_(), and leaf views -----------------------------------------------

def test_in_place_on_a_view_made_a_leaf_by_requires_grad_is_refused(check):
    def program(m):
        v0 = m.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
        v1 = v0[1:]
        v1.requires_grad_(True)
        assert flags(v1) == (True, True, True) and not v0.requires_grad
        v1.neg_()
    check(program, ("raises", VIEW_OF_LEAF))


def test_a_view_made_before_its_base_required_grad(check):
    def program(m):
        b = m.tensor([1.0, 2.0, 3.0])
        v = b[1:]
        b.requires_grad_()
        c = v * 2
        state = [*flags(v), c.requires_grad, [e[0] is None for e in c.grad_fn.next_functions]]
        try:
            v.neg_()
        except RuntimeError as e:
            return state, VIEW_OF_LEAF in str(e)
        return state, False
    check(program, ([True, True, True, True, [True, True]], True))


# --- 3. split/unbind/chunk outputs whose base changed --------------------------------------------------------

@pytest.mark.parametrize("observe", ["is_leaf", "grad_fn", "op", "backward"])
def test_a_split_output_whose_base_changed_in_place_is_refused(check, observe):
    def program(m):
        v0 = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        v1 = v0 * v0
        v2 = v1.split(1)[0]
        v1.exp_()
        if observe == "is_leaf":
            return v2.is_leaf
        if observe == "grad_fn":
            return v2.grad_fn
        if observe == "op":
            return v2 * 2
        v2.sum().backward()
    check(program, ("raises", MULTI_OUTPUT_REBASED))


def test_a_split_output_whose_base_changed_in_place_prints_an_invalid_grad_fn():
    v1 = ember.tensor([0.5, 0.5, 0.5], requires_grad=True) * 1
    v2 = v1.split(1)[0]
    v1.exp_()
    assert repr(v2) == "tensor([1.6487], grad_fn=<Invalid>)"
    assert v2.requires_grad


# --- 4. other views of a base that got history in place ------------------------------------------------------

def test_other_views_of_a_base_that_got_history_in_place_get_a_grad_fn(check):
    def program(m):
        v0 = m.tensor(0.5)
        v1 = v0.t()
        v2 = m.tensor(0.5, requires_grad=True)
        v0.sub_(v2)
        return type(v1.grad_fn).__name__, v1.is_leaf, v1.requires_grad
    check(program, ("AsStridedBackward0", False, True))


def test_gradients_flow_through_a_view_made_before_its_base_got_history(check):
    def program(m):
        w = m.tensor([1.0, 2.0], requires_grad=True)
        b = m.zeros(3)
        v = b[1:]
        b[1:].add_(w)
        loss = (v * 2).sum()
        loss.backward()
        return loss.requires_grad, w.grad
    check(program, (True, [2.0, 2.0]))


def test_a_view_of_a_detached_base_changed_in_place_leads_nowhere(check):
    def program(m):
        x = m.ones(3, requires_grad=True)
        y = x * 2
        v = y[1:]
        y.detach_()
        y.mul_(3)
        edges = [e[0] is None for e in v.grad_fn.next_functions]
        v.sum().backward()
        return edges, [*flags(v)], x.grad
    check(program, ([True], [True, False, False], None))


# --- 6. detach_ of a saved tensor ----------------------------------------------------------------------------

def test_detach_of_a_saved_output_does_not_refuse_the_backward(check):
    def program(m):
        v0 = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        v1 = v0.exp()                               # ExpBackward0 saves v1, its result
        v2 = v1.exp()
        v1.detach_()
        v2.sum().backward()
        return v1._version, v0.grad
    g = round(math.exp(math.exp(0.5)) * math.exp(0.5), 4)
    check(program, (0, [g, g, g]))


def test_detach_of_a_saved_input_refuses_the_backward(check):
    def program(m):
        v1 = m.tensor([0.5, 0.5], requires_grad=True) * 2
        v2 = v1 ** 2                                # saves v1, an input
        v1.detach_()
        v2.sum().backward()
    check(program, ("raises", DETACHED))


def test_a_tensor_saved_after_its_detach_is_fine(check):
    def program(m):
        x = m.tensor([0.5, 0.5], requires_grad=True)
        v1 = x * 2
        v1.detach_()
        v2 = v1 * x                                 # saves v1 as a constant now
        v2.sum().backward()
        return x.grad
    check(program, [1.0, 1.0])


# --- 7. a second backward through an in-place op on a view ---------------------------------------------------

def test_a_second_backward_through_copy_slices_raises_and_accumulates_nothing(check):
    def program(m):
        v0 = m.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], requires_grad=True)
        v1 = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        v4 = v0.exp().t().t()
        v4.add_(v1)
        out = []
        for _ in range(2):
            try:
                v4.sum().backward()
            except RuntimeError as e:
                out.append([p for p in (MODIFIED, TWICE) if p in str(e)])
            out.append(_plain(v1.grad))
        return out
    check(program, [[MODIFIED], [2.0, 2.0, 2.0], [TWICE], [2.0, 2.0, 2.0]])


def test_copy_slices_keeps_its_graph_with_retain_graph(check):
    def program(m):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 1
        y[:2].mul_(2)
        y.sum().backward(retain_graph=True)
        y.sum().backward()
        return x.grad
    check(program, [4.0, 4.0, 2.0])


# --- 8. operands that overlap the written tensor -------------------------------------------------------------

INDEX = {
    "index_add_": lambda m, v, src: v.index_add_(0, m.tensor([0] * src.numel()), src),
    "index_copy_": lambda m, v, src: v.index_copy_(0, m.arange(src.numel()), src),
    "scatter_": lambda m, v, src: v.scatter_(0, m.arange(src.numel()), src),
    "scatter_add_": lambda m, v, src: v.scatter_add_(0, m.arange(src.numel()), src),
    "scatter_reduce_": lambda m, v, src: v.scatter_reduce_(0, m.arange(src.numel()), src, "amax"),
    "put_": lambda m, v, src: v.put_(m.arange(src.numel()), src),
    "index_put_": lambda m, v, src: v.index_put_((m.arange(src.numel()),), src),
    "setitem": lambda m, v, src: v.__setitem__(m.arange(src.numel()), src),
}


@pytest.mark.parametrize("source", ["itself", "a_slice", "a_slice_of_a_non_leaf", "disjoint"])
@pytest.mark.parametrize("op", list(INDEX))
def test_index_ops_refuse_a_source_over_the_written_memory(check, op, source):
    def program(m):
        base = m.arange(4.0)
        if source == "a_slice_of_a_non_leaf":       # the fuzz reproducer: v1 = v0.exp(); v1.unsqueeze_(0) ...
            v = m.tensor(0.5, requires_grad=True).exp()
            v.unsqueeze_(0)
            return INDEX[op](m, v, v[:1])
        v = base if source != "disjoint" else base[:2]
        src = {"itself": v, "a_slice": v[1:2], "disjoint": base[2:3]}[source]
        INDEX[op](m, v, src)
        return "runs"
    check(program, "runs" if source == "disjoint" else ("raises", OVERLAP))


@pytest.mark.parametrize("case", ["index_fill_", "masked_fill_", "fill_", "setitem_basic"])
def test_a_value_read_once_may_come_from_the_written_tensor(check, case):
    def program(m):
        v = m.arange(3.0)
        {"index_fill_": lambda: v.index_fill_(0, m.tensor([0]), v[1]),
         "masked_fill_": lambda: v.masked_fill_(m.tensor([True, False, False]), v[1]),
         "fill_": lambda: v.fill_(v[1]),
         "setitem_basic": lambda: v.__setitem__(0, v[1])}[case]()
        return v
    check(program, [1.0, 1.0, 1.0] if case == "fill_" else [1.0, 1.0, 2.0])


@pytest.mark.parametrize("case", ["clamp_min", "setitem_shifted", "copy_shifted"])
def test_partly_overlapping_operands_are_refused(check, case):
    def program(m):
        v = m.arange(3.0)
        {"clamp_min": lambda: v.clamp_(min=v[1]), "setitem_shifted": lambda: v.__setitem__(slice(0, 2), v[1:]),
         "copy_shifted": lambda: v[:2].copy_(v[1:])}[case]()
        return v
    check(program, ("raises", OVERLAP))


# --- 9. operands PyTorch cannot tell apart from the written tensor: read as written -----------------------------

@pytest.mark.parametrize("case", ["add_diagonal", "add_column", "div_diagonal", "copy_diagonal", "masked_scatter_",
                                  "setitem_column"])
def test_an_overlapping_operand_is_read_as_it_is_written(check, case):
    def program(m):
        x = m.arange(9.0).reshape(3, 3) + (1 if case == "div_diagonal" else 0)
        with m.no_grad():
            {"add_diagonal": lambda: x.add_(x.diagonal()), "add_column": lambda: x.add_(x[:, :1]),
             "div_diagonal": lambda: x.div_(x.diagonal()), "copy_diagonal": lambda: x.copy_(x.diagonal()),
             "masked_scatter_": lambda: x.view(-1).masked_scatter_(x.view(-1) > 0, x.view(-1)),
             "setitem_column": lambda: x.__setitem__((slice(1, None), 0), x[0, :2])}[case]()
        return x
    expected = {"add_diagonal": [[0.0, 5.0, 10.0], [3.0, 8.0, 13.0], [6.0, 15.0, 16.0]],
                "add_column": [[0.0, 1.0, 2.0], [6.0, 10.0, 11.0], [12.0, 19.0, 20.0]],
                "div_diagonal": [[1.0, 0.4, 0.3333], [4.0, 1.0, 0.6667], [7.0, 8.0, 1.0]],
                "copy_diagonal": [[0.0, 4.0, 8.0], [0.0, 4.0, 8.0], [0.0, 4.0, 8.0]],
                "masked_scatter_": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]],
                "setitem_column": [[0.0, 1.0, 2.0], [0.0, 4.0, 5.0], [1.0, 7.0, 8.0]]}[case]
    check(program, expected)


def test_an_overlapping_operand_is_read_as_written_under_autograd_too(check):
    def program(m):
        w = m.arange(1.0, 10.0).reshape(3, 3).requires_grad_()
        x = w * 1
        x.add_(x.diagonal(), alpha=2)
        x.sum().backward()
        return x, w.grad
    check(program, ([[3.0, 12.0, 21.0], [10.0, 15.0, 24.0], [13.0, 38.0, 27.0]],
                    [[7.0, 1.0, 1.0], [1.0, 7.0, 1.0], [1.0, 1.0, 7.0]]))


# --- found by the fuzzer after the fixes above -----------------------------------------------------------------

def test_a_no_grad_view_of_a_plain_base_is_refused_once_the_base_got_history(check):
    def program(m):
        v0 = m.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]])
        with m.no_grad():
            v1 = v0[1:]
        v0.sub_(m.tensor(0.5, requires_grad=True))
        return v1.is_leaf
    check(program, ("raises", NO_GRAD_VIEW_REBASED))


def test_requires_grad_false_on_a_stale_no_grad_view_is_allowed(check):
    def program(m):
        v1 = m.tensor([0.5, 0.5, 0.5], requires_grad=True) * 1
        with m.no_grad():
            v2 = v1[1:]
        v1.add_(v1)
        v2.requires_grad_(False)                    # PyTorch tests its own node only, not a regenerated one
        return v2.requires_grad
    check(program, True)


def test_a_single_piece_of_split_or_unbind_is_a_multi_output_view(check):
    def program(m):
        v1 = m.tensor([[0.5, 0.5], [0.5, 0.5]], requires_grad=True) * 1
        pieces = [v1[1:].split(1)[0], v1[1:].chunk(1)[0], v1[1:].unbind()[0]]
        names = [type(p.grad_fn).__name__ for p in pieces]
        try:
            pieces[0].pow_(2)
        except RuntimeError as e:
            return names, MULTI_OUTPUT in str(e)
        return names, False
    check(program, (["SplitBackward0", "SplitBackward0", "UnbindBackward0"], True))


def test_t_in_place_on_an_expanded_view(check):
    def program(m):
        v0 = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        v2 = (v0 * v0).expand(2, 3)
        v2.t_()
        v2.sum().backward()
        return list(v2.shape), v2._version, v0.grad
    check(program, ([3, 2], 1, [4.0, 8.0, 12.0]))


def test_grad_through_a_tensor_whose_data_took_another_dtype_has_the_input_dtype(check):
    def program(m):
        v0 = m.tensor(0.5, dtype=m.float64, requires_grad=True)
        v1 = m.relu(v0)
        v1.data = m.tensor(0.5, requires_grad=True)
        g, = m.autograd.grad(v1.sum(), [v0])
        return str(g.dtype).rsplit(".", 1)[-1], g
    check(program, ("float64", 1.0))


def test_a_no_grad_view_of_a_base_that_requires_grad_acts_as_one_that_requires_grad(check):
    def program(m):
        x = m.ones(3, requires_grad=True)
        with m.no_grad():
            v = x[1:]
        v.register_hook(lambda g: None)             # allowed: v requires grad (through x)
        v.register_post_accumulate_grad_hook(lambda t: None)
        v.retain_grad()
        (v * 2).sum().backward()                    # no edge to v: neither v nor x gets a gradient
        out = [v.grad, x.grad]
        for f in (lambda: v.numpy(), lambda: v.__setitem__(0, 2.0)):   # refused as for any such tensor
            try:
                f()
                out.append("runs")
            except RuntimeError:
                out.append("raises")
        return out
    check(program, [None, None, "raises", "raises"])


def test_a_view_of_a_base_restrided_in_place_is_regenerated_as_a_strided_view(check):
    def program(m):
        v0 = m.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], requires_grad=True)
        v1 = v0 * v0
        v2 = v1.expand(2, *v1.shape)
        v1.t_()                                     # the chain v2 was made by no longer applies to v1
        fn = type(v2.grad_fn).__name__
        v2.sum().backward()
        return fn, list(v2.shape), v0.grad
    check(program, ("AsStridedBackward0", [2, 2, 3], [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]))


@pytest.mark.parametrize("case", ["ellipsis_unsqueezed", "viewed_ellipsis", "int_of_a_slice", "int_of_itself",
                                  "shifted_unsqueezed", "0d_from_1_elem", "0d_from_1_elem_grad"])
def test_setitem_drops_the_values_leading_ones_as_pytorch(check, case):
    def program(m):
        v = m.arange(3.0)
        z = m.zeros(2, 2)
        {"ellipsis_unsqueezed": lambda: v.__setitem__(Ellipsis, v.unsqueeze(0)),
         "viewed_ellipsis": lambda: v.view(1, 3).__setitem__(Ellipsis, v),
         "int_of_a_slice": lambda: v.__setitem__(0, v[1:2]),
         "int_of_itself": lambda: v.__setitem__(0, v[0:1]),
         "shifted_unsqueezed": lambda: v.__setitem__(slice(0, 2), v[1:].unsqueeze(0)),
         "0d_from_1_elem": lambda: z.__setitem__((0, 0), m.tensor([0.5])),
         "0d_from_1_elem_grad": lambda: z.__setitem__((0, 0), m.tensor([0.5], requires_grad=True))}[case]()
        return (z if case.startswith("0d") else v).detach()
    expected = {"ellipsis_unsqueezed": [0.0, 1.0, 2.0], "viewed_ellipsis": [0.0, 1.0, 2.0],
                "int_of_a_slice": [1.0, 1.0, 2.0], "int_of_itself": [0.0, 1.0, 2.0],
                "shifted_unsqueezed": ("raises", OVERLAP), "0d_from_1_elem": [[0.5, 0.0], [0.0, 0.0]],
                "0d_from_1_elem_grad": [[0.5, 0.0], [0.0, 0.0]]}[case]
    check(program, expected)


@pytest.mark.parametrize("old, new", [("float32", "float64"), ("float64", "float32")])
def test_a_leafs_grad_keeps_the_dtype_of_the_graph_after_data_takes_another(check, old, new):
    def program(m):
        v0 = m.tensor([0.5, 0.5], dtype=getattr(m, old), requires_grad=True)
        v1 = v0.exp()
        v0.data = m.tensor([0.5, 0.5], dtype=getattr(m, new))
        v1.sum().backward()
        return str(v0.grad.dtype).rsplit(".", 1)[-1], str(v0.dtype).rsplit(".", 1)[-1]
    check(program, (old, new))


def test_setitem_of_a_tensor_with_itself_is_a_no_op_even_when_expanded(check):
    def program(m):
        v1 = m.tensor([0.5, 0.5, 0.5]).expand(2, 3)
        v1[...] = v1
        v1[:] = v1
        return v1._version, v1
    check(program, (2, [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]))


def test_in_place_on_a_view_after_its_base_was_restrided_in_place(check):
    def program(m):
        v0 = m.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]], requires_grad=True)
        out = []
        for restride, write in (("unsqueeze_", lambda v: v.diagonal()), ("t_", lambda v: v[:, 1:])):
            v1 = v0 ** 2
            v2 = write(v1)
            getattr(v1, restride)(*([0] if restride == "unsqueeze_" else []))
            v2.mul_(3)
            v1.sum().backward()
            out.append(v0.grad)
            v0.grad = None
        return out
    check(program, [[[3.0, 1.0, 1.0], [1.0, 3.0, 1.0]], [[1.0, 3.0, 3.0], [1.0, 3.0, 3.0]]])


@pytest.mark.parametrize("op", ["masked_fill_", "index_fill_"])
def test_writes_into_an_expanded_view_with_history_run_and_their_backward_is_refused(check, op):
    def program(m):
        v0 = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        v1 = v0.exp()
        v2 = v1.expand(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if op == "masked_fill_":
                v2.masked_fill_(v2 > 0, 0.0)
            else:
                v2.index_fill_(1, m.tensor([0]), 1.0)
        out = [v2, type(v1.grad_fn).__name__]
        try:
            v1.sum().backward()
        except RuntimeError as e:
            out.append("more than one element of the written-to tensor" in str(e))
        return out
    values = [[0.0] * 3] * 2 if op == "masked_fill_" else [[1.0, 1.6487, 1.6487]] * 2
    check(program, [values, "CopySlices", True])


@pytest.mark.parametrize("write", ["masked_fill_first_column", "setitem_row", "setitem_advanced", "setitem_all"])
def test_recorded_writes_into_an_expanded_view_write_the_selected_positions_only(check, write):
    def program(m):
        v0 = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        v1 = v0 * 2
        v2 = v1.expand(2, 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            {"masked_fill_first_column": lambda: v2.masked_fill_(m.tensor([[True, False, False]] + [[False] * 3]), 0.0),
             "setitem_row": lambda: v2.__setitem__(1, m.tensor([1.0, 2.0, 3.0])),
             "setitem_advanced": lambda: v2.__setitem__((m.tensor([0]), m.tensor([1])), m.tensor(7.0)),
             "setitem_all": lambda: v2.__setitem__(Ellipsis, v2.exp())}[write]()
        return v1
    expected = {"masked_fill_first_column": [0.0, 1.0, 1.0], "setitem_row": [1.0, 2.0, 3.0],
                "setitem_advanced": [1.0, 7.0, 1.0], "setitem_all": ("raises",)}[write]
    check(program, expected)


def test_a_leaf_detached_and_given_history_in_place_is_refused_by_its_accumulator(check):
    def program(m):
        v0 = m.tensor([0.5, 0.5, 0.5], requires_grad=True)
        v1 = v0.cumsum(0)
        v0.detach_()
        v0.add_(v1)                                 # v0 has history now, but v1's graph accumulates into it
        try:
            v1.sum().backward()
        except RuntimeError as e:
            return "moved into the graph interior" in str(e)
    check(program, True)


def test_copy_of_an_expanded_tensor_with_history_into_itself(check):
    def program(m):
        v2 = (m.tensor(0.5, requires_grad=True) * 2).expand(2)
        v2.copy_(v2)
        return v2._version, v2
    check(program, (1, [1.0, 1.0]))
