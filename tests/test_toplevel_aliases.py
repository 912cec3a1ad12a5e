"""The top-level names of ember/_aliases.py (torch.sin_, ATen-signature forms such as torch.dropout(input, p,
train), *_copy ops, unravel_index, ...) against PyTorch: values, dtypes, gradients and errors."""
import warnings

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck


def _arrays(shapes, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _spd(n):
    a = np.random.default_rng(1).standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def _lower(n):
    return np.linalg.cholesky(_spd(n))


# name, fn(m, *inputs), input arrays, whether to compare gradients
CASES = [
    ("sin_", lambda m, x: m.sin_(x.clone()), _arrays([(3, 4)]), True),
    ("clamp_", lambda m, x: m.clamp_(x.clone(), -0.5, 0.5), _arrays([(3, 4)]), True),
    ("zero_", lambda m, x: m.zero_(x.clone()), _arrays([(3,)]), False),
    ("fill_", lambda m, x: m.fill_(x.clone(), 2.5), _arrays([(3,)]), False),
    ("detach", lambda m, x: m.detach(x) * 2, _arrays([(3,)]), False),
    ("is_signed", lambda m, x: (m.is_signed(x), m.is_signed(x.to(m.uint8))), _arrays([(3,)]), False),
    ("get_device", lambda m, x: m.get_device(x), _arrays([(3,)]), False),
    ("index_put_", lambda m, x: m.index_put_(x.clone(), (m.tensor([0, 2]),), m.tensor([7.0, 8.0],
                                                                                     dtype=x.dtype)),
     _arrays([(3,)]), True),
    ("nan_to_num_", lambda m: m.nan_to_num_(m.tensor([m.inf, m.nan, -m.inf, 1.0])), [], False),
    ("dropout_eval", lambda m, x: m.dropout(x, 0.5, False), _arrays([(3, 4)]), True),
    ("dropout_p0", lambda m, x: m.dropout(x, 0.0, True), _arrays([(3, 4)]), True),
    ("alpha_dropout_eval", lambda m, x: m.alpha_dropout(x, 0.3, False), _arrays([(3, 4)]), True),
    ("feature_dropout_eval", lambda m, x: m.feature_dropout(x, 0.3, False), _arrays([(3, 4)]), True),
    ("feature_dropout_1d", lambda m, x: m.feature_dropout(x, 0.3, True), _arrays([(3,)]), False),
    ("batch_norm", lambda m, x, w, b: m.batch_norm(x, w, b, None, None, True, 0.1, 1e-5, False),
     _arrays([(4, 3, 2), (3,), (3,)]), True),
    ("batch_norm_running", lambda m, x: m.batch_norm(x, None, None, m.zeros(3, dtype=x.dtype),
                                                     m.ones(3, dtype=x.dtype), False, 0.1, 1e-5, False),
     _arrays([(4, 3)]), True),
    ("instance_norm", lambda m, x: m.instance_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
     _arrays([(2, 3, 5)]), True),
    ("layer_norm", lambda m, x, w: m.layer_norm(x, [4], w), _arrays([(3, 4), (4,)]), True),
    ("group_norm", lambda m, x: m.group_norm(x, 2), _arrays([(2, 4, 3)]), True),
    ("rms_norm", lambda m, x: m.rms_norm(x, (4,), None, 1e-6), _arrays([(3, 4)]), True),
    ("bilinear", lambda m, a, b, w: m.bilinear(a, b, w), _arrays([(2, 3), (2, 4), (5, 3, 4)]), True),
    ("embedding", lambda m, w: m.embedding(w, m.tensor([0, 3, 3, 4])), _arrays([(5, 3)]), True),
    ("embedding_padding", lambda m, w: m.embedding(w, m.tensor([0, 3, 3, 4]), 3), _arrays([(5, 3)]), True),
    ("embedding_negative_padding", lambda m, w: m.embedding(w, m.tensor([0, 3, 4]), -2), _arrays([(5, 3)]),
     True),
    ("embedding_renorm_", lambda m, w: m.embedding_renorm_(w.clone() * 3, m.tensor([1, 2]), 1.0, 2.0),
     _arrays([(4, 3)]), False),
    ("bce_with_logits", lambda m, x, t: m.binary_cross_entropy_with_logits(x, t.sigmoid()),
     _arrays([(3, 4), (3, 4)]), True),
    ("bce_with_logits_sum", lambda m, x, t: m.binary_cross_entropy_with_logits(x, t.sigmoid(), None, None, 2),
     _arrays([(3, 4), (3, 4)]), True),
    ("cosine_embedding_loss", lambda m, a, b: m.cosine_embedding_loss(a, b, m.tensor([1, -1, 1]), 0.1, 0),
     _arrays([(3, 4), (3, 4)]), True),
    ("hinge_embedding_loss", lambda m, x: m.hinge_embedding_loss(x, m.tensor([1.0, -1.0, 1.0], dtype=x.dtype)),
     _arrays([(3,)]), True),
    ("kl_div", lambda m, x, t: m.kl_div(x, t, 1), _arrays([(3, 4), (3, 4)]), True),
    ("kl_div_sum_log_target", lambda m, x, t: m.kl_div(x, t, 2, log_target=True), _arrays([(3, 4), (3, 4)]),
     True),
    ("kl_div_other_int", lambda m, x, t: m.kl_div(x, t.exp(), 7), _arrays([(3,), (3,)]), True),
    ("margin_ranking_loss", lambda m, a, b: m.margin_ranking_loss(a, b, m.tensor([1.0, -1.0, 1.0],
                                                                               dtype=a.dtype)),
     _arrays([(3,), (3,)]), True),
    ("poisson_nll_loss", lambda m, x, t: m.poisson_nll_loss(x, t.abs(), True, False, 1e-8, 1),
     _arrays([(3, 4), (3, 4)]), True),
    ("triplet_margin_loss", lambda m, a, p, n: m.triplet_margin_loss(a, p, n), _arrays([(3, 4)] * 3), True),
    ("ctc_loss", lambda m, x: m.ctc_loss(x.log_softmax(2), m.tensor([[1, 2], [2, 2]]), [5, 5], [2, 2]),
     _arrays([(5, 2, 4)]), True),
    ("cosine_similarity", lambda m, a, b: m.cosine_similarity(a, b), _arrays([(3, 4), (3, 4)]), True),
    ("pairwise_distance", lambda m, a, b: m.pairwise_distance(a, b, 3.0), _arrays([(3, 4), (3, 4)]), True),
    ("pdist", lambda m, x: m.pdist(x), _arrays([(4, 3)]), True),
    ("pixel_shuffle", lambda m, x: m.pixel_shuffle(x, 2), _arrays([(1, 4, 2, 3)]), True),
    ("pixel_unshuffle", lambda m, x: m.pixel_unshuffle(x, 2), _arrays([(1, 1, 4, 2)]), True),
    ("channel_shuffle", lambda m, x: m.channel_shuffle(x, 2), _arrays([(1, 4, 2)]), True),
    ("max_pool1d_with_indices", lambda m, x: m.max_pool1d_with_indices(x, 2), _arrays([(1, 2, 6)]), True),
    ("max_pool1d_with_indices_stride", lambda m, x: m.max_pool1d_with_indices(x, 3, 1, 1),
     _arrays([(1, 2, 6)]), True),
    ("convolution", lambda m, x, w, b: m.convolution(x, w, b, [1, 1], [1, 0], [1, 1], False, [0, 0], 1),
     _arrays([(1, 2, 5, 4), (3, 2, 3, 3), (3,)]), True),
    ("convolution_transposed", lambda m, x, w: m.convolution(x, w, None, [2], [1], [1], True, [1], 1),
     _arrays([(1, 2, 5), (2, 3, 3)]), True),
    ("affine_grid_generator", lambda m, t: m.affine_grid_generator(t, [1, 1, 3, 2], False), _arrays([(1, 2, 3)]),
     True),
    ("grid_sampler", lambda m, x, g: m.grid_sampler(x, g.tanh(), 0, 1, False), _arrays([(1, 1, 3, 4), (1, 2, 2, 2)]),
     True),
    ("grid_sampler_2d_nearest", lambda m, x, g: m.grid_sampler_2d(x, g.tanh(), 1, 0, True),
     _arrays([(1, 1, 3, 4), (1, 2, 2, 2)]), False),
    ("alias_copy", lambda m, x: m.alias_copy(x), _arrays([(3,)]), True),
    ("detach_copy", lambda m, x: m.detach_copy(x), _arrays([(3,)]), False),
    ("as_strided_copy", lambda m, x: m.as_strided_copy(x, (2, 2), (1, 2), 1), _arrays([(6,)]), True),
    ("diagonal_copy", lambda m, x: m.diagonal_copy(x, 1), _arrays([(3, 4)]), True),
    ("expand_copy", lambda m, x: m.expand_copy(x, [2, 3, 4]), _arrays([(3, 1)]), True),
    ("permute_copy", lambda m, x: m.permute_copy(x, [1, 0]), _arrays([(3, 4)]), True),
    ("select_copy", lambda m, x: m.select_copy(x, 1, -1), _arrays([(3, 4)]), True),
    ("slice_copy", lambda m, x: m.slice_copy(x, 1, 1, None, 2), _arrays([(3, 5)]), True),
    ("split_copy", lambda m, x: m.split_copy(x, 2, 1), _arrays([(3, 5)]), True),
    ("split_with_sizes_copy", lambda m, x: m.split_with_sizes_copy(x, [1, 4], 1), _arrays([(3, 5)]), True),
    ("squeeze_copy", lambda m, x: (m.squeeze_copy(x), m.squeeze_copy(x, 0)), _arrays([(1, 3, 1)]), True),
    ("t_copy", lambda m, x: m.t_copy(x), _arrays([(3, 4)]), True),
    ("transpose_copy", lambda m, x: m.transpose_copy(x, 0, 2), _arrays([(2, 3, 4)]), True),
    ("unbind_copy", lambda m, x: m.unbind_copy(x, 1), _arrays([(2, 3)]), True),
    ("unfold_copy", lambda m, x: m.unfold_copy(x, 0, 2, 1), _arrays([(5,)]), True),
    ("unsqueeze_copy", lambda m, x: m.unsqueeze_copy(x, -1), _arrays([(2, 3)]), True),
    ("view_as_real_copy", lambda m, x: m.view_as_real_copy(m.complex(x, 2 * x)), _arrays([(3,)]), True),
    ("view_as_complex_copy", lambda m, x: m.view_as_complex_copy(x), _arrays([(3, 2)]), False),
    ("view_copy", lambda m, x: m.view_copy(x, [4, 3]), _arrays([(3, 4)]), True),
    ("view_copy_dtype", lambda m, x: m.view_copy(x, m.int64), _arrays([(3, 4)]), False),
    ("fill", lambda m, x: m.fill(x, 3.0), _arrays([(3, 4)]), False),
    ("fill_tensor", lambda m, x, v: m.fill(x, v.sum()), _arrays([(3, 4), (2,)]), True),
    ("conj_physical", lambda m, x: m.conj_physical(m.complex(x, x * 2)), _arrays([(3,)]), True),
    ("conj_physical_real", lambda m, x: m.conj_physical(x), _arrays([(3,)]), True),
    ("conj_physical_", lambda m, x: m.conj_physical_(m.complex(x, x * 2)), _arrays([(3,)]), False),
    ("frobenius_norm", lambda m, x: m.frobenius_norm(x, [0, 1]), _arrays([(3, 4)]), True),
    ("nuclear_norm", lambda m, x: m.nuclear_norm(x), _arrays([(3, 4)]), True),
    ("nuclear_norm_dim", lambda m, x: m.nuclear_norm(x, [1, 2], True), _arrays([(2, 3, 4)]), True),
    ("triangular_solve", lambda m, b, a: m.triangular_solve(b, a.triu() + 3 * m.eye(3, dtype=a.dtype)),
     _arrays([(3, 2), (3, 3)]), True),
    ("triangular_solve_lower_t", lambda m, b, a: m.triangular_solve(b, a.tril() + 3 * m.eye(3, dtype=a.dtype),
                                                                    False, True, True),
     _arrays([(3, 2), (3, 3)]), True),
    ("cholesky_inverse", lambda m, lower: m.cholesky_inverse(lower), [_lower(3)], True),
    ("cholesky_inverse_upper", lambda m, lower: m.cholesky_inverse(lower.mT, True), [_lower(3)], True),
    ("unravel_index", lambda m: m.unravel_index(m.tensor([[1234], [5678]]), (10, 10, 10, 10)), [], False),
    ("unravel_index_int32", lambda m: m.unravel_index(m.tensor([-1, 4], dtype=m.int32), 6), [], False),
    ("unravel_index_scalar", lambda m: m.unravel_index(m.tensor(4), m.Size([3, 2])), [], False),
    ("unravel_index_float", lambda m: m.unravel_index(m.tensor([1.0]), (2,)), [], False),
    ("unravel_index_negative_shape", lambda m: m.unravel_index(m.tensor([1]), (2, -1)), [], False),
    ("empty_strided", lambda m: m.empty_strided((2, 3), (1, 2)).fill_(1).stride(), [], False),
    ("empty_permuted", lambda m: m.empty_permuted((2, 3, 4), (0, 2, 1)).stride(), [], False),
]


def _to(m, a, requires_grad):
    t = m.tensor(a)
    return t.requires_grad_() if requires_grad and t.is_floating_point() else t


def _leaves(value):
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _compare(ours, theirs):
    for a, b in zip(_leaves(ours), _leaves(theirs), strict=True):
        if hasattr(b, "detach"):
            assert str(a.dtype).split(".")[1] == str(b.dtype).split(".")[1]
            assert tuple(a.shape) == tuple(b.shape)
            if b.is_complex():
                np.testing.assert_allclose(a.detach().numpy(), b.detach().resolve_conj().numpy(), rtol=1e-7,
                                           atol=1e-9)
            else:
                np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-7, atol=1e-9)
        else:
            assert a == b


