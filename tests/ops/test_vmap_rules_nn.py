"""vmap's batching rules for convolutions and pooling, indexing and scatter, joining and splitting
(ember/_vmap_rules_nn.py) on the cases test_vmap_ops.py's table does not reach: batched weights and index
tensors, unbatched operands mixed with batched ones, 0-d elements. Each case runs once on the whole batch (the
per-element loop is made to fail) and equals the op run on each element, by ember and by PyTorch."""
import numpy as np
import pytest

import ember
import ember._vmap as vmap_module

B = 3


def F(m):
    return m.nn.functional


def _set_rows(m, x, v):
    out = x.clone()
    out[m.tensor([0, 2])] = v                      # x[index] = value: index_put_ through __setitem__
    return out


# an input: ("f", shape) float64, ("c", shape) complex128, ("i", shape, high) int64 in [0, high), ("b", shape)
# bool; a trailing None leaves it unbatched (one value for every element)
CASES = [
    # convolutions: batched weight and bias (folded into channels and groups), an unbatched operand
    ("conv1d_weight", lambda m, x, w, b: F(m).conv1d(x, w, b, stride=2, padding=1),
     [("f", (2, 3, 7)), ("f", (4, 3, 3)), ("f", (4,))]),
    ("conv2d_weight_groups", lambda m, x, w: F(m).conv2d(x, w, padding=1, groups=2),
     [("f", (4, 5, 4)), ("f", (2, 2, 3, 3))]),
    ("conv2d_input_unbatched", lambda m, x, w, b: F(m).conv2d(x, w, b, dilation=2),
     [("f", (2, 3, 6, 6), None), ("f", (4, 3, 2, 2)), ("f", (4,), None)]),
    ("conv2d_bias_only", lambda m, x, w, b: F(m).conv2d(x, w, b), [("f", (2, 3, 5, 5)), ("f", (4, 3, 3, 3), None),
                                                                    ("f", (4,))]),
    ("conv3d_weight", lambda m, x, w: F(m).conv3d(x, w, stride=2), [("f", (1, 2, 4, 3, 3)), ("f", (2, 2, 2, 2, 2))]),
    ("conv_transpose1d_weight", lambda m, x, w, b: F(m).conv_transpose1d(x, w, b, stride=2, output_padding=1, groups=2),
     [("f", (2, 4, 5)), ("f", (4, 3, 3)), ("f", (6,))]),
    ("conv_transpose2d_weight", lambda m, x, w, b: F(m).conv_transpose2d(x, w, b, stride=2, padding=1),
     [("f", (3, 4, 4)), ("f", (3, 2, 3, 3)), ("f", (2,), None)]),
    ("conv_transpose3d_input", lambda m, x, w: F(m).conv_transpose3d(x, w), [("f", (2, 2, 2, 2, 2)),
                                                                            ("f", (2, 1, 2, 2, 2), None)]),
    # pooling, padding, im2col: the batch as N or merged into N
    ("max_pool1d_indices", lambda m, x: F(m).max_pool1d(x, 3, 2, 1, return_indices=True), [("f", (3, 8))]),
    ("max_pool2d_ceil", lambda m, x: F(m).max_pool2d(x, 2, ceil_mode=True), [("f", (2, 2, 5, 5))]),
    ("avg_pool2d", lambda m, x: F(m).avg_pool2d(x, 2, padding=1, count_include_pad=False), [("f", (2, 5, 5))]),
    ("adaptive_avg_pool2d", lambda m, x: F(m).adaptive_avg_pool2d(x, (2, 3)), [("f", (2, 3, 5, 5))]),
    ("adaptive_max_pool2d", lambda m, x: F(m).adaptive_max_pool2d(x, 2, return_indices=True), [("f", (3, 5, 4))]),
    ("adaptive_max_pool1d", lambda m, x: F(m).adaptive_max_pool1d(x, 3), [("f", (2, 3, 8))]),
    ("avg_pool1d", lambda m, x: F(m).avg_pool1d(x, 3, 2, 1), [("f", (3, 8))]),
    ("avg_pool3d", lambda m, x: F(m).avg_pool3d(x, 2), [("f", (2, 2, 4, 4, 4))]),
    ("lp_pool2d", lambda m, x: F(m).lp_pool2d(x.abs() + 0.1, 2, 2), [("f", (2, 5, 5))]),
    ("pad_circular", lambda m, x: F(m).pad(x, (1, 2, 0, 1), mode="circular"), [("f", (2, 5, 5))]),
    ("conv2d_same_weight", lambda m, x, w: F(m).conv2d(x, w, padding="same", dilation=2),
     [("f", (2, 5, 5)), ("f", (4, 2, 3, 3))]),
    ("pad_reflect", lambda m, x: F(m).pad(x, (1, 2), mode="reflect"), [("f", (2, 3, 5))]),
    ("pad_replicate", lambda m, x: F(m).pad(x, (1, 1, 2, 0), mode="replicate"), [("f", (1, 2, 4, 4))]),
    ("pad_constant", lambda m, x: F(m).pad(x, (1, -1, 2, 0), value=0.5), [("f", (3, 4))]),
    ("constant_pad_nd", lambda m, x: m.constant_pad_nd(x, (2, 1), -1.0), [("f", (2, 3))]),
    ("im2col", lambda m, x: F(m).unfold(x, 2, padding=1), [("f", (2, 3, 4, 4))]),
    ("col2im", lambda m, x: F(m).fold(x, (3, 3), 2), [("f", (8, 4))]),
    # gather / take / advanced indexing with batched index tensors
    ("gather_index", lambda m, x, i: m.gather(x, 1, i), [("f", (3, 4)), ("i", (3, 2), 4)]),
    ("gather_x_unbatched", lambda m, x, i: x.gather(0, i), [("f", (3, 4), None), ("i", (2, 4), 3)]),
    ("gather_0d_index", lambda m, x, i: x.gather(0, i), [("f", (5,)), ("i", (), 5)]),
    ("take_along_dim_flat", lambda m, x, i: m.take_along_dim(x, i), [("f", (3, 4)), ("i", (5,), 12)]),
    ("take_along_dim_dim", lambda m, x, i: m.take_along_dim(x, i, 1), [("f", (3, 4), None), ("i", (3, 2), 4)]),
    ("take", lambda m, x, i: m.take(x, i - 6), [("f", (3, 4)), ("i", (2, 2), 12)]),
    ("index_first", lambda m, x, i: x[i], [("f", (4, 3)), ("i", (2, 2), 4)]),
    ("index_after_slice", lambda m, x, i: x[:, i], [("f", (3, 4, 2)), ("i", (2,), 4)]),
    ("index_separated", lambda m, x, i, j: x[i, :, j], [("f", (2, 3, 4)), ("i", (2,), 2), ("i", (2,), 4, None)]),
    ("index_ellipsis", lambda m, x, i: x[..., i], [("f", (2, 3, 4), None), ("i", (2, 2), 4)]),
    ("index_lists_separated", lambda m, x: x[[0, 1], :, [1, 2]], [("f", (2, 3, 4))]),
    ("index_put", lambda m, x, i, v: m.index_put(x, (i,), v, accumulate=True), [("f", (4, 3)), ("i", (5,), 4),
                                                                                 ("f", (3,))]),
    ("index_put_two", lambda m, x, i, j, v: x.index_put((i, j), v), [("f", (4, 3), None), ("i", (2,), 4),
                                                                     ("i", (2,), 3, None), ("f", (2,))]),
    ("index_put_", lambda m, x, i, v: x.clone().index_put_((i,), v), [("f", (4, 3)), ("i", (2,), 4), ("f", (2, 3))]),
    # index_add / copy / fill / reduce: batched index merged into the dim
    ("setitem", _set_rows, [("f", (3, 4)), ("f", (4,))]),
    ("index_add_index", lambda m, x, i, s: x.index_add(1, i, s, alpha=2), [("f", (3, 4)), ("i", (3,), 4),
                                                                           ("f", (3, 3))]),
    ("index_copy_index", lambda m, x, i, s: m.index_copy(x, 0, i, s), [("f", (4, 2)), ("i", (1,), 4),
                                                                       ("f", (1, 2))]),
    ("index_fill_index", lambda m, x, i: x.index_fill(1, i, -1.5), [("f", (3, 4), None), ("i", (2,), 4)]),
    ("index_reduce_index", lambda m, x, i, s: x.index_reduce(0, i, s, "amax", include_self=False),
     [("f", (3, 4)), ("i", (4,), 3), ("f", (4, 4))]),
    ("index_add_x_unbatched", lambda m, x, s: x.index_add(0, m.tensor([2, 0]), s), [("f", (3, 4), None),
                                                                                    ("f", (2, 4))]),
    ("index_add_", lambda m, x, s: x.clone().index_add_(1, m.tensor([0, 0]), s), [("f", (3, 4)), ("f", (3, 2))]),
    # scatter: every element writes its own batch row
    ("scatter_index", lambda m, x, i, s: x.scatter(1, i, s), [("f", (3, 4)), ("i", (3, 2), 4), ("f", (3, 3))]),
    ("scatter_value", lambda m, x, i: x.scatter(0, i, 2.5, reduce="multiply"), [("f", (3, 4)), ("i", (2, 4), 3)]),
    ("scatter_add_x_unbatched", lambda m, x, i, s: x.scatter_add(0, i, s), [("f", (3, 4), None), ("i", (2, 4), 3),
                                                                            ("f", (2, 4))]),
    ("scatter_reduce", lambda m, x, i, s: x.scatter_reduce(1, i, s, "amax", include_self=False),
     [("f", (3, 4)), ("i", (3, 4), 4), ("f", (3, 4))]),
    ("scatter_0d", lambda m, x, i, s: x.scatter(0, i, s), [("f", ()), ("i", (), 1), ("f", ())]),
    ("scatter_", lambda m, x, i, s: x.clone().scatter_(1, i, s), [("f", (3, 4)), ("i", (3, 2), 4), ("f", (3, 2))]),
    ("masked_scatter", lambda m, x, k, s: x.masked_scatter(k, s), [("f", (3, 4)), ("b", (3, 4)), ("f", (12,))]),
    ("masked_scatter_broadcast", lambda m, x, k, s: x.masked_scatter(k, s), [("f", (3, 4), None), ("b", (4,)),
                                                                             ("f", (2, 6), None)]),
    ("put", lambda m, x, i, s: x.put(i - 6, s, accumulate=True), [("f", (3, 4)), ("i", (2, 2), 12), ("f", (2, 2))]),
    ("put_x_unbatched", lambda m, x, i, s: x.put(i, s), [("f", (2, 3), None), ("i", (2,), 6), ("f", (2,))]),
    ("select", lambda m, x: x.select(-1, 1), [("f", (2, 3))]),
    ("select_scatter", lambda m, x, s: m.select_scatter(x, s, 0, -1), [("f", (3, 4), None), ("f", (4,))]),
    ("slice_scatter", lambda m, x, s: x.slice_scatter(s, 1, 1, None, 2), [("f", (3, 4)), ("f", (3, 2), None)]),
    ("diagonal_scatter", lambda m, x, s: m.diagonal_scatter(x, s, 1, 2, 0), [("f", (3, 2, 3)), ("f", (2, 2))]),
    # views and reorderings
    ("narrow_copy", lambda m, x: x.narrow_copy(-1, -2, 2), [("f", (3, 4))]),
    ("squeeze_all", lambda m, x: x.squeeze(), [("f", (1, 3, 1))]),
    ("squeeze_none", lambda m, x: x.squeeze(), [("f", (2, 3))]),
    ("squeeze_dims", lambda m, x: m.squeeze(x, (0, -1, 1)), [("f", (1, 3, 1))]),
    ("squeeze_0d", lambda m, x: x.squeeze(0), [("f", ())]),
    ("expand_as_other", lambda m, x, y: x.expand_as(y), [("f", (3, 1)), ("f", (2, 3, 4))]),
    ("expand_as_x_unbatched", lambda m, x, y: x.expand_as(y), [("f", (4,), None), ("f", (3, 4))]),
    ("unflatten", lambda m, x: x.unflatten(-1, (2, 2)), [("f", (3, 4))]),
    ("sum_to_size", lambda m, x: x.sum_to_size(3, 1), [("f", (2, 3, 4))]),
    ("repeat_interleave_flat", lambda m, x: x.repeat_interleave(2), [("f", (2, 3))]),
    ("repeat_interleave_tensor", lambda m, x: x.repeat_interleave(m.tensor([2, 0, 1]), dim=-1), [("f", (2, 3))]),
    ("tile_longer", lambda m, x: m.tile(x, (2, 1, 3)), [("f", (3, 2))]),
    ("tile_shorter", lambda m, x: x.tile((2,)), [("f", (3, 2))]),
    ("roll_flat", lambda m, x: m.roll(x, -5), [("f", (3, 4))]),
    ("rot90", lambda m, x: m.rot90(x, 3, [2, 0]), [("f", (2, 3, 4))]),
    ("fliplr", lambda m, x: m.fliplr(x), [("f", (2, 3, 4))]),
    ("flipud", lambda m, x: m.flipud(x), [("f", (3,))]),
    ("unfold_step", lambda m, x: x.unfold(0, 2, 2), [("f", (5, 3))]),
    ("unfold_0d", lambda m, x: x.unfold(0, 1, 1), [("f", ())]),
    ("adjoint", lambda m, x: x.adjoint(), [("c", (2, 3))]),
    ("ravel", lambda m, x: m.ravel(x.t()), [("f", (3, 4))]),
    ("view_as_real", lambda m, x: m.view_as_real(x), [("c", ())]),
    ("view_as_complex", lambda m, x: m.view_as_complex(x), [("f", (3, 2))]),
    # joining and splitting
    ("hstack_0d", lambda m, x, y: m.hstack([x, y]), [("f", ()), ("f", (2,), None)]),
    ("hstack_2d", lambda m, x, y: m.hstack([x, y]), [("f", (3, 2), None), ("f", (3, 1))]),
    ("vstack", lambda m, x, y: m.vstack([x, y]), [("f", (3,)), ("f", (2, 3))]),
    ("row_stack", lambda m, x, y: m.row_stack((x, y)), [("f", ()), ("f", (), None)]),
    ("dstack", lambda m, x, y, z: m.dstack([x, y, z]), [("f", (2,)), ("f", (1, 2)), ("f", (1, 2, 2), None)]),
    ("column_stack", lambda m, x, y, z: m.column_stack([x, y, z]), [("f", ()), ("f", (1,)), ("f", (1, 2))]),
    ("atleast_3d", lambda m, x, y, z: m.atleast_3d(x, y, z), [("f", (2,)), ("f", (2, 3), None), ("f", (2, 3))]),
    ("atleast_2d", lambda m, x: m.atleast_2d(x), [("f", ())]),
    ("block_diag", lambda m, x, y, z: m.block_diag(x, y, z), [("f", (2, 3)), ("f", ()), ("f", (2,), None)]),
    ("block_diag_dtypes", lambda m, x, y: m.block_diag(x.float(), y), [("f", (2,)), ("f", (1, 2))]),
    ("cartesian_prod", lambda m, x, y, z: m.cartesian_prod(x, y, z), [("f", (3,)), ("f", (2,), None),
                                                                      ("f", (2,))]),
    ("combinations", lambda m, x: m.combinations(x, 3, with_replacement=True), [("f", (3,))]),
    ("meshgrid_xy", lambda m, x, y, z: m.meshgrid(x, y, z, indexing="xy"), [("f", (3,)), ("f", (), None),
                                                                            ("f", (2,))]),
    ("broadcast_tensors", lambda m, x, y: m.broadcast_tensors(x, y), [("f", (2, 1)), ("f", (3,), None)]),
    ("tensor_split", lambda m, x: m.tensor_split(x, m.tensor([1, 3]), 1), [("f", (2, 5))]),
    ("hsplit", lambda m, x: m.hsplit(x, [1, 3]), [("f", (5,))]),
    ("vsplit", lambda m, x: x.vsplit(2), [("f", (4, 3))]),
    ("dsplit", lambda m, x: m.dsplit(x, [1]), [("f", (2, 3, 4))]),
    ("unsafe_split", lambda m, x: x.unsafe_split(2, -1), [("f", (3, 5))]),
    ("unsafe_chunk", lambda m, x: m.unsafe_chunk(x, 2), [("f", (5, 3))]),
]


