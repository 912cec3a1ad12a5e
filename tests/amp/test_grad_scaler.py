"""ember.amp.GradScaler against torch.amp.GradScaler: the same decisions on the same gradients (scale, growth
tracker, skipped steps, parameters) over a training loop with injected inf and nan gradients; its errors,
state_dict, pickling, disabled and CUDA-less behaviour, and the deprecated ember.cuda/cpu.amp.GradScaler."""
import math
import pickle
import warnings

import numpy as np
import pytest

import ember


def _scaler(m, **kwargs):
    return m.amp.GradScaler("cpu", **kwargs)


def _model(m, weights):
    model = m.nn.Sequential(m.nn.Linear(3, 4), m.nn.Tanh(), m.nn.Linear(4, 2))
    model.load_state_dict({k: m.tensor(v) for k, v in weights.items()})
    return model


@pytest.fixture
def weights():
    rng = np.random.default_rng(0)
    return {"0.weight": rng.standard_normal((4, 3)).astype(np.float32),
            "0.bias": rng.standard_normal(4).astype(np.float32),
            "2.weight": rng.standard_normal((2, 4)).astype(np.float32),
            "2.bias": rng.standard_normal(2).astype(np.float32)}


# step -> what goes wrong in that step's gradients
INJECT = {2: "inf", 3: "nan", 7: "-inf", 8: "inf", 9: "inf"}


def _train(m, weights, steps=14, unscale_and_clip=False, autocast=False, **kwargs):
    """Per step: (scale, growth tracker, whether optimizer.step ran, parameters) after scaler.update()."""
    model = _model(m, weights)
    opt = m.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scaler = _scaler(m, init_scale=2.0 ** 10, growth_factor=2.0, backoff_factor=0.25, growth_interval=3, **kwargs)
    rng = np.random.default_rng(1)
    history = []
    for step in range(steps):
        x, y = (m.tensor(rng.standard_normal(s).astype(np.float32)) for s in [(5, 3), (5, 2)])
        opt.zero_grad()
        if autocast:
            with m.autocast("cpu"):
                loss = m.nn.functional.mse_loss(model(x), y)
        else:
            loss = m.nn.functional.mse_loss(model(x), y)
        scaler.scale(loss).backward()
        if step in INJECT:
            with m.no_grad():
                model[0].weight.grad[1, 2] = float(INJECT[step])
        if unscale_and_clip:
            scaler.unscale_(opt)
            m.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        before = [p.detach().clone() for p in model.parameters()]
        scaler.step(opt)
        stepped = any(not m.equal(b, p) for b, p in zip(before, model.parameters()))
        scaler.update()
        history.append((scaler.get_scale(), scaler._get_growth_tracker(), stepped,
                        [np.asarray(p.detach().numpy()) for p in model.parameters()]))
    return history


@pytest.mark.parametrize("unscale_and_clip", [False, True])
@pytest.mark.parametrize("autocast", [False, True])
def test_training_loop_with_inf_gradients_matches_torch(torch, weights, unscale_and_clip, autocast):
    want = _train(torch, weights, unscale_and_clip=unscale_and_clip, autocast=autocast)
    got = _train(ember, weights, unscale_and_clip=unscale_and_clip, autocast=autocast)
    tol = 3e-2 if autocast else 1e-5
    for step, (g, w) in enumerate(zip(got, want)):
        assert g[:3] == w[:3], f"step {step}: (scale, tracker, stepped) {g[:3]} != torch's {w[:3]}"
        for a, b in zip(g[3], w[3]):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"step {step}")
    # ember's own expectations: the skipped steps are the injected ones, the scale backs off on each
    assert [not s for _, _, s, _ in got] == [step in INJECT for step in range(len(got))]
    assert got[2][0] == 2.0 ** 10 * 0.25 and got[0][1] == 1 and got[1][1] == 2


def test_scale_grows_after_growth_interval_and_keeps_a_finite_scale(torch):
    """_amp_update_scale_: the grown scale is taken in double, stored in float32, and dropped if not finite."""
    for init, growth, interval in [(3.0, 1.1, 1), (3.0e38, 2.0, 2), (2.0 ** 16, 2.0, 2000)]:
        results = []
        for m in (torch, ember):
            scaler = _scaler(m, init_scale=init, growth_factor=growth, growth_interval=interval)
            p = m.zeros(2, requires_grad=True)
            opt = m.optim.SGD([p], lr=0.1)
            trace = []
            for _ in range(4):
                scaler.scale((p * 2).sum()).backward()
                scaler.step(opt)
                scaler.update()
                trace.append((scaler.get_scale(), scaler._get_growth_tracker()))
            results.append(trace)
        assert results[0] == results[1]
        assert all(math.isfinite(s) for s, _ in results[1])


def test_update_with_new_scale(torch):
    for m in (torch, ember):
        scaler = _scaler(m)
        p = m.ones(2, requires_grad=True)
        opt = m.optim.SGD([p], lr=0.1)
        scaler.scale(p.sum()).backward()
        scaler.step(opt)
        scaler.update(4.0)
        assert scaler.get_scale() == 4.0
        scaler.update(m.tensor(8.0))
        assert scaler.get_scale() == 8.0
        for bad in (m.tensor([1.0, 2.0]), m.tensor(2.0, requires_grad=True)):
            with pytest.raises(AssertionError, match="new_scale should be a float or a 1-element"):
                scaler.update(bad)


