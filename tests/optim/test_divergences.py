"""Optimizer divergences from PyTorch found by differential testing (issue 12): 0-d parameters, parameters used
0/1/2 times per step, a tensor lr, foreach, state_dict mid-run, NAdam's mu_product, L-BFGS's state, ASGD's
eta/mu. Each program is written once against a module `m` (ember or torch) and run under both.
"""
import copy

import numpy as np
import pytest

import ember

F64 = dict(rtol=1e-10, atol=1e-12)
F32 = dict(rtol=2e-5, atol=1e-6)     # float32: PyTorch's CPU kernels fuse a*x+y (one rounding), NumPy rounds twice


def _np(t):
    return np.array(t.detach().numpy() if hasattr(t, "detach") else t)


def _assert_ember_state_is_arrays(opt):
    """Note [array storage]: every state tensor holds a real ndarray (updated in place), never a NumPy scalar."""
    for state in opt.state.values():
        for key, value in state.items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, ember.Tensor):
                    assert isinstance(v._array, np.ndarray) and not isinstance(v._array, np.generic), key


# --- programs -------------------------------------------------------------------------------------------

def _params(m, pattern, dtype):
    """(params, loss(params, step)) for a parameter pattern; the same numbers under ember and torch."""
    dt = getattr(m, dtype)
    rng = np.random.default_rng(3)

    def P(a):
        return m.nn.Parameter(m.tensor(np.asarray(a), dtype=dt))
    if pattern == "0d":
        ps = [P(0.7)]
        return ps, lambda ps, i: ps[0] * ps[0] + ps[0] * (0.3 * (-1) ** i)
    if pattern == "1d":
        ps = [P(rng.standard_normal(4))]
        w = m.tensor([1.0, 2.0, 3.0, 4.0], dtype=dt)
        return ps, lambda ps, i: (ps[0] ** 2 * w).sum() + ps[0].sum() * (0.5 - i % 2)
    if pattern == "2d":
        ps = [P(rng.standard_normal((3, 2)))]
        v = m.tensor([[1.0], [-2.0]], dtype=dt)
        return ps, lambda ps, i: ((ps[0] @ v) ** 2).sum() + (ps[0] ** 2).sum() * 0.1 + ps[0].sum() * (i % 3 - 1)
    if pattern == "uses":       # a 0-d parameter used 0, 1, 2 times in turn (its gradient a sum of 0-d terms)
        ps = [P(0.4), P(rng.standard_normal(3)), P(rng.standard_normal(2))]

        def loss(ps, i):
            total = (ps[1] ** 2).sum() + (ps[2] * ps[2]).sum() + ps[2].sum()
            for _ in range(i % 3):
                total = total + ps[0] * ps[0] * 1.5 - ps[0]
            return total
        return ps, loss
    if pattern == "nograd":     # the middle parameter never gets a gradient
        ps = [P(rng.standard_normal(3)), P(rng.standard_normal(2)), P(-0.2)]
        return ps, lambda ps, i: (ps[0] ** 2).sum() + (ps[2] * ps[2] - 0.1) ** 2
    if pattern == "groups":     # two param groups (the second with its own lr)
        ps = [P(rng.standard_normal(3)), P(0.9), P(rng.standard_normal((2, 2)))]
        return ps, lambda ps, i: (ps[0] ** 2).sum() + ps[1] * ps[1] * (ps[1] * ps[1] + 1) + (ps[2] ** 2).sum() * 0.5
    assert pattern == "zerograd"   # zero_grad(set_to_none=False): the 0-d parameter keeps a zero gradient
    ps = [P(rng.standard_normal(3)), P(0.3)]
    return ps, lambda ps, i: (ps[0] ** 2).sum() + (ps[1] * ps[1] if i == 0 else 0)


def _build(m, name, kwargs, ps, pattern):
    kwargs = dict(kwargs)
    if kwargs.pop("lr_tensor", False):
        kwargs["lr"] = m.tensor(kwargs["lr"])
    if pattern == "groups" and name != "LBFGS":
        return getattr(m.optim, name)([{"params": ps[:2]}, {"params": ps[2:], "lr": 0.03}], **kwargs)
    return getattr(m.optim, name)(ps, **kwargs)


