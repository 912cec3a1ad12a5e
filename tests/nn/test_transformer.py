"""MultiheadAttention, the Transformer layers and F.scaled_dot_product_attention against PyTorch:
state_dict keys, outputs, attention weights and every gradient, with masks, batch_first, norm_first."""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F

L, S, N, E = 5, 6, 3, 8


def _load_from_torch(module, torch_module):
    state = torch_module.state_dict()
    assert list(module.state_dict()) == list(state)
    module.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in state.items()})


def _tensor(lib, array, grad=True):
    return lib.tensor(array, requires_grad=grad and array.dtype != bool)


def _check(torch, build, call, arrays, train=False, atol=1e-10):
    torch.manual_seed(0)
    theirs, ours = build(torch).double(), build(ember).double()
    _load_from_torch(ours, theirs)
    theirs.train(train)
    ours.train(train)
    t_in = [_tensor(torch, a) for a in arrays]
    e_in = [_tensor(ember, a) for a in arrays]
    t_out, e_out = call(theirs, torch, *t_in), call(ours, ember, *e_in)
    t_out = t_out if isinstance(t_out, tuple) else (t_out,)
    e_out = e_out if isinstance(e_out, tuple) else (e_out,)
    t_loss = e_loss = 0
    for a, b in zip(t_out, e_out):
        if a is None:
            assert b is None
            continue
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), atol=atol, rtol=1e-7)
        w = np.cos(np.arange(a.numel())).reshape(tuple(a.shape))
        t_loss = t_loss + (a * torch.tensor(w)).sum()
        e_loss = e_loss + (b * ember.tensor(w)).sum()
    t_loss.backward()
    e_loss.backward()
    for a, b in zip(t_in, e_in):
        if a.requires_grad:
            np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), atol=atol, rtol=1e-7)
    reference = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = reference[name].grad
        if expected is None:
            assert p.grad is None or not p.grad.numpy().any(), name
        else:
            np.testing.assert_allclose(p.grad.numpy(), expected.numpy(), atol=atol, rtol=1e-7, err_msg=name)


rng = np.random.default_rng(0)
Q, K, V = rng.standard_normal((L, N, E)), rng.standard_normal((S, N, E)), rng.standard_normal((S, N, E))
PADDING = np.zeros((N, S), bool)
PADDING[0, -2:] = True
CAUSAL = np.triu(np.ones((L, S), bool), 1)


def _bf(x):
    return x.transpose(1, 0, 2).copy()


MHA_CASES = [
    ("self", lambda m: m.nn.MultiheadAttention(E, 2), lambda mod, m, q: mod(q, q, q), [Q]),
    ("cross", lambda m: m.nn.MultiheadAttention(E, 2), lambda mod, m, q, k, v: mod(q, k, v), [Q, K, V]),
    ("shared-kv", lambda m: m.nn.MultiheadAttention(E, 4), lambda mod, m, q, k: mod(q, k, k), [Q, K]),
    ("bool-masks", lambda m: m.nn.MultiheadAttention(E, 2),
     lambda mod, m, q, k, v: mod(q, k, v, key_padding_mask=_tensor(m, PADDING), attn_mask=_tensor(m, CAUSAL)),
     [Q, K, V]),
    ("float-mask-per-head-weights", lambda m: m.nn.MultiheadAttention(E, 2),
     lambda mod, m, q, k, v: mod(q, k, v, key_padding_mask=_tensor(m, PADDING), average_attn_weights=False,
                                 attn_mask=_tensor(m, np.where(CAUSAL, -1e9, 0.0), grad=False)), [Q, K, V]),
    ("kdim-vdim-bias_kv-zero_attn", lambda m: m.nn.MultiheadAttention(E, 4, kdim=3, vdim=5, add_bias_kv=True,
                                                                      add_zero_attn=True),
     lambda mod, m, q, k, v: mod(q, k, v, key_padding_mask=_tensor(m, PADDING)), [Q, K[..., :3], V[..., :5]]),
    ("batch_first-no-bias-no-weights", lambda m: m.nn.MultiheadAttention(E, 2, bias=False, batch_first=True),
     lambda mod, m, q, k: mod(q, k, k, need_weights=False), [_bf(Q), _bf(K)]),
    ("unbatched", lambda m: m.nn.MultiheadAttention(E, 2), lambda mod, m, q, k: mod(q, k, k), [Q[:, 0], K[:, 0]]),
    ("3d-mask-causal-hint", lambda m: m.nn.MultiheadAttention(E, 2),
     lambda mod, m, q: mod(q, q, q, attn_mask=_tensor(m, np.broadcast_to(CAUSAL[:, :L], (2 * N, L, L)).copy()),
                           is_causal=True, need_weights=False), [Q]),
]


