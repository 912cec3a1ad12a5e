"""Generic optimizer checks over optim_db: trajectories and state_dicts vs PyTorch, checkpoints moving
between ember and PyTorch, closures, hooks, zero_grad, and construction errors."""
import copy
import warnings

import numpy as np
import pytest

import ember
from optim_db import (COMPLEX_UNSUPPORTED, ERROR_CASES, LBFGS_CASES, OPTIM_CASES, OptimCase, closure_for, loss_fn,
                      make_data, make_params, train,
                      train_autograd)

TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
CASES = [pytest.param(case, dtype, id=f"{case}-{dtype}") for case in OPTIM_CASES for dtype in ("float32", "float64")]


def _np(t):
    return np.array(t.detach().numpy() if hasattr(t, "detach") else t)


def convert(obj, to):
    """A state_dict with every tensor converted through NumPy to `to` (ember or torch)."""
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):
        return to.from_numpy(np.array(_np(obj)))
    if isinstance(obj, dict):
        return {k: convert(v, to) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(convert(v, to) for v in obj)
    return obj


def assert_params_close(ours, theirs, dtype, rtol=None):
    """Relative to each tensor's size (max norm): 1e-5 in float32, 1e-10 in float64."""
    rtol = rtol or TOL[dtype]["rtol"]
    for a, b in zip(ours, theirs):
        a, b = _np(a), _np(b)
        assert np.abs(a - b).max() <= rtol * max(np.abs(b).max(), 1e-3), (a, b)


def assert_state_dicts_close(ours, theirs, dtype):
    assert ours["state"].keys() == theirs["state"].keys()
    for index, state in ours["state"].items():
        assert state.keys() == theirs["state"][index].keys(), index
        for key, value in state.items():
            other = theirs["state"][index][key]
            if hasattr(value, "numpy"):
                assert str(value.dtype).split(".")[-1] == str(other.dtype).split(".")[-1], key
                # gradient-like state (momentum buffers) carries the cancellation noise of a converging
                # run, so it gets 10x the parameters' tolerance
                assert_params_close([value], [other], dtype, rtol=10 * TOL[dtype]["rtol"])
            else:
                assert value == other, key
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for group, other in zip(ours["param_groups"], theirs["param_groups"]):
        assert group.keys() == other.keys()
        assert group == other


@pytest.mark.parametrize("case,dtype", CASES)
def test_trajectory_matches_torch(torch, case, dtype):
    results = {}
    for m in (ember, torch):
        params = make_params(m, dtype)
        opt = case.build(m, params)
        train(m, opt, params, case.steps)
        results[m.__name__] = params, opt.state_dict()
    assert_params_close(results["ember"][0], results["torch"][0], dtype)
    assert_state_dicts_close(results["ember"][1], results["torch"][1], dtype)


END_TO_END = [next(c for c in OPTIM_CASES if c.name == name) for name in dict.fromkeys(c.name for c in OPTIM_CASES)]


@pytest.mark.parametrize("case", END_TO_END, ids=str)
def test_training_loop_matches_torch(torch, case):
    """ember's own forward and backward feeding the optimizer, float64, against PyTorch's."""
    results = {}
    for m in (ember, torch):
        params = make_params(m, "float64")
        train_autograd(case.build(m, params), params, make_data(m, "float64"), case.steps)
        results[m.__name__] = params
    assert_params_close(results["ember"], results["torch"], "float64")


@pytest.mark.parametrize("case", LBFGS_CASES, ids=str)
def test_lbfgs_matches_torch(torch, case):
    losses = {}
    for m in (ember, torch):
        params = make_params(m, "float64")
        data = make_data(m, "float64")
        opt = case.build(m, params)
        closure = closure_for(opt, params, data)
        for _ in range(case.steps):
            opt.step(closure)
        losses[m.__name__] = loss_fn(params, *data).item()
        state = opt.state_dict()["state"][0]
        assert state["n_iter"] > 0 and state["func_evals"] >= state["n_iter"]
    assert abs(losses["ember"] - losses["torch"]) < 1e-6, losses
    assert losses["ember"] < 0.5 * loss_fn(make_params(ember, "float64"), *make_data(ember, "float64")).item()


def _continue(m, case, dtype, arrays, state_dict, steps=10):
    params = make_params(m, dtype, arrays)
    opt = case.build(m, params)
    opt.load_state_dict(state_dict)
    train(m, opt, params, steps)
    return params


# per optimizer, the configuration with the most state (amsgrad, momentum buffers, centered...)
ROUND_TRIP = [max((c for c in OPTIM_CASES if c.name == name and not c.kwargs.get("maximize")),
                  key=lambda c: len(c.kwargs)) for name in dict.fromkeys(c.name for c in OPTIM_CASES)]


@pytest.mark.parametrize("case", ROUND_TRIP, ids=str)
def test_state_dict_round_trip_continues_identically(case):
    params = make_params(ember, "float64")
    opt = case.build(ember, params)
    train(ember, opt, params, 7)
    saved = copy.deepcopy(opt.state_dict())
    arrays = [_np(p) for p in params]
    train(ember, opt, params, 10)
    resumed = _continue(ember, case, "float64", arrays, saved)
    for a, b in zip(params, resumed):
        if case.name == "NAdam":    # load_state_dict casts mu_product to float64, as PyTorch's does: ~1e-13 off
            np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10)
        else:
            np.testing.assert_array_equal(_np(a), _np(b))