def test_scale_of_iterables_and_errors(torch):
    for m in (torch, ember):
        scaler = _scaler(m, init_scale=4.0)
        a, b = m.ones(2), m.ones(3, dtype=m.bfloat16)
        out = scaler.scale([a, (b, a)])
        assert isinstance(out, list) and isinstance(out[1], tuple)
        assert out[0].tolist() == [4.0, 4.0] and out[1][0].dtype is m.bfloat16
        assert [t.tolist() for t in scaler.scale(iter([a]))] == [[4.0, 4.0]]
        assert scaler.scale(m.tensor(2.0)).item() == 8.0
        with pytest.raises(ValueError, match="outputs must be a Tensor or an iterable of Tensors"):
            scaler.scale([a, 3])


@pytest.mark.parametrize("misuse", ["unscale_twice", "unscale_after_step", "step_twice", "closure", "fp16_grads",
                                    "no_scale", "update_without_step", "bad_growth", "bad_backoff"])
def test_misuse_raises_as_torch(torch, misuse):
    def run(m):
        if misuse == "bad_growth":
            return _scaler(m, growth_factor=1.0)
        if misuse == "bad_backoff":
            return _scaler(m, backoff_factor=1.0)
        scaler = _scaler(m)
        p = m.ones(2, dtype=m.float16 if misuse == "fp16_grads" else m.float32, requires_grad=True)
        opt = m.optim.SGD([p], lr=0.1)
        if misuse == "no_scale":
            return scaler.step(opt)
        scaler.scale(p.float().sum()).backward()
        if misuse == "update_without_step":
            return scaler.update()
        if misuse == "closure":
            return scaler.step(opt, closure=lambda: 0.0)
        if misuse == "fp16_grads":
            return scaler.unscale_(opt)
        if misuse == "unscale_twice":
            scaler.unscale_(opt)
            return scaler.unscale_(opt)
        scaler.step(opt)
        return scaler.unscale_(opt) if misuse == "unscale_after_step" else scaler.step(opt)
    with pytest.raises(Exception) as want:
        run(torch)
    with pytest.raises(want.type) as got:
        run(ember)
    assert str(got.value) == str(want.value)


def test_getters_setters_state_dict_and_pickle(torch):
    dicts = []
    for m in (torch, ember):
        scaler = _scaler(m, init_scale=128.0, growth_interval=5)
        assert (scaler.get_scale(), scaler.get_growth_factor(), scaler.get_backoff_factor(),
                scaler.get_growth_interval(), scaler.is_enabled()) == (128.0, 2.0, 0.5, 5, True)
        scaler.set_growth_factor(3.0)
        scaler.set_backoff_factor(0.125)
        scaler.set_growth_interval(7)
        p = m.ones(2, requires_grad=True)
        opt = m.optim.SGD([p], lr=0.1)
        scaler.scale(p.sum()).backward()
        scaler.step(opt)
        scaler.update()
        state = scaler.state_dict()
        dicts.append(state)
        copy = pickle.loads(pickle.dumps(scaler))
        assert copy.state_dict() == state and copy._scale is None
        other = _scaler(m)
        other.load_state_dict(state)
        assert other.state_dict() == state
        with pytest.raises(RuntimeError, match="The source state dict is empty"):
            other.load_state_dict({})
        scaler.scale(p.sum())                                    # mid-iteration: no pickling
        scaler.unscale_(opt)
        with pytest.raises(AssertionError, match="may only be pickled at the beginning"):
            pickle.dumps(scaler)
    assert dicts[0] == dicts[1] == {"scale": 128.0, "growth_factor": 3.0, "backoff_factor": 0.125,
                                    "growth_interval": 7, "_growth_tracker": 1}


def test_disabled_scaler_passes_through(torch):
    for m in (torch, ember):
        scaler = _scaler(m, enabled=False)
        p = m.ones(2, requires_grad=True)
        opt = m.optim.SGD([p], lr=0.5)
        loss = p.sum()
        assert scaler.scale(loss) is loss
        loss.backward()
        scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        assert p.tolist() == [0.5, 0.5]
        assert scaler.get_scale() == 1.0 and scaler.state_dict() == {} and not scaler.is_enabled()
        scaler.load_state_dict({})


def test_default_cuda_device_without_gpu_warns_and_disables(torch):
    if ember.cuda.is_available() or torch.cuda.is_available():
        pytest.skip("a GPU is present")
    records = []
    for m in (torch, ember):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scaler = m.amp.GradScaler()
            deprecated = m.cuda.amp.GradScaler()
        assert not scaler.is_enabled() and not deprecated.is_enabled()
        records.append([(w.category, str(w.message)) for w in caught])
    assert records[0] == records[1]
    assert records[1][0] == (UserWarning, "torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  "
                                          "Disabling.")


def test_unscale_divides_by_the_scale_and_reports_infs():
    scaler = _scaler(ember, init_scale=8.0)
    p = ember.ones(3, requires_grad=True)
    q = ember.ones(2, dtype=ember.bfloat16, requires_grad=True)
    opt = ember.optim.SGD([p, q], lr=1.0)
    scaler.scale((p * ember.tensor([1.0, 2.0, 3.0])).sum() + q.float().sum()).backward()
    assert p.grad.tolist() == [8.0, 16.0, 24.0]
    scaler.unscale_(opt)
    assert p.grad.tolist() == [1.0, 2.0, 3.0] and q.grad.dtype is ember.bfloat16 and q.grad.tolist() == [1.0, 1.0]
    [found] = scaler._found_inf_per_device(opt).values()
    assert found.item() == 0.0
    assert scaler.step(opt) is None and p.tolist() == [0.0, -1.0, -2.0]