def _run(m, name, kwargs, pattern, dtype, steps=5, reload_at=None):
    """Trajectory, final state_dict snapshot and optimizer; with reload_at the optimizer's state_dict is saved
    before that step and loaded into a fresh optimizer that carries on."""
    ps, loss = _params(m, pattern, dtype)
    opt = _build(m, name, kwargs, ps, pattern)
    set_to_none = pattern != "zerograd"
    trajectory = []
    for i in range(steps):
        if i == reload_at:
            saved = copy.deepcopy(opt.state_dict())
            opt = _build(m, name, kwargs, ps, pattern)
            opt.load_state_dict(saved)

        def closure():
            opt.zero_grad(set_to_none=set_to_none)
            value = loss(ps, i)
            value.backward()
            return value
        if name == "LBFGS":
            opt.step(closure)
        else:
            closure()
            opt.step()
        trajectory.append([_np(p).copy() for p in ps])
    return trajectory, _snapshot(opt.state_dict()), opt


def _snapshot(state_dict):
    """A state_dict as plain data: tensors as (dtype, shape, values), other values with their type."""
    def conv(v):
        if hasattr(v, "detach"):
            return ("tensor", str(v.dtype).split(".")[-1], tuple(v.shape), _np(v).copy())
        if isinstance(v, list):
            return ("list", [conv(x) for x in v])
        return (type(v).__name__, v)
    state = {k: {key: conv(v) for key, v in s.items()} for k, s in state_dict["state"].items()}
    groups = [{k: (("tensor", float(v)) if hasattr(v, "detach") else v) for k, v in g.items()}
              for g in state_dict["param_groups"]]
    return state, groups


def _assert_value_close(ours, theirs, tol, where):
    assert ours[0] == theirs[0], (where, ours, theirs)
    if ours[0] == "tensor":
        assert ours[1:3] == theirs[1:3], (where, ours[1:3], theirs[1:3])      # dtype and shape
        np.testing.assert_allclose(ours[3], theirs[3], err_msg=str(where), equal_nan=True,
                                   rtol=10 * tol["rtol"], atol=10 * tol["atol"])
    elif ours[0] == "list":
        assert len(ours[1]) == len(theirs[1]), where
        for a, b in zip(ours[1], theirs[1]):
            _assert_value_close(a, b, tol, where)
    elif ours[0] == "float":
        np.testing.assert_allclose(ours[1], theirs[1], err_msg=str(where), equal_nan=True, rtol=10 * tol["rtol"])
    else:
        assert ours == theirs, where


def _assert_runs_match(ours, theirs, tol):
    for step, (a, b) in enumerate(zip(ours[0], theirs[0])):
        for j, (x, y) in enumerate(zip(a, b)):
            assert x.shape == y.shape
            np.testing.assert_allclose(x, y, err_msg=f"step {step} param {j}", **tol)
    (state, groups), (their_state, their_groups) = ours[1], theirs[1]
    assert groups == their_groups
    assert list(state) == list(their_state)
    for index in state:
        assert list(state[index]) == list(their_state[index]), index       # keys, in PyTorch's order
        for key, value in state[index].items():
            _assert_value_close(value, their_state[index][key], tol, (index, key))


# --- the sweep: optimizers x options x parameter patterns, uninterrupted and resumed from a state_dict ------

