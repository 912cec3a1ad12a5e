"""lr_scheduler vs PyTorch: the lr (and momentum) sequence over 200 steps, state_dict round trips, warnings."""
import math
import warnings

import pytest

import ember


def _sched(m):
    return m.optim.lr_scheduler


# name -> (optimizer kind, builder(m, opt)); the sequences must equal PyTorch's exactly
SCHEDULERS = {
    "LambdaLR": ("sgd", lambda m, o: _sched(m).LambdaLR(o, lambda e: 0.95 ** e + 0.01 * (e % 7))),
    "LambdaLR-per-group": ("sgd2", lambda m, o: _sched(m).LambdaLR(o, [lambda e: 1 / (1 + e), lambda e: 0.99 ** e])),
    "MultiplicativeLR": ("sgd", lambda m, o: _sched(m).MultiplicativeLR(o, lambda e: 0.97 if e % 3 else 1.01)),
    "StepLR": ("sgd", lambda m, o: _sched(m).StepLR(o, step_size=30, gamma=0.3)),
    "MultiStepLR": ("sgd2", lambda m, o: _sched(m).MultiStepLR(o, milestones=[20, 50, 50, 120], gamma=0.5)),
    "ConstantLR": ("sgd", lambda m, o: _sched(m).ConstantLR(o, factor=0.25, total_iters=40)),
    "LinearLR": ("sgd", lambda m, o: _sched(m).LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=77)),
    "ExponentialLR": ("sgd", lambda m, o: _sched(m).ExponentialLR(o, gamma=0.987)),
    "PolynomialLR": ("sgd", lambda m, o: _sched(m).PolynomialLR(o, total_iters=150, power=2.5)),
    "CosineAnnealingLR": ("sgd2", lambda m, o: _sched(m).CosineAnnealingLR(o, T_max=45, eta_min=1e-4)),
    "CosineAnnealingWarmRestarts": ("sgd", lambda m, o: _sched(m).CosineAnnealingWarmRestarts(o, T_0=10, T_mult=2,
                                                                                             eta_min=0.001)),
    "CyclicLR-triangular": ("sgd", lambda m, o: _sched(m).CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=17)),
    "CyclicLR-triangular2": ("sgd2", lambda m, o: _sched(m).CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.1,
                                                                      step_size_up=10, step_size_down=25,
                                                                      mode="triangular2")),
    "CyclicLR-exp_range-adam": ("adam", lambda m, o: _sched(m).CyclicLR(o, base_lr=0.001, max_lr=0.01, step_size_up=13,
                                                                         mode="exp_range", gamma=0.99,
                                                                         base_momentum=0.85, max_momentum=0.95)),
    "CyclicLR-scale_fn": ("sgd", lambda m, o: _sched(m).CyclicLR(o, 0.01, 0.1, step_size_up=9, cycle_momentum=False,
                                                                  scale_fn=lambda x: 1 / (1 + x),
                                                                  scale_mode="iterations")),
    "OneCycleLR-cos": ("sgd", lambda m, o: _sched(m).OneCycleLR(o, max_lr=0.5, total_steps=200)),
    "OneCycleLR-linear-3phase": ("adam", lambda m, o: _sched(m).OneCycleLR(o, max_lr=[0.01], epochs=4,
                                                                            steps_per_epoch=50, pct_start=0.25,
                                                                            anneal_strategy="linear",
                                                                            three_phase=True)),
    "SequentialLR": ("sgd", lambda m, o: _sched(m).SequentialLR(o, [
        _sched(m).LinearLR(o, start_factor=0.1, total_iters=20),
        _sched(m).ExponentialLR(o, gamma=0.98),
        _sched(m).CosineAnnealingLR(o, T_max=30)], milestones=[20, 90])),
    "ChainedScheduler": ("sgd2", lambda m, o: _sched(m).ChainedScheduler([
        _sched(m).ConstantLR(o, factor=0.5, total_iters=10),
        _sched(m).ExponentialLR(o, gamma=0.99),
        _sched(m).StepLR(o, step_size=25, gamma=0.5)])),
}


def make_optimizer(m, kind):
    p, q = m.zeros(2, requires_grad=True), m.zeros(3, requires_grad=True)
    if kind == "adam":
        return m.optim.Adam([p, q], lr=0.01)
    if kind == "sgd2":
        return m.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=0.1, momentum=0.9)
    return m.optim.SGD([p, q], lr=0.1, momentum=0.9)


def run(m, name, steps=200, start=None):
    kind, build = SCHEDULERS[name]
    opt = make_optimizer(m, kind)
    sched = build(m, opt)
    seen = [_snapshot(sched, opt)]
    for _ in range(steps):
        opt.step()
        sched.step()
        seen.append(_snapshot(sched, opt))
    return seen, opt, sched


def _snapshot(sched, opt):
    momenta = [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]
    return list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups], momenta