@pytest.mark.parametrize("name,build,call,arrays", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multihead_attention_matches_torch(torch, name, build, call, arrays):
    _check(torch, build, call, arrays)


def test_multihead_attention_init_and_repr(torch):
    mha = nn.MultiheadAttention(E, 2, kdim=3, vdim=5, add_bias_kv=True)
    assert repr(mha) == repr(torch.nn.MultiheadAttention(E, 2, kdim=3, vdim=5, add_bias_kv=True))
    assert list(mha.state_dict()) == ["q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias", "bias_k",
                                      "bias_v", "out_proj.weight", "out_proj.bias"]
    assert not mha.in_proj_bias.detach().numpy().any() and not mha.out_proj.bias.detach().numpy().any()
    bound = np.sqrt(6 / (E + 3))                         # xavier_uniform on q/k/v projections
    assert np.abs(mha.k_proj_weight.detach().numpy()).max() <= bound


def test_multihead_attention_dropout_only_in_training():
    mha = nn.MultiheadAttention(E, 2, dropout=0.5)
    q = ember.tensor(Q.astype(np.float32))
    mha.eval()
    a, b = mha(q, q, q)[0], mha(q, q, q)[0]
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    mha.train()
    assert not np.array_equal(mha(q, q, q)[0].detach().numpy(), mha(q, q, q)[0].detach().numpy())


LAYER_CASES = [(norm_first, activation) for norm_first in (False, True) for activation in ("relu", "gelu")]


@pytest.mark.parametrize("norm_first,activation", LAYER_CASES)
def test_encoder_layer_matches_torch(torch, norm_first, activation):
    _check(torch, lambda m: m.nn.TransformerEncoderLayer(E, 2, 16, activation=activation, norm_first=norm_first),
           lambda mod, m, x: mod(x, src_key_padding_mask=_tensor(m, PADDING[:, :L])), [Q])


@pytest.mark.parametrize("norm_first,activation", LAYER_CASES)
def test_decoder_layer_matches_torch(torch, norm_first, activation):
    def call(mod, m, x, mem):
        mask = m.nn.Transformer.generate_square_subsequent_mask(L, dtype=m.float64)
        return mod(x, mem, tgt_mask=mask, memory_key_padding_mask=_tensor(m, PADDING))
    _check(torch, lambda m: m.nn.TransformerDecoderLayer(E, 2, 16, activation=activation, norm_first=norm_first,
                                                         batch_first=True), call, [_bf(Q), _bf(K)])


def test_layers_in_training_mode_without_dropout(torch):
    _check(torch, lambda m: m.nn.TransformerEncoderLayer(E, 2, 16, dropout=0.0, batch_first=True),
           lambda mod, m, x: mod(x), [_bf(Q)], train=True)


def test_encoder_stack_and_transformer_match_torch(torch):
    def encoder(m):
        return m.nn.TransformerEncoder(m.nn.TransformerEncoderLayer(E, 2, 16), 3, norm=m.nn.LayerNorm(E))

    def causal(mod, m, x):
        return mod(x, mask=m.nn.Transformer.generate_square_subsequent_mask(L, dtype=m.float64), is_causal=True)
    _check(torch, encoder, causal, [Q])
    _check(torch, lambda m: m.nn.Transformer(E, 2, 2, 2, 16),
           lambda mod, m, src, tgt: mod(src, tgt, tgt_mask=m.nn.Transformer.generate_square_subsequent_mask(
               S, dtype=m.float64)), [Q, K])
    _check(torch, lambda m: m.nn.Transformer(E, 2, 1, 1, 16, activation="gelu", batch_first=True, norm_first=True),
           lambda mod, m, src, tgt: mod(src, tgt), [_bf(Q), _bf(K)])


def test_transformer_reprs_and_keys_match_torch(torch):
    for build in (lambda m: m.nn.TransformerEncoderLayer(E, 2, 16),
                  lambda m: m.nn.TransformerDecoderLayer(E, 2, 16, activation=m.nn.GELU()),
                  lambda m: m.nn.Transformer(E, 2, 1, 1, 16)):
        ours, theirs = build(ember), build(torch)
        assert repr(ours) == repr(theirs)
        assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]