@pytest.mark.parametrize("name, fn, arrays, grad", CASES, ids=[c[0] for c in CASES])
def test_alias_matches_torch(torch, name, fn, arrays, grad):
    t_in = [_to(torch, a, grad) for a in arrays]
    e_in = [_to(ember, a, grad) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)            # triangular_solve's deprecation
        try:
            want = fn(torch, *t_in)
        except Exception as error:
            with pytest.raises(type(error)):
                fn(ember, *e_in)
            return
        got = fn(ember, *e_in)
    _compare(got, want)
    if grad:
        t_out = [o for o in _leaves(want) if hasattr(o, "requires_grad") and o.requires_grad]
        e_out = [o for o in _leaves(got) if hasattr(o, "requires_grad") and o.requires_grad]
        assert len(t_out) == len(e_out) and t_out
        weights = [np.random.default_rng(2).standard_normal(tuple(o.shape)) for o in t_out]
        sum((o * torch.tensor(w).to(o.dtype)).real.sum() for o, w in zip(t_out, weights)).backward()
        sum((o * ember.tensor(w).to(o.dtype)).real.sum() for o, w in zip(e_out, weights)).backward()
        for a, b in zip(e_in, t_in):
            if b.grad is not None:
                np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6, atol=1e-9)


GRADCHECKED = {
    "kl_div": lambda x, t: ember.kl_div(x, t.abs() + 0.1, 1),
    "layer_norm": lambda x: ember.layer_norm(x, [4]),
    "triangular_solve": lambda b: ember.triangular_solve(b, ember.tensor(_lower(3)), False).solution,
    "cholesky_inverse": lambda lower: ember.cholesky_inverse(lower.tril() + 3 * ember.eye(3, dtype=lower.dtype)),
    "nuclear_norm": lambda x: ember.nuclear_norm(x),
    "permute_copy": lambda x: ember.permute_copy(x, [1, 0]),
    "fill": lambda x: ember.fill(ember.zeros(2, 2, dtype=x.dtype), x.sum()),
    "convolution": lambda x: ember.convolution(x, ember.ones(2, 2, 3, dtype=x.dtype), None, [1], [1], [1], False,
                                               [0], 1),
}


