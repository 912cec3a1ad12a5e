"""Non-spatial layers against PyTorch: PyTorch's state_dict copied in through NumPy, then outputs,
input and parameter gradients and buffers compared in train and eval mode (float32); reprs too."""
import numpy as np
import pytest

import ember


def copy_state(tm, em):
    """PyTorch module's state_dict into the ember module, through plain NumPy arrays."""
    state = {k: ember.tensor(v.detach().cpu().numpy()) for k, v in tm.state_dict().items()}
    em.load_state_dict(state)


def inputs_for(spec, rng):
    if spec[0] == "int":
        return rng.integers(0, spec[1], size=spec[2])
    return rng.standard_normal(spec).astype(np.float32)


def compare(torch, make, specs, modes=("train", "eval"), steps=2, rtol=1e-4, atol=1e-5, seed=0):
    tm, em = make(torch.nn), make(ember.nn)
    assert [k for k in em.state_dict()] == [k for k in tm.state_dict()]
    copy_state(tm, em)
    rng = np.random.default_rng(seed)
    for mode in modes:
        tm.train(mode == "train")
        em.train(mode == "train")
        for _ in range(steps):
            arrays = [inputs_for(s, rng) for s in specs]
            xt = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
            xe = [ember.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]
            out_t, out_e = tm(*xt), em(*xe)
            assert tuple(out_e.shape) == tuple(out_t.shape)
            np.testing.assert_allclose(out_e.detach().numpy(), out_t.detach().numpy(), rtol=rtol, atol=atol)
            g = rng.standard_normal(tuple(out_t.shape)).astype(np.float32)
            tm.zero_grad()
            em.zero_grad()
            out_t.backward(torch.tensor(g))
            out_e.backward(ember.tensor(g))
            for i, (a, b) in enumerate(zip(xe, xt)):
                if b.requires_grad:
                    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                                               err_msg=f"input {i} grad ({mode})")
            params_t = dict(tm.named_parameters())
            for name, p in em.named_parameters():
                q = params_t[name]
                if q.grad is None:
                    assert p.grad is None or not np.any(p.grad.numpy())
                    continue
                np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=atol,
                                           err_msg=f"grad of {name} ({mode})")
            buffers_t = dict(tm.named_buffers())
            for name, b in em.named_buffers():
                np.testing.assert_allclose(b.numpy(), buffers_t[name].numpy(), rtol=rtol, atol=atol,
                                           err_msg=f"buffer {name} ({mode})")
    return tm, em


F32 = np.float32
LAYERS = [
    ("Linear", lambda nn: nn.Linear(5, 3), [(4, 5)]),
    ("Linear_3d_nobias", lambda nn: nn.Linear(5, 3, bias=False), [(2, 4, 5)]),
    ("Bilinear", lambda nn: nn.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
    ("Identity", lambda nn: nn.Identity(3, foo=1), [(2, 3)]),
    ("Flatten", lambda nn: nn.Flatten(), [(2, 3, 4)]),
    ("Unflatten", lambda nn: nn.Unflatten(1, (2, 3)), [(4, 6)]),
    ("BatchNorm1d", lambda nn: nn.BatchNorm1d(3), [(6, 3)]),
    ("BatchNorm1d_3d_momentum_none", lambda nn: nn.BatchNorm1d(3, momentum=None), [(4, 3, 5)]),
    ("BatchNorm1d_no_affine", lambda nn: nn.BatchNorm1d(3, affine=False), [(6, 3)]),
    ("BatchNorm1d_no_stats", lambda nn: nn.BatchNorm1d(3, track_running_stats=False), [(6, 3)]),
    ("BatchNorm2d", lambda nn: nn.BatchNorm2d(3, momentum=0.3, eps=1e-3), [(2, 3, 4, 4)]),
    ("BatchNorm3d", lambda nn: nn.BatchNorm3d(2), [(2, 2, 3, 2, 2)]),
    ("LayerNorm", lambda nn: nn.LayerNorm(4), [(3, 4)]),
    ("LayerNorm_2d_nobias", lambda nn: nn.LayerNorm((3, 4), bias=False), [(2, 3, 4)]),
    ("LayerNorm_no_affine", lambda nn: nn.LayerNorm([4], elementwise_affine=False), [(2, 3, 4)]),
    ("GroupNorm", lambda nn: nn.GroupNorm(2, 4), [(3, 4, 5)]),
    ("GroupNorm_4d", lambda nn: nn.GroupNorm(3, 6, affine=False), [(2, 6, 2, 3)]),
    ("InstanceNorm1d", lambda nn: nn.InstanceNorm1d(3), [(2, 3, 5)]),
    ("InstanceNorm1d_unbatched", lambda nn: nn.InstanceNorm1d(3, affine=True), [(3, 5)]),
    ("InstanceNorm2d_stats", lambda nn: nn.InstanceNorm2d(3, affine=True, track_running_stats=True),
     [(2, 3, 4, 4)]),
    ("RMSNorm", lambda nn: nn.RMSNorm(4), [(3, 4)]),
    ("RMSNorm_eps", lambda nn: nn.RMSNorm([2, 4], eps=1e-4), [(3, 2, 4)]),
    ("LocalResponseNorm", lambda nn: nn.LocalResponseNorm(3, alpha=0.01), [(2, 6, 5)]),
    ("Dropout_p0", lambda nn: nn.Dropout(0.0), [(3, 4)]),
    ("Embedding", lambda nn: nn.Embedding(6, 3, padding_idx=2), [("int", 6, (4, 5))]),
    ("Embedding_max_norm", lambda nn: nn.Embedding(6, 3, max_norm=1.0), [("int", 6, (2, 5))]),
    ("EmbeddingBag", lambda nn: nn.EmbeddingBag(6, 3), [("int", 6, (4, 5))]),
    ("EmbeddingBag_sum", lambda nn: nn.EmbeddingBag(6, 3, mode="sum", padding_idx=0), [("int", 6, (4, 5))]),
    ("EmbeddingBag_max", lambda nn: nn.EmbeddingBag(6, 3, mode="max"), [("int", 6, (4, 5))]),
    ("PReLU", lambda nn: nn.PReLU(3, init=0.1), [(2, 3, 4)]),
    ("Sequential_mlp", lambda nn: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 2)),
     [(5, 4)]),
]