SWEEP = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5, maximize=True, foreach=False)),
    ("SGD", dict(lr=0.05, momentum=0.3, weight_decay=0.2, lr_tensor=True, foreach=True)),
    ("Adam", dict(lr=0.1)),
    ("Adam", dict(lr=0.1, amsgrad=True, weight_decay=0.1, capturable=False)),
    ("Adam", dict(lr=0.1, maximize=True, foreach=True)),
    ("Adam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, amsgrad=True, lr_tensor=True)),
    ("AdamW", dict(lr=0.1, amsgrad=True, maximize=True)),
    ("AdamW", dict(lr=0.1, lr_tensor=True)),
    ("Adamax", dict(lr=0.1, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.1, lr_tensor=True)),
    ("Adamax", dict(lr=0.05, lr_tensor=True, foreach=True, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, lr_tensor=True, foreach=True)),
    ("Adadelta", dict(lr=0.5)),
    ("Adadelta", dict(lr=0.5, weight_decay=0.1, maximize=True, foreach=True, lr_tensor=True)),
    ("RMSprop", dict(lr=0.05, centered=True)),
    ("RMSprop", dict(lr=0.05, momentum=0.9, centered=True, weight_decay=0.1, maximize=True)),
    ("RMSprop", dict(lr=0.05, momentum=0.5, foreach=True, lr_tensor=True)),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.05, maximize=True, foreach=True, lr_tensor=True)),
    ("ASGD", dict(lr=0.05, t0=2, lambd=0.1, weight_decay=0.1, maximize=True)),
    ("ASGD", dict(lr=0.05, t0=2, lr_tensor=True)),
    ("ASGD", dict(lr=0.05, t0=1, lambd=0.1, foreach=True)),
    ("ASGD", dict(lr=0.05, t0=1, lambd=0.1, foreach=True, lr_tensor=True, weight_decay=0.1)),
    ("NAdam", dict(lr=0.1)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, momentum_decay=0.01, lr_tensor=True)),
    ("NAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, maximize=True, foreach=True,
                   lr_tensor=True)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, decoupled_weight_decay=True, lr_tensor=True)),
    ("RAdam", dict(lr=0.1, weight_decay=0.1, maximize=True, foreach=True, lr_tensor=True)),
    ("Adafactor", dict(lr=0.1)),
    ("Adafactor", dict(lr=0.1, weight_decay=0.1, maximize=True, foreach=True, lr_tensor=True)),
    ("LBFGS", dict(lr=1, max_iter=4)),
    ("LBFGS", dict(lr=1, max_iter=4, line_search_fn="strong_wolfe")),
    ("LBFGS", dict(lr=0.5, max_iter=3, history_size=2, lr_tensor=True)),
]
PATTERNS = ("0d", "1d", "2d", "uses", "nograd", "groups", "zerograd")


def _id(name, kwargs):
    return name + "(" + ",".join(f"{k}={v}" for k, v in kwargs.items()) + ")"


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("name,kwargs", [pytest.param(n, k, id=_id(n, k)) for n, k in SWEEP])
def test_sweep_matches_torch(torch, name, kwargs, pattern):
    # L-BFGS converges within the 5 steps, and its state (curvature pairs from near-equal gradients) amplifies
    # the last bits in which the two autograds' gradients differ: values to 1e-5, counts and layout exactly
    # (test_lbfgs_counts_and_state_match_torch compares values tightly with identical gradients)
    tol = dict(rtol=1e-5, atol=1e-6) if name == "LBFGS" else F64
    for reload_at in (None, 2):
        runs = {m.__name__: _run(m, name, kwargs, pattern, "float64", reload_at=reload_at) for m in (ember, torch)}
        _assert_runs_match(runs["ember"], runs["torch"], tol)
        _assert_ember_state_is_arrays(runs["ember"][2])
    if pattern in ("0d", "uses") and name != "LBFGS":     # float32: 0-d arithmetic, sums of 0-d gradients
        runs = {m.__name__: _run(m, name, kwargs, pattern, "float32", reload_at=2) for m in (ember, torch)}
        _assert_runs_match(runs["ember"], runs["torch"], F32)


# --- item 1: 0-d parameters --------------------------------------------------------------------------------

def _sgd_momentum_0d(m):
    p = m.nn.Parameter(m.tensor(0.5, dtype=m.float64))
    opt = m.optim.SGD([p], lr=0.1, momentum=0.9)
    for _ in range(4):
        opt.zero_grad()
        (p * p).backward()
        opt.step()
    return p, opt