@pytest.mark.parametrize("case", ROUND_TRIP, ids=str)
def test_checkpoint_moves_between_torch_and_ember(torch, case):
    for source, target in ((torch, ember), (ember, torch)):
        params = make_params(source, "float64")
        opt = case.build(source, params)
        train(source, opt, params, 7)
        arrays = [_np(p) for p in params]
        state_dict = convert(copy.deepcopy(opt.state_dict()), target)
        train(source, opt, params, 10)
        moved = _continue(target, case, "float64", arrays, state_dict)
        assert_params_close(moved, params, "float64")


def test_lbfgs_checkpoint_moves_both_ways(torch):
    case = LBFGS_CASES[2]
    losses = []
    for source in (torch, ember):
        params = make_params(source, "float64")
        opt = case.build(source, params)
        opt.step(closure_for(opt, params, make_data(source, "float64")))
        arrays, saved = [_np(p) for p in params], copy.deepcopy(opt.state_dict())
        for target in (torch, ember):
            params = make_params(target, "float64", arrays)
            data = make_data(target, "float64")
            opt = case.build(target, params)
            opt.load_state_dict(convert(saved, target))
            opt.step(closure_for(opt, params, data))
            losses.append(loss_fn(params, *data).item())
    assert max(losses) - min(losses) < 1e-6, losses


@pytest.mark.parametrize("name", sorted({c.name for c in OPTIM_CASES + LBFGS_CASES}))
def test_step_returns_closure_loss(name):
    params = make_params(ember, "float32")
    data = make_data(ember, "float32")
    opt = getattr(ember.optim, name)(params, lr=0.01)
    closure = closure_for(opt, params, data)
    with ember.no_grad():                          # the closure still records (step enables grad for it)
        loss = opt.step(closure)
    assert isinstance(loss, ember.Tensor) and loss.requires_grad
    if name != "LBFGS":
        assert opt.step() is None


@pytest.mark.parametrize("case", ERROR_CASES, ids=str)
def test_invalid_hyperparameters_raise_like_torch(torch, case):
    for m in (torch, ember):
        with pytest.raises(case.error) as info:
            getattr(m.optim, case.name)(make_params(m, "float32"), **case.kwargs)
        if m is torch:
            message = str(info.value)
    assert str(info.value) == message


def test_construction_errors_match_torch(torch):
    def attempts(m):
        p = m.zeros(3, requires_grad=True)
        q = m.zeros(2, requires_grad=True)
        yield lambda: m.optim.SGD([], lr=0.1)                       # ValueError: empty
        yield lambda: m.optim.SGD(p, lr=0.1)                        # TypeError: a bare tensor
        yield lambda: m.optim.SGD([p, 3], lr=0.1)                   # TypeError: not a tensor
        yield lambda: m.optim.SGD([p * 2], lr=0.1)                  # ValueError: non-leaf
        yield lambda: m.optim.SGD([{"params": [p]}, {"params": [p, q]}], lr=0.1)   # in two groups
        yield lambda: m.optim.SGD([{"params": {p}}], lr=0.1)        # TypeError: a set
        yield lambda: m.optim.SGD([("a", p), q], lr=0.1)            # ValueError: names missing
        yield lambda: m.optim.LBFGS([{"params": [p]}, {"params": [q]}])
        yield lambda: m.optim.SGD([p], lr=0.1).add_param_group([q])  # TypeError: not a dict
    for ours, theirs in zip(attempts(ember), attempts(torch)):
        with pytest.raises(Exception) as expected:
            theirs()
        with pytest.raises(expected.type) as got:
            ours()
        # ember's messages say ember.<name>, but tensor type names are PyTorch's ('torch.FloatTensor') in both
        assert str(got.value).replace("torch.", "ember.") == str(expected.value).replace("torch.", "ember.")