def _arrays(spec, rng):
    kind, shape = spec[0], spec[1]
    batched = not (len(spec) > 2 and spec[-1] is None)
    full = ((B,) if batched else ()) + shape
    if kind == "f":
        a = rng.uniform(-2, 2, full)
    elif kind == "c":
        a = rng.uniform(-2, 2, full) + 1j * rng.uniform(-2, 2, full)
    elif kind == "i":
        a = rng.integers(0, spec[2], full).astype(np.int64)
    else:
        a = rng.uniform(-1, 1, full) > 0
    return a, batched


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _loop_fails(*args, **kwargs):
    raise AssertionError(f"ran element by element: {args[1]}")


@pytest.mark.parametrize("name, fn, specs", [pytest.param(*c, id=c[0]) for c in CASES])
def test_batched_rule_equals_each_element(name, fn, specs, monkeypatch):
    rng = np.random.default_rng(sum(map(ord, name)))
    inputs = [_arrays(s, rng) for s in specs]
    expected = [fn(ember, *[ember.from_numpy(np.array(a[k]) if batched else a.copy()) for a, batched in inputs])
                for k in range(B)]
    monkeypatch.setattr(vmap_module, "_loop", _loop_fails)     # the rule must take the whole batch
    got = ember.func.vmap(lambda *xs: fn(ember, *xs), in_dims=tuple(0 if b else None for _, b in inputs))(
        *[ember.from_numpy(a.copy()) for a, _ in inputs])
    got = _flat(got)
    for k, g in enumerate(got):
        want = ember.stack([_flat(e)[k] for e in expected])
        assert g.dtype == want.dtype and tuple(g.shape) == tuple(want.shape), (k, g.dtype, want.dtype, g.shape)
        np.testing.assert_allclose(g.detach().numpy(), want.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name} output {k}")
    torch = pytest.importorskip("torch")
    for k, g in enumerate(got):
        want = torch.stack([_flat(fn(torch, *[torch.from_numpy(np.array(a[j]) if batched else a.copy())
                                              for a, batched in inputs]))[k] for j in range(B)])
        assert str(want.dtype).rsplit(".", 1)[-1] == str(g.dtype).rsplit(".", 1)[-1]
        np.testing.assert_allclose(g.numpy(), want.resolve_conj().numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name} output {k} vs torch")