def test_sgd_momentum_on_0d_parameter_updates_its_buffer():
    p, opt = _sgd_momentum_0d(ember)
    # by hand: g = 2p, buf = 0.9 buf + g, p -= 0.1 buf
    q, buf = 0.5, None
    for _ in range(4):
        buf = 2 * q if buf is None else 0.9 * buf + 2 * q
        q -= 0.1 * buf
    assert p.item() == pytest.approx(q, rel=1e-12)
    assert round(p.item(), 4) == -0.1543
    buf_t = opt.state[p]["momentum_buffer"]
    assert buf_t.shape == () and isinstance(buf_t._array, np.ndarray)
    assert buf_t.item() == pytest.approx(buf, rel=1e-12)


def test_sgd_momentum_on_0d_parameter_matches_torch(torch):
    (p, _), (q, _) = _sgd_momentum_0d(ember), _sgd_momentum_0d(torch)
    assert p.item() == pytest.approx(q.item(), rel=1e-12)


ALL_ON_0D = [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
             ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1, maximize=True)),
             ("Adam", dict(lr=0.1, amsgrad=True)), ("AdamW", dict(lr=0.1, amsgrad=True)),
             ("Adamax", dict(lr=0.1)), ("Adagrad", dict(lr=0.1)), ("Adadelta", dict(lr=0.5)),
             ("RMSprop", dict(lr=0.05, centered=True, momentum=0.5)), ("RMSprop", dict(lr=0.05, centered=True)),
             ("Rprop", dict(lr=0.05)), ("ASGD", dict(lr=0.05, t0=1)), ("NAdam", dict(lr=0.1)),
             ("RAdam", dict(lr=0.1)), ("Adafactor", dict(lr=0.1)), ("LBFGS", dict(lr=0.5, max_iter=3))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", [pytest.param(n, k, id=_id(n, k)) for n, k in ALL_ON_0D])
def test_every_optimizer_steps_a_0d_parameter_with_array_state(name, kwargs, dtype):
    """Without torch: the 0-d float32 paths that used `out=` on NumPy scalars run, the parameter moves, the
    state keeps the parameter's 0-d shape and holds arrays, and the first step equals the 1-element run's."""
    results = []
    for shape in ((), (1,)):
        p = ember.nn.Parameter(ember.full(shape, 0.7, dtype=getattr(ember, dtype)))
        opt = getattr(ember.optim, name)([p], **kwargs)
        for i in range(4):
            def closure():
                opt.zero_grad(set_to_none=False)
                loss = (p * p + p * (0.3 * (-1) ** i)).sum()
                loss.backward()
                return loss
            opt.step(closure) if name == "LBFGS" else (closure(), opt.step())
        _assert_ember_state_is_arrays(opt)
        for key, value in opt.state[p].items():
            if isinstance(value, ember.Tensor) and key not in ("step", "eta", "mu", "mu_product"):
                assert value.shape == p.shape or name == "LBFGS", key
        results.append(p.detach().reshape(-1).numpy().copy())
    assert p.item() != 0.7
    np.testing.assert_array_equal(results[0], results[1])


def test_zero_grad_keeps_a_zeroed_0d_gradient():
    p = ember.nn.Parameter(ember.tensor(0.5))
    opt = ember.optim.SGD([p], lr=0.1)
    (p * p).backward()
    g = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is g and p.grad.shape == () and p.grad.item() == 0.0
    assert isinstance(p.grad._array, np.ndarray)


# --- item 3: NAdam's mu_product, L-BFGS state, tensor lr, ASGD eta/mu ---------------------------------------

def _nadam_resumed(m):
    p = m.nn.Parameter(m.tensor([0.5, -0.3], dtype=m.float64))
    opt = m.optim.NAdam([p], lr=0.1)
    for _ in range(3):
        p.grad = p.detach() * 2
        opt.step()
    fresh = m.optim.NAdam([p], lr=0.1)
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
    before = fresh.state[p]["mu_product"]
    for _ in range(2):
        p.grad = p.detach() * 2
        fresh.step()
    return p, before, fresh.state[p]


def test_nadam_mu_product_takes_the_parameter_dtype_on_load():
    p, before, state = _nadam_resumed(ember)
    assert before.dtype == ember.float64 and state["mu_product"].dtype == ember.float64   # cast, as PyTorch
    assert state["step"].dtype == ember.float32                                           # `step` is not


