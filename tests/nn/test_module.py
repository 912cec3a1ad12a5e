"""Module system: registration, traversal, state_dict / load_state_dict (ERR-4), modes, conversions,
hooks, repr, containers and Parameter. Requirement ids: docs/RELIABILITY.md."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
from ember import nn


def net_class(lib):
    """The same small model class written against ember or torch."""
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = lib.nn.Linear(3, 4)
            self.act = lib.nn.ReLU()
            self.block = lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.BatchNorm1d(4))
            self.scale = lib.nn.Parameter(lib.ones(1))
            self.register_buffer("steps", lib.zeros(1))
            self.register_buffer("cache", lib.zeros(2), persistent=False)

        def forward(self, x):
            return self.block(self.act(self.fc1(x))) * self.scale
    return Net


Net = net_class(ember)


def torch_net(torch):
    return net_class(torch)()


# --- registration and traversal -------------------------------------------------------------------------

def test_attribute_registration_and_removal():
    m = Net()
    assert list(m._parameters) == ["scale"] and list(m._modules) == ["fc1", "act", "block"]
    assert list(m._buffers) == ["steps", "cache"]
    m.extra = nn.Parameter(ember.zeros(2))
    assert "extra" in dict(m.named_parameters())
    del m.extra
    assert "extra" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'extra'"):
        m.extra  # noqa: B018
    m.plain = 3
    assert m.plain == 3 and "plain" in m.__dict__
    m.buf = nn.Buffer(ember.ones(2), persistent=False)
    assert "buf" in dict(m.named_buffers()) and "buf" not in m.state_dict()
    m.steps = ember.ones(1)                       # reassigning a buffer keeps it a buffer
    assert m.steps.item() == 1 and "steps" in m.state_dict()


def test_registration_errors():
    m = nn.Module()
    with pytest.raises(TypeError, match="cannot assign 'torch.FloatTensor' as parameter 'w'"):
        m.w = nn.Parameter(ember.ones(1))
        m.w = ember.ones(1)
    with pytest.raises(KeyError, match="contain"):
        m.register_parameter("a.b", None)
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("training", ember.ones(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(TypeError, match="cannot assign 'int' as child module"):
        m.sub = nn.Linear(1, 1)
        m.sub = 3

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(ember.ones(1))
            super().__init__()
    with pytest.raises(AttributeError, match="before Module.__init__"):
        Early()


def test_named_traversal_matches_torch(torch):
    em, tm = Net(), torch_net(torch)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert [n for n, _ in em.named_modules()] == [n for n, _ in tm.named_modules()]
    assert [n for n, _ in em.named_children()] == [n for n, _ in tm.named_children()]
    assert [n for n, _ in em.named_parameters(prefix="net", recurse=False)] == ["net.scale"]
    assert len(list(em.parameters())) == 7 and len(list(em.modules())) == 6


def test_shared_parameters_and_modules_deduplicated():
    lin = nn.Linear(2, 2)
    seq = nn.Sequential(lin, lin)
    assert len(list(seq.parameters())) == 2
    assert len(list(seq.named_parameters(remove_duplicate=False))) == 4
    assert [n for n, _ in seq.named_modules()] == ["", "0"]
    assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1"]


def test_get_submodule_parameter_buffer():
    m = Net()
    assert m.get_submodule("block.1") is m.block[1]
    assert m.get_parameter("block.0.weight") is m.block[0].weight
    assert m.get_buffer("block.1.running_mean") is m.block[1].running_mean
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        m.get_submodule("block.nope")
    with pytest.raises(AttributeError, match="is not an nn.Parameter"):
        m.get_parameter("block.1.running_mean")


# --- state_dict -----------------------------------------------------------------------------------------

def test_state_dict_keys_order_and_metadata_match_torch(torch):
    em, tm = Net(), torch_net(torch)
    es, ts = em.state_dict(), tm.state_dict()
    assert list(es) == list(ts)
    assert es._metadata == ts._metadata
    assert not es["scale"].requires_grad and es["fc1.weight"].grad_fn is None
    assert em.state_dict(keep_vars=True)["scale"] is em.scale
    assert list(em.state_dict(prefix="p.")) == ["p." + k for k in ts]


def test_load_state_dict_from_torch_roundtrip(torch):
    em, tm = Net(), torch_net(torch)
    state = {k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()}
    result = em.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    em.eval()
    tm.eval()
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_err4_load_state_dict_errors_change_nothing():
    m = Net()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    state = {k: v.clone() + 1 for k, v in m.state_dict().items()}
    state["fc1.weight"] = ember.zeros(5, 3)           # size mismatch
    state["block.0.bias"] = ember.zeros(7)            # second size mismatch
    del state["scale"]                                # missing key
    state["bogus"] = ember.zeros(1)                   # unexpected key
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(state)
    msg = str(info.value)
    assert msg.startswith("Error(s) in loading state_dict for Net:\n\t")
    assert 'Missing key(s) in state_dict: "scale". ' in msg
    assert 'Unexpected key(s) in state_dict: "bogus". ' in msg
    assert ("size mismatch for fc1.weight: copying a param with shape ember.Size([5, 3]) from checkpoint, the "
            "shape in current model is ember.Size([4, 3]).") in msg
    assert "size mismatch for block.0.bias" in msg and "ember.Size([7])" in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy(), err_msg=k)


def test_err4_strict_false_loads_the_rest():
    m = Net()
    state = {k: v.clone() + 1 for k, v in m.state_dict().items()}
    del state["scale"]
    state["bogus"] = ember.zeros(1)
    result = m.load_state_dict(state, strict=False)
    assert result.missing_keys == ["scale"] and result.unexpected_keys == ["bogus"]
    assert repr(result) == "_IncompatibleKeys(missing_keys=['scale'], unexpected_keys=['bogus'])"
    np.testing.assert_array_equal(m.fc1.bias.detach().numpy(), state["fc1.bias"].numpy())
    assert m.scale.item() == 1
    state["fc1.weight"] = ember.zeros(9, 9)
    with pytest.raises(RuntimeError, match="size mismatch for fc1.weight"):
        m.load_state_dict(state, strict=False)


def test_load_state_dict_keeps_parameter_identity_and_assign():
    m = nn.Linear(2, 2)
    w = m.weight
    m.load_state_dict({"weight": ember.ones(2, 2), "bias": ember.zeros(2)})
    assert m.weight is w and w.requires_grad and w.tolist() == [[1, 1], [1, 1]]
    new = ember.full((2, 2), 3.0)
    m.load_state_dict({"weight": new, "bias": ember.zeros(2)}, assign=True)
    assert m.weight is not w and isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    with pytest.raises(TypeError, match="dict-like"):
        m.load_state_dict([1, 2])
    with pytest.raises(RuntimeError, match="expected torch.Tensor"):
        m.load_state_dict({"weight": [[1, 2], [3, 4]], "bias": ember.zeros(2)})


def test_state_dict_survives_save_load(tmp_path):
    m = Net()
    path = tmp_path / "m.pt"
    ember.save(m.state_dict(), path)
    m2 = Net()
    m2.load_state_dict(ember.load(path))
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), m2.state_dict()[k].numpy())


# --- modes, grads, conversions ---------------------------------------------------------------------------

def test_train_eval_requires_grad_zero_grad():
    m = Net()
    assert m.training and m.block[1].training
    m.eval()
    assert not m.training and not m.block[1].training
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")
    m.train()
    m(ember.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad.numpy()) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_double_float_apply():
    m = Net()
    w = m.fc1.weight
    m.double()
    assert m.fc1.weight is w and w.dtype is ember.float64
    assert m.steps.dtype is ember.float64 and m.block[1].num_batches_tracked.dtype is ember.int64
    m.to(ember.float32)
    assert w.dtype is ember.float32
    m.to("cpu")
    m.cpu()
    m.to(device="cpu", dtype=ember.float64)
    assert w.dtype is ember.float64
    with pytest.raises(TypeError, match="floating point or complex"):
        m.to(ember.int64)
    m.float()
    out = m(ember.randn(2, 3))
    assert out.dtype is ember.float32
    m.half()
    assert w.dtype is ember.float16
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "BatchNorm1d", "Sequential", "Net"]


def test_module_to_converts_grads():
    m = nn.Linear(2, 2)
    m(ember.randn(3, 2)).sum().backward()
    m.double()
    assert m.weight.grad.dtype is ember.float64


def test_deepcopy_and_pickle():
    m = Net()
    c = copy.deepcopy(m)
    assert c.fc1.weight is not m.fc1.weight
    np.testing.assert_array_equal(c.fc1.weight.detach().numpy(), m.fc1.weight.detach().numpy())
    assert isinstance(c.fc1.weight, nn.Parameter)
    s = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    p = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(p[0].bias.detach().numpy(), s[0].bias.detach().numpy())
    assert isinstance(p[0].weight, nn.Parameter) and p[0].weight.requires_grad


# --- hooks ------------------------------------------------------------------------------------------------

def test_forward_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = m(ember.ones(3, 2))
    np.testing.assert_allclose(out.detach().numpy(), (m.bias + 1).detach().numpy()[None].repeat(3, 0), rtol=1e-6)
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    assert not m._forward_hooks and not m._forward_pre_hooks
    h = m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {}), with_kwargs=True)
    m(ember.ones(1, 2))
    h.remove()
    order = []
    m.register_forward_hook(lambda *a: order.append("second"))
    m.register_forward_hook(lambda *a: order.append("first"), prepend=True)
    m(ember.ones(1, 2))
    assert order == ["first", "second"]


def test_full_backward_hooks_match_torch(torch):
    def run(lib):
        lib.manual_seed(0)
        m = lib.nn.Linear(3, 2)
        with lib.no_grad():
            m.weight.copy_(lib.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]]))
        seen = []

        def hook(mod, grad_input, grad_output):
            seen.append(([g.detach().numpy().copy() if g is not None else None for g in grad_input],
                         [g.detach().numpy().copy() for g in grad_output]))
            return (grad_input[0] * 2,)

        def pre_hook(mod, grad_output):
            return (grad_output[0] * 3,)
        m.register_full_backward_hook(hook)
        m.register_full_backward_pre_hook(pre_hook)
        x = lib.tensor([[1.0, -1.0, 2.0]], requires_grad=True)
        (m(x) * lib.tensor([[1.0, 2.0]])).sum().backward()
        return seen, x.grad.numpy(), m.weight.grad.numpy()

    (se, xe, we), (st, xt, wt) = run(ember), run(torch)
    assert len(se) == len(st) == 1
    np.testing.assert_allclose(se[0][0][0], st[0][0][0])
    np.testing.assert_allclose(se[0][1][0], st[0][1][0])
    np.testing.assert_allclose(xe, xt)
    np.testing.assert_allclose(we, wt)


def test_backward_hook_without_input_grad():
    m = nn.Linear(2, 1)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
    m(ember.ones(4, 2)).sum().backward()
    assert seen == [((None,), (4, 1))]
    assert m.weight.grad is not None


def test_missing_forward():
    with pytest.raises(NotImplementedError, match='missing the required "forward" function'):
        nn.Module()(1)


# --- repr -----------------------------------------------------------------------------------------------

def test_nested_repr_matches_torch(torch):
    def build(lib):
        nn_ = lib.nn
        return nn_.Sequential(OrderedDict([
            ("enc", nn_.Sequential(nn_.Linear(3, 4), nn_.ReLU(inplace=True), nn_.Dropout(0.1))),
            ("heads", nn_.ModuleList([nn_.Linear(4, 2) for _ in range(3)] + [nn_.Identity()])),
            ("extra", nn_.ModuleDict({"norm": nn_.LayerNorm(4), "act": nn_.GELU(approximate="tanh")})),
            ("empty", nn_.ModuleList()),
            ("flat", nn_.Flatten(0, 1)),
        ]))
    assert repr(build(ember)) == repr(build(torch))
    assert repr(Net()) == repr(torch_net(torch))


def test_parameter_repr_and_containers_repr(torch):
    p = nn.Parameter(ember.tensor([1.0, 2.0]))
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert repr(p).startswith("Parameter containing:\ntensor([1., 2.], requires_grad=True)")
    el = nn.ParameterList([nn.Parameter(ember.ones(2)), ember.ones(2, 3, dtype=ember.float64)])
    tl = torch.nn.ParameterList([torch.nn.Parameter(torch.ones(2)), torch.ones(2, 3, dtype=torch.float64)])
    assert repr(el) == repr(tl).replace("torch.", "ember.")
    ed = nn.ParameterDict({"b": nn.Parameter(ember.ones(2)), "a": ember.zeros(1)})
    td = torch.nn.ParameterDict({"b": torch.nn.Parameter(torch.ones(2)), "a": torch.zeros(1)})
    assert repr(ed) == repr(td)                   # Tensor.type() names: 'torch.FloatTensor', as PyTorch's
    assert list(ed.keys()) == list(td.keys())


# --- containers -----------------------------------------------------------------------------------------

def test_sequential_protocol():
    layers = [nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)]
    s = nn.Sequential(*layers)
    assert len(s) == 3 and s[0] is layers[0] and s[-1] is layers[2]
    assert isinstance(s[1:], nn.Sequential) and len(s[1:]) == 2 and s[1:][0] is layers[1]
    assert list(s) == layers
    s.append(nn.Tanh())
    s.insert(0, nn.Identity())
    assert [type(m).__name__ for m in s] == ["Identity", "Linear", "ReLU", "Linear", "Tanh"]
    assert list(s._modules) == ["0", "1", "2", "3", "4"]
    del s[0]
    assert list(s._modules) == ["0", "1", "2", "3"] and isinstance(s[0], nn.Linear)
    s.extend([nn.Sigmoid()])
    s[4] = nn.ReLU()
    assert isinstance(s[4], nn.ReLU)
    assert s(ember.randn(3, 2)).shape == (3, 1)
    with pytest.raises(IndexError, match="index 10 is out of range"):
        s[10]
    od = nn.Sequential(OrderedDict([("a", nn.Linear(1, 1)), ("b", nn.ReLU())]))
    assert list(od.state_dict()) == ["a.weight", "a.bias"] and od.b is od[1]
    assert len(s + od) == len(s) + 2
    assert s.pop(0) is not None


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(1, 1)])
    ml.append(nn.ReLU())
    ml.extend([nn.Tanh(), nn.Sigmoid()])
    ml.insert(1, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Linear", "Identity", "ReLU", "Tanh", "Sigmoid"]
    assert ml[-1] is ml[4] and len(ml[1:3]) == 2
    del ml[1]
    assert list(ml._modules) == ["0", "1", "2", "3"] and isinstance(ml[1], nn.ReLU)
    ml += [nn.ReLU()]
    assert len(ml) == 5
    assert list(nn.Sequential(*ml).state_dict()) == ["0.weight", "0.bias"]
    md = nn.ModuleDict({"a": nn.Linear(1, 2)})
    md["b"] = nn.ReLU()
    md.update([("c", nn.Tanh())])
    assert list(md.keys()) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert md.pop("b") is not None and list(md) == ["a", "c"]
    assert list(md.state_dict()) == ["a.weight", "a.bias"]


def test_parameter_list_and_dict():
    pl = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert isinstance(pl[0], nn.Parameter) and pl[0].requires_grad
    pl.append(ember.ones(1))
    assert len(pl) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    with pytest.raises(RuntimeError, match="should not be called"):
        pl()
    pd = nn.ParameterDict({"w": ember.ones(2)})
    pd["b"] = nn.Parameter(ember.zeros(1))
    assert isinstance(pd["w"], nn.Parameter) and list(pd) == ["w", "b"]
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    del pd["w"]
    assert list(pd.keys()) == ["b"]


def test_custom_module_with_four_parameters():
    """The seed's second example: a polynomial Module with four scalar Parameters."""
    class Polynomial3(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(ember.randn(()))
            self.b = nn.Parameter(ember.randn(()))
            self.c = nn.Parameter(ember.randn(()))
            self.d = nn.Parameter(ember.randn(()))

        def forward(self, x):
            return self.a + self.b * x + self.c * x ** 2 + self.d * x ** 3

    x = ember.linspace(-1, 1, 100)
    y = ember.sin(x)
    model = Polynomial3()
    opt_loss = None
    for _ in range(300):
        loss = ((model(x) - y) ** 2).sum()
        opt_loss = opt_loss if opt_loss is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with ember.no_grad():
            for p in model.parameters():
                p -= 1e-3 * p.grad
    assert loss.item() < opt_loss
    assert [n for n, _ in model.named_parameters()] == ["a", "b", "c", "d"]