@pytest.mark.filterwarnings("ignore:torch.triangular_solve is deprecated")
@pytest.mark.parametrize("name", sorted(GRADCHECKED))
def test_alias_gradcheck(name):
    fn = GRADCHECKED[name]
    shapes = {"kl_div": [(3, 4), (3, 4)], "convolution": [(1, 2, 5)]}.get(name, [(3, 4)])
    inputs = [ember.tensor(a, requires_grad=True) for a in _arrays(shapes, seed=3)]
    if name == "triangular_solve":
        inputs = [ember.tensor(_arrays([(3, 2)])[0], requires_grad=True)]
    if name == "cholesky_inverse":
        inputs = [ember.tensor(_arrays([(3, 3)])[0], requires_grad=True)]
    assert gradcheck(fn, inputs)


def test_in_place_functions_are_the_tensor_methods():
    x = ember.tensor([0.5, -2.0])
    assert ember.sin_ is ember.Tensor.sin_ and ember.sin_(x) is x
    np.testing.assert_allclose(x.numpy(), np.sin([0.5, -2.0]).astype(np.float32))
    assert ember.relu_(ember.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]


def test_aten_reduction_is_an_int(torch):
    x, t = ember.zeros(3), ember.ones(3)
    for lib, a, b in ((torch, torch.zeros(3), torch.ones(3)), (ember, x, t)):
        with pytest.raises(TypeError, match=r"kl_div\(\): argument 'reduction' \(position 3\) must be int, not str"):
            lib.kl_div(a, b, "mean")
    assert ember.kl_div(x, t, 1).item() == 0.0       # mean of t (log t - x) = 0 for t = 1, x = 0
    assert ember.kl_div(x, t * 2, 2).item() == pytest.approx(3 * 2 * np.log(2))