def test_generate_square_subsequent_mask(torch):
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


def test_transformer_errors():
    model = nn.Transformer(E, 2, 1, 1, 16)
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        model(ember.ones(L, 2, E), ember.ones(L, 3, E))
    with pytest.raises(RuntimeError, match="feature number of src and tgt must be equal to d_model"):
        model(ember.ones(L, 2, 4), ember.ones(L, 2, 4))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(E, 2, activation="tanh")


# --- scaled_dot_product_attention -------------------------------------------------------------------------------

SDPA_Q = rng.standard_normal((2, 3, L, 4))
SDPA_K = rng.standard_normal((2, 3, S, 4))
SDPA_V = rng.standard_normal((2, 3, S, 5))
SDPA_CASES = [
    ("plain", {}),
    ("causal", {"is_causal": True}),
    ("bool-mask", {"attn_mask": np.tril(np.ones((L, S), bool))}),
    ("float-mask", {"attn_mask": rng.standard_normal((L, S))}),
    ("scale", {"scale": 0.3}),
    ("fully-masked-rows", {"attn_mask": np.tril(np.ones((L, S), bool), -2)}),
]


@pytest.mark.parametrize("name,kwargs", SDPA_CASES, ids=[c[0] for c in SDPA_CASES])
def test_sdpa_matches_torch(torch, name, kwargs):
    def call(mod, m, q, k, v):
        extra = {key: (_tensor(m, value, grad=False) if isinstance(value, np.ndarray) else value)
                 for key, value in kwargs.items()}
        return m.nn.functional.scaled_dot_product_attention(q, k, v, **extra)
    _check(torch, lambda m: m.nn.Identity(), call, [SDPA_Q, SDPA_K, SDPA_V])


def test_sdpa_gqa_float32_and_gradcheck(torch):
    q = rng.standard_normal((1, 4, 3, 2)).astype(np.float32)
    kv = rng.standard_normal((1, 2, 3, 2)).astype(np.float32)
    ours = F.scaled_dot_product_attention(ember.tensor(q), ember.tensor(kv), ember.tensor(kv), enable_gqa=True)
    theirs = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q), torch.tensor(kv), torch.tensor(kv),
                                                              enable_gqa=True)
    assert ours.dtype is ember.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-6)
    inputs = [ember.tensor(a, requires_grad=True) for a in (SDPA_Q[:1, :1], SDPA_K[:1, :1], SDPA_V[:1, :1])]
    assert ember.autograd.gradcheck(lambda *xs: F.scaled_dot_product_attention(*xs, is_causal=True), inputs)
    assert ember.autograd.gradgradcheck(lambda *xs: F.scaled_dot_product_attention(*xs), inputs)


def test_sdpa_dropout_and_errors():
    q = ember.randn(1, 1, 4, 2)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    assert out.shape == (1, 1, 4, 2)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal=True"):
        F.scaled_dot_product_attention(q, q, q, attn_mask=ember.ones(4, 4, dtype=ember.bool), is_causal=True)