def test_per_sample_gradients_through_a_batched_weight_convolution(monkeypatch):
    """vmap(grad(f)) over a batch of weights: the convolution's rule records the grouped convolution, whose
    backward gives each element's gradient (checked against PyTorch's torch.func and a loop)."""
    rng = np.random.default_rng(0)
    x, w = rng.uniform(-1, 1, (2, 3, 6)), rng.uniform(-1, 1, (B, 4, 3, 3))

    def loss(m, weight, inp):
        return (F(m).conv1d(inp, weight, padding=1) ** 2).sum()
    monkeypatch.setattr(vmap_module, "_loop", _loop_fails)
    got = ember.func.vmap(ember.func.grad(lambda wt: loss(ember, wt, ember.from_numpy(x))))(ember.from_numpy(w))
    for k in range(B):
        wk = ember.from_numpy(w[k].copy()).requires_grad_()
        loss(ember, wk, ember.from_numpy(x)).backward()
        np.testing.assert_allclose(got[k].detach().numpy(), wk.grad.numpy(), rtol=1e-10)
    torch = pytest.importorskip("torch")
    want = torch.func.vmap(torch.func.grad(lambda wt: loss(torch, wt, torch.from_numpy(x))))(torch.from_numpy(w))
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=1e-10)


def test_inplace_with_an_unbatched_self_refuses():
    x = ember.zeros(3, 4)
    with pytest.raises(RuntimeError, match="inplace arithmetic"):
        ember.func.vmap(lambda s: x.index_put_((ember.tensor([0]),), s))(ember.ones(2, 4))
    with pytest.raises(RuntimeError, match="inplace arithmetic"):
        ember.func.vmap(lambda s: x.scatter_(0, ember.tensor([[0, 1, 2, 0]]), s))(ember.ones(2, 1, 4))