def test_dropout_aten_forms_follow_the_seed(torch):
    for fn in ("dropout", "feature_dropout", "alpha_dropout", "feature_alpha_dropout"):
        ember.manual_seed(5)
        torch.manual_seed(5)
        a = getattr(ember, fn)(ember.ones(4, 6, 2), 0.4, True)
        b = getattr(torch, fn)(torch.ones(4, 6, 2), 0.4, True)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, err_msg=fn)
        ember.manual_seed(5)
        torch.manual_seed(5)
        x, y = ember.ones(4, 6, 2), torch.ones(4, 6, 2)
        assert getattr(ember, fn + "_")(x, 0.4, True) is x
        getattr(torch, fn + "_")(y, 0.4, True)
        np.testing.assert_allclose(x.numpy(), y.numpy(), rtol=1e-6, err_msg=fn + "_")


def test_copy_ops_copy_and_honour_out(torch):
    x = ember.arange(12.0).view(3, 4)
    y = ember.permute_copy(x, [1, 0])
    assert y.is_contiguous() and y.stride() == (3, 1)
    y[0, 0] = 100.0
    assert x[0, 0].item() == 0.0                     # a copy, not a view
    out = ember.empty(0)
    assert ember.t_copy(x, out=out) is out and out.shape == (4, 3)
    parts = [ember.empty(3, 2), ember.empty(3, 2)]
    assert ember.split_copy(x, 2, 1, out=parts) is None
    assert parts[1].tolist() == [[2.0, 3.0], [6.0, 7.0], [10.0, 11.0]]
    assert torch.t_copy(torch.arange(12.0).view(3, 4)).tolist() == ember.t_copy(x).tolist()