def test_duplicate_parameter_in_a_group_warns_like_torch():
    p = ember.zeros(3, requires_grad=True)
    with pytest.warns(UserWarning, match="duplicate parameters"):
        ember.optim.SGD([p, p], lr=0.1)


def test_named_parameters_and_param_groups():
    p, q = ember.zeros(3, requires_grad=True), ember.zeros(2, requires_grad=True)
    opt = ember.optim.Adam([("p", p), ("q", q)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["p", "q"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["p", "q"]
    r = ember.zeros(1, requires_grad=True)
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [r]})
    opt.add_param_group({"params": [("r", r)], "lr": 0.5})
    group = opt.param_groups[1]
    assert group["lr"] == 0.5 and group["betas"] == (0.9, 0.999) and group["params"][0] is r
    assert opt.state_dict()["param_groups"][1]["params"] == [2]


def test_zero_grad():
    p = ember.ones(3, requires_grad=True)
    opt = ember.optim.SGD([p], lr=0.1)
    (p * 2).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad and p.grad.tolist() == [0.0, 0.0, 0.0]
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("name", sorted({c.name for c in OPTIM_CASES + LBFGS_CASES}))
def test_every_optimizer_runs_step_hooks(name):
    params = make_params(ember, "float32")
    opt = getattr(ember.optim, name)(params, lr=0.01)
    calls = []
    opt.register_step_pre_hook(lambda o, args, kwargs: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kwargs: calls.append("post"))
    opt.step(closure_for(opt, params, make_data(ember, "float32")))
    assert calls == ["pre", "post"]


def test_every_optimizer_and_scheduler_has_a_case():
    from test_lr_scheduler import SCHEDULERS
    covered = {c.name for c in OPTIM_CASES + LBFGS_CASES} | {"Optimizer", "SparseAdam", "lr_scheduler", "swa_utils"}
    assert set(ember.optim.__all__) <= covered, set(ember.optim.__all__) - covered
    names = {name.split("-")[0] for name in SCHEDULERS} | {"LRScheduler", "ReduceLROnPlateau"}
    assert set(ember.optim.lr_scheduler.__all__) <= names, set(ember.optim.lr_scheduler.__all__) - names


def test_step_hooks(torch):
    calls = []
    p = ember.ones(2, requires_grad=True)
    opt = ember.optim.SGD([p], lr=0.1)
    pre = opt.register_step_pre_hook(lambda o, args, kwargs: calls.append(("pre", o is opt, args, kwargs)))
    post = opt.register_step_post_hook(lambda o, args, kwargs: calls.append(("post", o is opt)))
    opt.step()
    assert calls == [("pre", True, (), {}), ("post", True)]
    pre.remove()
    post.remove()
    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": lambda: 7.0}))
    assert opt.step() == 7.0                          # a pre-hook may replace the arguments
    glob = ember.optim.optimizer.register_optimizer_step_post_hook(lambda o, a, k: calls.append("global"))
    opt.step()
    glob.remove()
    opt.step()
    assert calls[-1] == "global" and calls.count("global") == 1


def test_update_bumps_version_and_autograd_notices():
    p = ember.ones(3, requires_grad=True)
    opt = ember.optim.Adam([p], lr=0.1)
    y = (p * p).sum()                                 # saves p for backward
    p.grad = ember.ones(3)
    version = p._version
    opt.step()
    assert p._version > version
    with pytest.raises(RuntimeError):
        y.backward()


def test_state_and_groups_survive_pickling():
    import pickle
    params = make_params(ember, "float64")
    opt = OptimCase("Adam", dict(lr=0.01)).build(ember, params)
    train(ember, opt, params, 3)
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.defaults == opt.defaults and len(clone.state) == 4
    assert "Adam (" in repr(opt) and "lr: 0.01" in repr(opt)


def test_lr_as_tensor_and_ember_as_torch():
    p = ember.tensor([1.0, -2.0], requires_grad=True)
    opt = ember.optim.SGD([p], lr=ember.tensor(0.5))
    p.grad = ember.tensor([1.0, 1.0])
    opt.step()
    assert p.tolist() == [0.5, -2.5]


def test_sparse_adam_refuses_dense_gradients_like_torch():
    p = ember.zeros(2, requires_grad=True)
    opt = ember.optim.SparseAdam([p])
    p.grad = ember.ones(2)
    with pytest.raises(RuntimeError, match="does not support dense gradients"):
        opt.step()
    assert p.tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="Invalid learning rate"):
        ember.optim.SparseAdam([p], lr=-1.0)