ACTIVATIONS = [
    ("ReLU", {}), ("ReLU6", {}), ("LeakyReLU", {"negative_slope": 0.2}), ("ELU", {"alpha": 0.5}), ("SELU", {}),
    ("CELU", {"alpha": 1.3}), ("GELU", {}), ("GELU", {"approximate": "tanh"}), ("SiLU", {}), ("Mish", {}),
    ("Sigmoid", {}), ("Tanh", {}), ("Hardtanh", {"min_val": -0.5}), ("Hardsigmoid", {}), ("Hardswish", {}),
    ("Hardshrink", {"lambd": 0.4}), ("Softshrink", {}), ("Tanhshrink", {}), ("Softplus", {"beta": 2}),
    ("Softsign", {}), ("Threshold", {"threshold": 0.2, "value": -1.0}), ("LogSigmoid", {}),
    ("Softmax", {"dim": 1}), ("Softmin", {"dim": -1}), ("LogSoftmax", {"dim": 1}), ("GLU", {"dim": 1}),
    ("RReLU", {}), ("Softmax2d", {}),
]


@pytest.mark.parametrize("name,make,specs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(name, make, specs, torch):
    compare(torch, make, specs)


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS, ids=[f"{n}{k}" for n, k in ACTIVATIONS])
def test_activation_matches_torch(name, kwargs, torch):
    shape = (2, 4, 3, 3) if name == "Softmax2d" else (3, 4)
    modes = ("eval",) if name == "RReLU" else ("train", "eval")
    compare(torch, lambda nn: getattr(nn, name)(**kwargs), [shape], modes=modes)


@pytest.mark.parametrize("name,kwargs", ACTIVATIONS, ids=[f"{n}{k}" for n, k in ACTIVATIONS])
def test_activation_repr(name, kwargs, torch):
    assert repr(getattr(ember.nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))