def test_deterministic_debug_mode(torch):
    try:
        for mode, level in (("warn", 1), ("error", 2), (0, 0), (2, 2), ("default", 0)):
            ember.set_deterministic_debug_mode(mode)
            torch.set_deterministic_debug_mode(mode)
            assert ember.get_deterministic_debug_mode() == torch.get_deterministic_debug_mode() == level
            assert ember.are_deterministic_algorithms_enabled() == (level > 0)
        for bad, error in (("loud", RuntimeError), (3, RuntimeError), (1.0, TypeError)):
            for lib in (ember, torch):
                with pytest.raises(error):
                    lib.set_deterministic_debug_mode(bad)
    finally:
        ember.use_deterministic_algorithms(False)
        torch.use_deterministic_algorithms(False)


def test_anomaly_flag_functions():
    try:
        assert ember.is_anomaly_enabled() is False
        ember.set_anomaly_enabled(True, check_nan=False)
        assert ember.is_anomaly_enabled() is True and ember.is_anomaly_check_nan_enabled() is False
        assert ember.autograd.is_anomaly_enabled() is True
    finally:
        ember.set_anomaly_enabled(False)
    assert ember.is_anomaly_enabled() is False and ember.is_anomaly_check_nan_enabled() is True


def test_is_storage():
    t = ember.arange(3)
    assert ember.is_storage(t.untyped_storage()) and not ember.is_storage(t) and not ember.is_storage([1])


def test_aten_losses_reduce_nothing_by_default(torch):
    """Called from Python, torch.kl_div(input, target) & co. default to reduction 0 (none)."""
    x, t = _arrays([(3, 4), (3, 4)])
    for lib in (ember, torch):
        a, b = lib.tensor(x), lib.tensor(t).sigmoid()
        assert tuple(lib.kl_div(a, b).shape) == (3, 4)
        assert tuple(lib.binary_cross_entropy_with_logits(a, b).shape) == (3, 4)
        assert tuple(lib.triplet_margin_loss(a, b, b * 2).shape) == (3,)
        assert lib.kl_div(a, b, 1).ndim == 0


def test_aliases_never_shadow_an_exported_op():
    from ember import _aliases
    from ember.ops._registry import PUBLIC
    assert not set(_aliases.__all__) & set(PUBLIC)
    assert all(getattr(ember, name) is getattr(_aliases, name) for name in _aliases.__all__)