def test_out_of_range_batched_index_raises_as_the_op(monkeypatch):
    """A batched index out of range is not folded into another element's rows: it runs element by element and
    the op raises as it does for the element."""
    monkeypatch.setattr(vmap_module, "_FALLEN_BACK", set())    # (test_vmap_ops.py's list stays its own)
    x = ember.zeros(2, 3)
    with pytest.warns(UserWarning, match="index_add"), pytest.raises((IndexError, RuntimeError)):
        ember.func.vmap(lambda i: x.index_add(1, i, ember.ones(2, 1)))(ember.tensor([[1], [3]]))


def test_nested_vmap_reads_every_level(monkeypatch):
    """Under two vmaps a rule's physical tensors are the outer level's BatchedTensors: the range check of a
    batched index and masked_scatter's count read the values of every level."""
    rng = np.random.default_rng(2)
    x, index = rng.uniform(-1, 1, (2, 3, 4, 5)), rng.integers(0, 5, (2, 3, 2))

    def f(m, a, i):
        return a.index_add(1, i, m.ones(4, 2, dtype=m.float64)).masked_scatter(a > 0, a * 2)
    monkeypatch.setattr(vmap_module, "_loop", _loop_fails)
    got = ember.func.vmap(ember.func.vmap(lambda a, i: f(ember, a, i)))(ember.from_numpy(x), ember.from_numpy(index))
    for j in range(2):
        for k in range(3):
            want = f(ember, ember.from_numpy(x[j, k].copy()), ember.from_numpy(index[j, k].copy()))
            np.testing.assert_allclose(got[j, k].numpy(), want.numpy(), rtol=1e-10)
    torch = pytest.importorskip("torch")
    want = torch.func.vmap(torch.func.vmap(lambda a, i: f(torch, a, i)))(torch.from_numpy(x), torch.from_numpy(index))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-10)