@pytest.mark.parametrize("name", SCHEDULERS)
def test_sequence_matches_torch(torch, name):
    ours, _, _ = run(ember, name)
    theirs, _, _ = run(torch, name)
    assert ours == theirs                          # exact, step for step (float64 Python floats)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_dict_matches_torch(torch, name):
    ours, theirs = run(ember, name, steps=5)[2].state_dict(), run(torch, name, steps=5)[2].state_dict()
    assert ours.keys() == theirs.keys()
    for key in ours.keys() - {"lr_lambdas", "_schedulers", "_scale_fn_custom"}:
        assert ours[key] == theirs[key], key


@pytest.mark.parametrize("name", SCHEDULERS)
def test_state_dict_round_trip(name):
    full, _, _ = run(ember, name, steps=120)
    _, opt, sched = run(ember, name, steps=60)
    saved_sched, saved_opt = sched.state_dict(), opt.state_dict()
    kind, build = SCHEDULERS[name]
    opt2 = make_optimizer(ember, kind)
    sched2 = build(ember, opt2)
    opt2.load_state_dict(saved_opt)
    sched2.load_state_dict(saved_sched)
    resumed = []
    for _ in range(60):
        opt2.step()
        sched2.step()
        resumed.append(_snapshot(sched2, opt2))
    assert resumed == full[61:]


def test_reduce_lr_on_plateau_matches_torch(torch):
    metrics = [1 / (1 + i) if i < 40 else 0.025 + 0.001 * math.sin(i) for i in range(200)]
    configs = [dict(), dict(mode="max", factor=0.5, patience=3, cooldown=2, threshold_mode="abs"),
               dict(patience=5, threshold=0.1, min_lr=[0.02, 0.05], eps=1e-3)]
    for kwargs in configs:
        seqs = []
        for m in (ember, torch):
            opt = make_optimizer(m, "sgd2")
            sched = m.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
            seq = []
            for value in metrics:
                opt.step()
                sched.step(value)
                seq.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter, sched.best))
            seqs.append(seq)
        assert seqs[0] == seqs[1], kwargs


def test_reduce_lr_on_plateau_accepts_a_tensor_metric():
    opt = make_optimizer(ember, "sgd")
    sched = ember.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    for value in (1.0, 2.0, 3.0):
        sched.step(ember.tensor(value))
    assert sched.get_last_lr() == [pytest.approx(0.001)]


def test_warns_when_scheduler_steps_before_optimizer():
    opt = make_optimizer(ember, "sgd")
    sched = ember.optim.lr_scheduler.StepLR(opt, 3)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        sched.step()
    opt = make_optimizer(ember, "sgd")
    sched = ember.optim.lr_scheduler.StepLR(opt, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()


def test_warns_when_optimizer_step_is_replaced():
    opt = make_optimizer(ember, "sgd")
    sched = ember.optim.lr_scheduler.ExponentialLR(opt, 0.9)
    opt.step = lambda closure=None: None
    with pytest.warns(UserWarning, match="has been overridden"):
        sched.step()


def test_epoch_argument_uses_closed_form_and_warns(torch):
    out = []
    for m in (ember, torch):
        opt = make_optimizer(m, "sgd")
        sched = m.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        opt.step()
        with pytest.warns(UserWarning, match="epoch parameter"):
            sched.step(7)
        out.append(sched.get_last_lr())
    assert out[0] == out[1] == [0.1 * 0.5 ** 2]


def test_get_lr_outside_step_warns():
    sched = ember.optim.lr_scheduler.StepLR(make_optimizer(ember, "sgd"), 3)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_resume_with_last_epoch_needs_initial_lr():
    opt = make_optimizer(ember, "sgd")
    with pytest.raises(KeyError, match="initial_lr"):
        ember.optim.lr_scheduler.StepLR(opt, 3, last_epoch=5)


@pytest.mark.parametrize("build, error", [
    (lambda m, o: m.optim.lr_scheduler.ConstantLR(o, factor=2.0), ValueError),
    (lambda m, o: m.optim.lr_scheduler.LinearLR(o, start_factor=0), ValueError),
    (lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.5), ValueError),
    (lambda m, o: m.optim.lr_scheduler.ReduceLROnPlateau(o, mode="up"), ValueError),
    (lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), ValueError),
    (lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1), ValueError),
    (lambda m, o: m.optim.lr_scheduler.CyclicLR(o, 0.1, 1.0, mode="sawtooth"), ValueError),
    (lambda m, o: m.optim.lr_scheduler.StepLR("not an optimizer", 3), TypeError),
    (lambda m, o: m.optim.lr_scheduler.SequentialLR(o, [m.optim.lr_scheduler.StepLR(o, 3)], milestones=[3]),
     ValueError),
    (lambda m, o: m.optim.lr_scheduler.CyclicLR(m.optim.Adagrad([m.zeros(1, requires_grad=True)]), 0.1, 1.0),
     ValueError),
])
def test_errors_match_torch(torch, build, error):
    for m in (torch, ember):
        with pytest.raises(error):
            build(m, make_optimizer(m, "sgd"))


def test_lr_held_in_a_tensor_is_updated_in_place():
    p = ember.zeros(2, requires_grad=True)
    lr = ember.tensor(0.1)
    opt = ember.optim.SGD([p], lr=lr)
    sched = ember.optim.lr_scheduler.ExponentialLR(opt, 0.5)
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] is lr and lr.item() == pytest.approx(0.05)