def test_float32_params_keep_float32_state():
    params = make_params(ember, "float32")
    opt = ember.optim.RMSprop(params, lr=0.01, momentum=0.9, centered=True)
    train_autograd(opt, params, make_data(ember, "float32"), 2)
    for p in params:
        assert p.dtype is ember.float32
        for value in opt.state[p].values():
            assert value.dtype is ember.float32


def test_every_torch_optimizer_is_exported(torch):
    missing = {n for n in torch.optim.__all__ if n[0].isupper()} - set(ember.optim.__all__)
    assert missing <= {"Muon"}, missing               # beyond the list
    with warnings.catch_warnings():                   # a plain construction warns about nothing
        warnings.simplefilter("error")
        ember.optim.Adam(make_params(ember, "float32"))


@pytest.mark.parametrize("name", sorted({c.name for c in OPTIM_CASES} - COMPLEX_UNSUPPORTED))
def test_complex_parameters_match_torch(torch, name):
    """Complex parameters update as pairs of reals (PyTorch's view_as_real), SGD natively."""
    rng = np.random.default_rng(0)
    start = rng.standard_normal(4) + 1j * rng.standard_normal(4)
    grads = [rng.standard_normal(4) + 1j * rng.standard_normal(4) for _ in range(20)]
    kwargs = next(c.kwargs for c in OPTIM_CASES if c.name == name and len(c.kwargs) > 2)
    results = []
    for m in (ember, torch):
        p = m.tensor(start, requires_grad=True)
        opt = getattr(m.optim, name)([p], **kwargs)
        for g in grads:
            p.grad = m.tensor(g)
            opt.step()
        results.append(_np(p))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12, atol=1e-13)


def test_custom_optimizer_written_the_pytorch_way():
    class PlainSGD(ember.optim.Optimizer):
        def __init__(self, params, lr=0.1):
            super().__init__(params, dict(lr=lr))

        @ember.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(p.grad, alpha=-group["lr"])
                        self.state[p]["count"] = self.state[p].get("count", 0) + 1

    p = ember.tensor([1.0, 2.0], requires_grad=True)
    opt = PlainSGD([p])
    calls = []
    opt.register_step_post_hook(lambda *args: calls.append(1))
    (p * p).sum().backward()
    opt.step()
    assert p.tolist() == pytest.approx([0.8, 1.6]) and calls == [1]
    assert opt.state_dict()["state"] == {0: {"count": 1}}


def test_signatures_match_torch(torch):
    import inspect
    for name in ember.optim.__all__:
        ours, theirs = getattr(ember.optim, name), getattr(torch.optim, name)
        if not isinstance(ours, type) or name in ("Optimizer", "SparseAdam"):
            continue
        a, b = inspect.signature(ours.__init__).parameters, inspect.signature(theirs.__init__).parameters
        assert [(p.name, p.kind, p.default) for p in a.values()] == \
               [(p.name, p.kind, p.default) for p in b.values()], name
    for name in ember.optim.lr_scheduler.__all__:
        a = inspect.signature(getattr(ember.optim.lr_scheduler, name).__init__).parameters
        b = inspect.signature(getattr(torch.optim.lr_scheduler, name).__init__).parameters
        assert [(p.name, p.default) for p in a.values()] == [(p.name, p.default) for p in b.values()], name


def test_checkpoint_files_move_between_torch_and_ember(torch, tmp_path):
    """ember.save writes PyTorch's format: an optimizer checkpoint loads with torch.load(weights_only=True)."""
    case = next(c for c in ROUND_TRIP if c.name == "Adam")
    runs = {}
    for source, target, save, load in ((ember, torch, ember.save, torch.load), (torch, ember, torch.save, ember.load)):
        params = make_params(source, "float64")
        opt = case.build(source, params)
        train(source, opt, params, 5)
        arrays = [_np(p) for p in params]
        save(opt.state_dict(), tmp_path / "opt.pt")
        train(source, opt, params, 10)
        params2 = make_params(target, "float64", arrays)
        opt2 = case.build(target, params2)
        opt2.load_state_dict(load(tmp_path / "opt.pt", weights_only=True))
        train(target, opt2, params2, 10)
        assert_params_close(params2, params, "float64")
        runs[source.__name__] = opt2.state_dict()
    assert runs["ember"]["param_groups"] == runs["torch"]["param_groups"]