@pytest.mark.parametrize("name,make,specs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_repr(name, make, specs, torch):
    assert repr(make(ember.nn)) == repr(make(torch.nn)).replace("torch.", "ember.")


def test_inplace_activations_modify_input(torch):
    for name in ("ReLU", "LeakyReLU", "ELU", "SELU", "SiLU", "Hardtanh", "ReLU6", "Hardswish", "Mish"):
        x = ember.tensor([-1.0, 0.5, 3.0])
        out = getattr(ember.nn, name)(inplace=True)(x)
        ref = getattr(torch.nn, name)()(torch.tensor([-1.0, 0.5, 3.0]))
        assert out is x
        np.testing.assert_allclose(x.numpy(), ref.numpy(), rtol=1e-6)


def test_batchnorm_running_stats_and_eval(torch):
    tm, em = compare(torch, lambda nn: nn.BatchNorm1d(4, momentum=None), [(8, 4)], steps=3)
    assert em.num_batches_tracked.item() == 3 and em.num_batches_tracked.dtype is ember.int64


def test_batchnorm_errors():
    bn = ember.nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(ember.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(ember.randn(1, 3))
    with pytest.raises(ValueError, match="expected 4D input"):
        ember.nn.BatchNorm2d(3)(ember.randn(2, 3))


def test_batchnorm_loads_old_checkpoint_without_num_batches_tracked():
    bn = ember.nn.BatchNorm1d(2)
    state = bn.state_dict()
    del state["num_batches_tracked"]
    state._metadata[""]["version"] = 1
    bn.num_batches_tracked.fill_(7)
    assert bn.load_state_dict(state).missing_keys == []
    assert bn.num_batches_tracked.item() == 7


def test_dropout_train_and_eval():
    d = ember.nn.Dropout(0.5)
    x = ember.ones(2000)
    y = d(x).numpy()
    assert 0.4 < (y == 0).mean() < 0.6
    d.eval()
    assert d(x) is x
    with pytest.raises(ValueError, match="between 0 and 1"):
        ember.nn.Dropout(2.0)
    a = ember.nn.AlphaDropout(0.5)
    assert np.any(a(x).numpy() != 1)
    a.eval()
    assert a(x) is x


def test_embedding_from_pretrained(torch):
    w = np.arange(12, dtype=np.float32).reshape(4, 3)
    e = ember.nn.Embedding.from_pretrained(ember.tensor(w))
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(ember.tensor([3, 1])).numpy(), w[[3, 1]])
    e2 = ember.nn.Embedding.from_pretrained(ember.tensor(w), freeze=False, padding_idx=1)
    assert e2.weight.requires_grad and e2.padding_idx == 1
    assert repr(e2) == repr(torch.nn.Embedding.from_pretrained(torch.tensor(w), freeze=False, padding_idx=1))
    bag = ember.nn.EmbeddingBag.from_pretrained(ember.tensor(w), mode="sum")
    np.testing.assert_array_equal(bag(ember.tensor([[0, 1]])).numpy(), w[[0, 1]].sum(0, keepdims=True))


def test_embedding_padding_row_zero_and_error():
    e = ember.nn.Embedding(5, 2, padding_idx=-1)
    assert e.padding_idx == 4 and not np.any(e.weight[4].detach().numpy())
    with pytest.raises(IndexError, match="index 5 is out of range for embedding with 5 rows"):
        e(ember.tensor([[5]]))
    with pytest.raises(IndexError, match="index 5 is out of range for embedding with 3 rows"):
        ember.nn.Embedding(3, 2)(ember.tensor([5]))


def test_err2_linear_names_shapes():
    with pytest.raises(RuntimeError, match=r"input \(3, 5\) and weight \(2, 4\).*in_features=4"):
        ember.nn.Linear(4, 2)(ember.ones(3, 5))


def test_linear_default_init_distribution():
    ember.manual_seed(0)
    lin = ember.nn.Linear(400, 300)
    bound = 1 / 20
    w = lin.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 2e-3
    b = lin.bias.detach().numpy()
    assert np.abs(b).max() <= bound and b.std() > 0.5 * bound / np.sqrt(3)
    bl = ember.nn.Bilinear(4, 5, 6)
    assert np.abs(bl.weight.detach().numpy()).max() <= 0.5
    emb = ember.nn.Embedding(1000, 50).weight.detach().numpy()
    assert abs(emb.std() - 1) < 0.02


def test_linear_weights_follow_torch_rng_bit_exactly(torch):
    """manual_seed(0); Linear(3, 1) gives PyTorch's weights: ember's RNG reproduces torch's stream."""
    torch.manual_seed(0)
    ember.manual_seed(0)
    torch.nn.Linear(3, 1)
    ember.nn.Linear(3, 1)                  # draws as many numbers as PyTorch's: the streams stay in step
    np.testing.assert_array_equal(ember.rand(4).numpy(), torch.rand(4).numpy())
    torch.manual_seed(0)
    ember.manual_seed(0)
    t, e = torch.nn.Linear(3, 1), ember.nn.Linear(3, 1)
    np.testing.assert_allclose(e.weight.detach().numpy(), t.weight.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(e.bias.detach().numpy(), t.bias.detach().numpy(), rtol=1e-6)


def test_seed_example_runs():
    """The issue's seed example: Sequential(Linear(3, 1), Flatten(0, 1)) with MSELoss(sum), manual updates."""
    torch = ember
    x = torch.linspace(-1, 1, 50)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    first = None
    for _ in range(200):
        loss = loss_fn(model(xx), y)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= 1e-3 * param.grad
    assert loss.item() < first / 5
    assert model[0].weight.shape == (1, 3)