def test_nadam_resumed_matches_torch(torch):
    (p, _, s), (q, _, t) = _nadam_resumed(ember), _nadam_resumed(torch)
    np.testing.assert_allclose(_np(p), _np(q), rtol=1e-14)
    assert s["mu_product"].item() == t["mu_product"].item()


def _lbfgs_exact_grads(m, dtype, line_search_fn, lr=1):
    """L-BFGS on a smooth function whose gradient both libraries get from NumPy in float64 (so only the
    optimizer's arithmetic differs)."""
    w = np.array([1.0, 2.0, 3.0, 4.0])
    p = m.nn.Parameter(m.tensor(np.random.default_rng(3).standard_normal(4), dtype=getattr(m, dtype)))
    opt = m.optim.LBFGS([p], lr=lr, max_iter=4, line_search_fn=line_search_fn)
    for i in range(5):
        def closure():
            x = np.asarray(_np(p), dtype=np.float64)
            c = 0.5 - i % 2
            p.grad = m.tensor(2 * x * w + np.cos(x) * c, dtype=getattr(m, dtype))
            return m.tensor((x * x * w).sum() + np.sin(x).sum() * c, dtype=getattr(m, dtype))
        opt.step(closure)
    return p, opt


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_state_layout(line_search_fn):
    p, opt = _lbfgs_exact_grads(ember, "float32", line_search_fn)
    state = opt.state_dict()["state"][0]
    assert list(state) == ["func_evals", "n_iter", "al", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                           "prev_flat_grad", "prev_loss"]
    assert len(state["al"]) == 100 and isinstance(state["al"][0], ember.Tensor) and state["al"][-1] is None
    assert state["n_iter"] == 20 and state["func_evals"] == (23 if line_search_fn else 20)
    for key in ("ro", "old_dirs"):
        assert all(v.dtype == ember.float32 for v in state[key])
    assert state["H_diag"].shape == () and state["H_diag"].dtype == ember.float32
    assert state["t"] == 1 and isinstance(state["t"], int)      # lr=1 after the first iteration: a number


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
@pytest.mark.parametrize("lr", [1, 0.8, "tensor"])
def test_lbfgs_counts_and_state_match_torch(torch, dtype, line_search_fn, lr):
    runs = {}
    for m in (ember, torch):
        p, opt = _lbfgs_exact_grads(m, dtype, line_search_fn, m.tensor(0.8) if lr == "tensor" else lr)
        runs[m.__name__] = _np(p), _snapshot(opt.state_dict())
    (p, (state, groups)), (q, (their_state, their_groups)) = runs["ember"], runs["torch"]
    # float32: 20 iterations of curvature pairs from near-equal gradients amplify last-bit differences (dot
    # products summed in another order, fused multiply-adds) to ~1e-4; the counts and the layout stay exact
    tol = F64 if dtype == "float64" else dict(rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(p, q, **tol)
    assert groups == their_groups and list(state[0]) == list(their_state[0])
    for key, value in state[0].items():
        _assert_value_close(value, their_state[0][key], tol, key)


def test_tensor_lr_rounds_in_its_dtype_like_torch_tensor_arithmetic():
    """Adam's step size lr / (1 - beta1^t) with lr a float32 tensor is a float32 value (Note [tensor lr])."""
    p = ember.nn.Parameter(ember.tensor([1.0], dtype=ember.float64))
    opt = ember.optim.Adam([p], lr=ember.tensor(0.01), betas=(0.7, 0.999), eps=0.0)
    p.grad = ember.tensor([2.0], dtype=ember.float64)
    opt.step()
    step_size = np.float32(0.01) / np.float32(1 - 0.7)        # rounded in float32
    ratio = (0.3 * 2.0) / ((0.001 * 4.0) ** 0.5 / (1 - 0.999) ** 0.5)
    assert p.item() == pytest.approx(1.0 - float(step_size) * ratio, rel=1e-15, abs=0)
    assert abs(p.item() - (1.0 - float(np.float32(0.01)) / (1 - 0.7) * ratio)) > 1e-10


def _asgd_scalars(m, dtype, **kwargs):
    if kwargs.pop("lr_tensor", False):
        kwargs["lr"] = m.tensor(kwargs["lr"])
    p = m.nn.Parameter(m.tensor([0.5, -1.0, 2.0], dtype=getattr(m, dtype)))
    q = m.nn.Parameter(m.tensor(0.5, dtype=getattr(m, dtype)))
    opt = m.optim.ASGD([p, q], **kwargs)
    out = []
    for i in range(6):
        p.grad = m.tensor([0.1 * i, 1.0, -0.3], dtype=getattr(m, dtype))
        q.grad = m.tensor(0.3 - 0.1 * i, dtype=getattr(m, dtype))
        opt.step()
        out.append([(str(opt.state[x][k].dtype).split(".")[-1], float(opt.state[x][k]).hex()) for x in (p, q) for k in ("eta", "mu")])
    return out, _np(opt.state[p]["ax"])


ASGD_CASES = [dict(lr=0.05, t0=2, lambd=0.1), dict(lr=0.05, t0=2, lambd=0.1, lr_tensor=True),
              dict(lr=0.05, t0=1, lambd=0.1, foreach=True), dict(lr=0.05, t0=1, lambd=0.1, foreach=True, lr_tensor=True)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", ASGD_CASES, ids=str)
def test_asgd_eta_mu_bit_for_bit_with_torch(torch, kwargs, dtype):
    (ours, ax), (theirs, their_ax) = (_asgd_scalars(m, dtype, **kwargs) for m in (ember, torch))
    assert ours == theirs                                       # every step's eta and mu, dtype and bits
    np.testing.assert_allclose(ax, their_ax, **(F64 if dtype == "float64" else dict(rtol=3e-7, atol=0)))


def test_asgd_foreach_eta_rounds_through_the_step_tensor():
    """PyTorch's foreach ASGD computes lr / (1 + lambd*lr*step)^alpha from the float32 `step` tensor, as
    reciprocal(...) * lr: at step 4 that is one float32 ulp above the single-tensor path's value."""
    single, _ = _asgd_scalars(ember, "float64", lr=0.05, t0=1, lambd=0.1)
    fused, _ = _asgd_scalars(ember, "float64", lr=0.05, t0=1, lambd=0.1, foreach=True)
    base = np.float32(1) + np.float32(0.1 * 0.05) * np.float32(4)
    expected = (np.float32(1) / base ** np.float32(0.75)) * np.float32(0.05)
    assert fused[3][0] == ("float32", float(expected).hex())
    assert single[3][0] == ("float32", float(np.float32(0.05 / (1 + 0.1 * 0.05 * 4) ** 0.75)).hex())
    assert fused[3][0] != single[3][0]


# --- item 4: a tensor lr with foreach=True ------------------------------------------------------------------

TENSOR_LR_FOREACH = "lr as a Tensor is not supported for capturable=False and foreach=True"


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_tensor_lr_with_foreach_refused_at_construction(name):
    p = ember.nn.Parameter(ember.ones(2))
    with pytest.raises(ValueError, match=TENSOR_LR_FOREACH):
        getattr(ember.optim, name)([p], lr=ember.tensor(0.1), foreach=True)
    with pytest.raises(ValueError, match=TENSOR_LR_FOREACH):       # checked before the 1-element rule
        getattr(ember.optim, name)([p], lr=ember.tensor([0.1, 0.2]), foreach=True)
    getattr(ember.optim, name)([p], lr=ember.tensor(0.1), foreach=True, capturable=True)
    getattr(ember.optim, name)([p], lr=ember.tensor(0.1), foreach=False)


def _tensor_lr_set_later(m):
    p = m.nn.Parameter(m.ones(2))
    opt = m.optim.Adam([p], lr=0.1, foreach=True)
    opt.param_groups[0]["lr"] = m.tensor(0.01)
    p.grad = m.ones(2)
    with pytest.raises(RuntimeError, match=TENSOR_LR_FOREACH):
        opt.step()
    return p, opt


def test_tensor_lr_with_foreach_refused_at_step_before_anything_moves():
    p, opt = _tensor_lr_set_later(ember)
    assert p.tolist() == [1.0, 1.0]
    state = opt.state[p]                     # as PyTorch: that parameter's state was made, then the step refused
    assert state["step"].item() == 0.0 and state["exp_avg"].tolist() == [0.0, 0.0]


def test_tensor_lr_with_foreach_refusals_match_torch(torch):
    (p, opt), (q, topt) = _tensor_lr_set_later(ember), _tensor_lr_set_later(torch)
    np.testing.assert_array_equal(_np(p), _np(q))
    ours, theirs = _snapshot(opt.state_dict())[0], _snapshot(topt.state_dict())[0]
    assert list(ours) == list(theirs) == [0]
    for key, value in ours[0].items():
        _assert_value_close(value, theirs[0][key], F64, key)
    for name in ("SGD", "Adamax", "Adagrad", "Adadelta", "RMSprop", "Rprop", "ASGD", "NAdam", "RAdam", "Adafactor"):
        results = []
        for m in (ember, torch):                # accepted by both, with the same first step
            x = m.nn.Parameter(m.ones(3))
            o = getattr(m.optim, name)([x], lr=m.tensor(0.01), foreach=True)
            x.grad = m.ones(3)
            o.step()
            results.append(_np(x))
        np.testing.assert_allclose(results[0], results[1], rtol=1e-6)


def test_adam_betas_types_checked_like_torch(torch):
    for m in (ember, torch):
        p = m.nn.Parameter(m.ones(2))
        with pytest.raises(ValueError, match="betas must be either both floats or both Tensors"):
            m.optim.Adam([p], betas=(0, 0.99))
        with pytest.raises(ValueError, match=r"betas\[0\] as a Tensor is not supported"):
            m.optim.AdamW([p], betas=(m.tensor(0.9), m.tensor(0.99)), foreach=True)
        m.optim.NAdam([p], betas=(0, 0.99))                  # NAdam has no such rule


def test_sparse_adam_refuses_dense_gradients_before_making_state():
    p, q = ember.nn.Parameter(ember.ones(2)), ember.nn.Parameter(ember.tensor(1.0))
    opt = ember.optim.SparseAdam([p, q])
    q.grad = ember.tensor(1.0)
    with pytest.raises(RuntimeError, match="^SparseAdam does not support dense gradients, please consider Adam "
                                           "instead$"):
        opt.step()
    assert opt.state_dict()["state"] == {} and q.item() == 1.0


# --- item 5: state_dict mid-run ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,kwargs", [pytest.param(n, k, id=_id(n, k)) for n, k in ALL_ON_0D if n != "LBFGS"])
def test_resumed_state_keeps_torch_dtypes(torch, name, kwargs):
    """After load_state_dict into float64 parameters: `step` stays a 0-d float32 tensor, everything else
    floating takes the parameter's dtype, exactly where PyTorch does."""
    snaps = []
    for m in (ember, torch):
        ps, loss = _params(m, "uses", "float64")
        opt = _build(m, name, kwargs, ps, "uses")
        for i in range(3):
            opt.zero_grad()
            loss(ps, i).backward()
            opt.step()
        fresh = _build(m, name, kwargs, ps, "uses")
        fresh.load_state_dict(copy.deepcopy(opt.state_dict()))
        snaps.append({k: {key: v[:3] for key, v in s.items()} for k, s in _snapshot(fresh.state_dict())[0].items()})
        if m is ember:
            _assert_ember_state_is_arrays(fresh)
    assert snaps[0] == snaps[1]
    for state in snaps[0].values():
        if "step" in state:
            assert state["step"] == ("tensor", "float32", ())


def _shared_after_load(m):
    """The fuzzer's program: an optimizer loaded from another's (not deep-copied) state_dict."""
    p = m.nn.Parameter(m.tensor([0.5, -0.5]))
    q = m.nn.Parameter(m.tensor(0.5, dtype=m.float64))
    a = m.optim.AdamW([p, q], lr=0.1)
    for opt in (a, None):
        if opt is None:
            opt = m.optim.AdamW([p, q], lr=0.1)
            opt.load_state_dict(a.state_dict())
        opt.zero_grad()
        ((p * p).sum() + q * q).backward()
        opt.step()
    return a, opt


def test_load_state_dict_shares_tensors_needing_no_cast():
    a, b = _shared_after_load(ember)
    pa, qa = a.param_groups[0]["params"]
    assert b.state[pa]["step"] is a.state[pa]["step"] and a.state[pa]["step"].item() == 2.0
    assert b.state[pa]["exp_avg"] is a.state[pa]["exp_avg"]
    # a float32 `exp_avg` saved for a float64 parameter is cast, hence copied; `step` never is
    c = ember.optim.AdamW([qa], lr=0.1)
    saved = {"state": {0: {"step": ember.tensor(1.0), "exp_avg": ember.tensor(0.1), "exp_avg_sq": ember.tensor(0.2)}},
             "param_groups": a.state_dict()["param_groups"][:1]}
    saved["param_groups"][0] = dict(saved["param_groups"][0], params=[0])
    c.load_state_dict(saved)
    assert c.state[qa]["step"] is saved["state"][0]["step"]
    assert c.state[qa]["exp_avg"].dtype == ember.float64 and c.state[qa]["exp_avg"] is not saved["state"][0]["exp_avg"]


def test_load_state_dict_sharing_matches_torch(torch):
    (a, b), (ta, tb) = _shared_after_load(ember), _shared_after_load(torch)
    for ours, theirs in ((a, ta), (b, tb)):
        s, t = _snapshot(ours.state_dict())[0], _snapshot(theirs.state_dict())[0]
        for index in s:
            for key in s[index]:
                _assert_value_close(s[index][key], t[index][key], F32, (index, key))


def _adagrad_groups(m):
    p, q = m.nn.Parameter(m.ones(2)), m.nn.Parameter(m.tensor(0.5))
    opt = m.optim.Adagrad([{"params": [p]}, {"params": [q], "initial_accumulator_value": 0.5}], lr=0.1)
    r = m.nn.Parameter(m.ones(1))
    opt.add_param_group({"params": [r], "initial_accumulator_value": 2.0})
    for x in (p, q, r):
        x.grad = m.ones_like(x)
    opt.step()
    return [opt.state[x]["sum"].tolist() for x in (p, q, r)], [x.tolist() for x in (p, q, r)]


def test_adagrad_initial_accumulator_comes_from_the_constructor():
    sums, _ = _adagrad_groups(ember)
    assert sums == [[1.0, 1.0], 1.0, [1.0]]          # 0 + g^2 everywhere: the groups' own values are unused


def test_adagrad_initial_accumulator_matches_torch(torch):
    assert _adagrad_groups(ember) == _adagrad_groups(torch)


def _lbfgs_mixed_dtypes_reloaded(m):
    p = m.nn.Parameter(m.tensor(0.5, dtype=m.float32))
    q = m.nn.Parameter(m.tensor([0.5, -0.5], dtype=m.float64))
    opt = m.optim.LBFGS([p, q], lr=1.0, max_iter=2)

    def closure():
        opt.zero_grad()
        loss = p ** 4 + (q ** 4).sum()
        loss.backward()
        return loss
    opt.step(closure)
    fresh = m.optim.LBFGS([p, q], lr=1.0, max_iter=2)
    fresh.load_state_dict(copy.deepcopy(opt.state_dict()))    # the state takes p's dtype: float32
    with pytest.raises(RuntimeError, match="dot : expected both vectors to have same dtype, but found "):
        fresh.step(closure)
    return opt.state_dict()["state"][0]["d"].dtype


def test_lbfgs_refuses_mixed_dtype_dots_like_torch(torch):
    assert str(_lbfgs_mixed_dtypes_reloaded(ember)) == "ember.float64"
    assert str(_lbfgs_mixed_dtypes_reloaded(torch)) == "torch.float64"
