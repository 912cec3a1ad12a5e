"""optim.swa_utils: AveragedModel (SWA/EMA), SWALR, update_bn and the averaging functions, against PyTorch's
trajectories on the same weights and data, and against hand-computed values."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember import nn
from ember.optim import swa_utils


def _np(t):
    return t.detach().cpu().numpy()


def _data(seed=1, batches=4, n=6, d=4):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((n, d)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32))
            for _ in range(batches)]


def _model(lib, bn=False):
    lib.manual_seed(0)
    layers = [lib.nn.Linear(4, 8)] + ([lib.nn.BatchNorm1d(8)] if bn else []) + [lib.nn.ReLU(), lib.nn.Linear(8, 1)]
    return lib.nn.Sequential(*layers)


def _train_swa(lib, epochs=8, swa_start=3, bn=False, anneal_strategy="cos", **averaged_kwargs):
    """PyTorch's documented SWA recipe; returns (model, swa_model, lrs per epoch)."""
    model = _model(lib, bn)
    swa_model = swa_utils.AveragedModel(model, **averaged_kwargs) if lib is ember else \
        lib.optim.swa_utils.AveragedModel(model, **averaged_kwargs)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    swa_sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=3, anneal_strategy=anneal_strategy)
    lrs = []
    for epoch in range(epochs):
        for x, y in _data():
            opt.zero_grad()
            lib.nn.functional.mse_loss(model(lib.tensor(x)), lib.tensor(y)).backward()
            opt.step()
        if epoch >= swa_start:
            swa_model.update_parameters(model)
            swa_sched.step()
        else:
            sched.step()
        lrs.append(opt.param_groups[0]["lr"])
    return model, swa_model, lrs


def test_initial_weights_equal_torch(torch):
    for a, b in zip(_model(ember).parameters(), _model(torch).parameters()):
        np.testing.assert_array_equal(_np(a), _np(b))


@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swa_trajectory_matches_torch(torch, strategy):
    model_e, swa_e, lrs_e = _train_swa(ember, anneal_strategy=strategy)
    model_t, swa_t, lrs_t = _train_swa(torch, anneal_strategy=strategy)
    np.testing.assert_allclose(lrs_e, lrs_t, rtol=1e-12, atol=0)
    assert int(swa_e.n_averaged) == int(swa_t.n_averaged) == 5
    for (name_e, p_e), (name_t, p_t) in zip(swa_e.named_parameters(), swa_t.named_parameters()):
        assert name_e == name_t
        np.testing.assert_allclose(_np(p_e), _np(p_t), rtol=1e-5, atol=1e-6)
    x = _data(seed=5)[0][0]
    np.testing.assert_allclose(_np(swa_e(ember.tensor(x))), _np(swa_t(torch.tensor(x))), rtol=1e-5, atol=1e-6)


def test_swa_update_matches_torch_bitwise(torch):
    """The CPU default path is avg + (p - avg) / (n + 1) in float32: same weights in, same bits out."""
    rng = np.random.default_rng(0)
    snapshots = [rng.standard_normal((3, 5)).astype(np.float32) for _ in range(6)]
    results = []
    for lib in (ember, torch):
        model = lib.nn.Linear(5, 3, bias=False)
        avg = (swa_utils if lib is ember else lib.optim.swa_utils).AveragedModel(model)
        for w in snapshots:
            with lib.no_grad():
                model.weight.copy_(lib.tensor(w))
            avg.update_parameters(model)
        results.append(_np(avg.module.weight))
    np.testing.assert_array_equal(results[0], results[1])
    np.testing.assert_allclose(results[0], np.mean(snapshots, axis=0), rtol=1e-6, atol=1e-6)


def test_swa_mean_of_snapshots():
    """Without the oracle: the average of weights 1, 2, ..., 5 is 3; buffers follow the latest model."""
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    avg = swa_utils.AveragedModel(model)
    assert avg.n_averaged.dtype is ember.int64 and int(avg.n_averaged) == 0
    for k in range(1, 6):
        with ember.no_grad():
            for p in model.parameters():
                p.fill_(float(k))
            model[1].running_mean.fill_(10.0 * k)
        avg.update_parameters(model)
    for p in avg.module.parameters():
        np.testing.assert_allclose(_np(p), 3.0)
    np.testing.assert_array_equal(_np(avg.module[1].running_mean), [50.0, 50.0])
    assert int(avg.n_averaged) == 5
    # the averaged copy is independent of the source model
    assert avg.module[0].weight is not model[0].weight
    assert avg.module[0].weight.requires_grad


def test_state_dict_keys_and_values(torch):
    _, swa_e, _ = _train_swa(ember, epochs=5, swa_start=2, bn=True)
    _, swa_t, _ = _train_swa(torch, epochs=5, swa_start=2, bn=True)
    sd_e, sd_t = swa_e.state_dict(), swa_t.state_dict()
    assert list(sd_e) == list(sd_t)
    assert list(sd_e)[:3] == ["n_averaged", "module.0.weight", "module.0.bias"]
    for key in sd_t:
        assert sd_e[key].dtype.itemsize == sd_t[key].dtype.itemsize
        np.testing.assert_allclose(_np(sd_e[key]), _np(sd_t[key]), rtol=1e-5, atol=1e-6, err_msg=key)
    # a torch state_dict loads into ember's AveragedModel
    fresh = swa_utils.AveragedModel(_model(ember, bn=True))
    fresh.load_state_dict({k: ember.tensor(v.numpy()) for k, v in sd_t.items()})
    assert int(fresh.n_averaged) == 3
    np.testing.assert_array_equal(_np(fresh.module[0].weight), sd_t["module.0.weight"].numpy())


def test_use_buffers_averages_bn_stats(torch):
    _, swa_e, _ = _train_swa(ember, epochs=5, swa_start=1, bn=True, use_buffers=True)
    _, swa_t, _ = _train_swa(torch, epochs=5, swa_start=1, bn=True, use_buffers=True)
    for (name, b_e), (_, b_t) in zip(swa_e.module.named_buffers(), swa_t.module.named_buffers()):
        assert b_e.dtype.is_floating_point == b_t.dtype.is_floating_point, name
        np.testing.assert_allclose(_np(b_e), _np(b_t), rtol=1e-5, atol=1e-6, err_msg=name)
    # num_batches_tracked is averaged as an integer (true division, then truncated on copy)
    assert swa_e.module[1].num_batches_tracked.dtype is ember.int64


@pytest.mark.parametrize("decay", [0.9, 0.3])
@pytest.mark.parametrize("kind", ["multi", "single"])
def test_ema_matches_torch(torch, decay, kind):
    outs = []
    for lib in (ember, torch):
        su = swa_utils if lib is ember else lib.optim.swa_utils
        kw = {"multi_avg_fn": su.get_ema_multi_avg_fn(decay)} if kind == "multi" else \
            {"avg_fn": su.get_ema_avg_fn(decay)}
        _, ema, _ = _train_swa(lib, epochs=6, swa_start=0, bn=True, use_buffers=True, **kw)
        outs.append({k: _np(v) for k, v in ema.state_dict().items()})
    assert list(outs[0]) == list(outs[1])
    for key in outs[1]:
        np.testing.assert_allclose(outs[0][key], outs[1][key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_ema_hand_values():
    """EMA with decay 0.5 over weights 0, 4, 8: 0 -> 2 -> 5 (the first update copies)."""
    model = nn.Linear(1, 1, bias=False)
    avg = swa_utils.AveragedModel(model, multi_avg_fn=swa_utils.get_ema_multi_avg_fn(0.5))
    single = swa_utils.AveragedModel(model, avg_fn=swa_utils.get_ema_avg_fn(0.5))
    for value, expected in ((0.0, 0.0), (4.0, 2.0), (8.0, 5.0)):
        with ember.no_grad():
            model.weight.fill_(value)
        avg.update_parameters(model)
        single.update_parameters(model)
        assert avg.module.weight.item() == expected
        assert single.module.weight.item() == expected


def test_swa_multi_avg_fn_matches_torch(torch):
    rng = np.random.default_rng(3)
    ws = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(5)]
    outs = []
    for lib in (ember, torch):
        su = swa_utils if lib is ember else lib.optim.swa_utils
        model = lib.nn.Linear(3, 4)
        avg = su.AveragedModel(model, multi_avg_fn=su.get_swa_multi_avg_fn())
        for w in ws:
            with lib.no_grad():
                model.weight.copy_(lib.tensor(w))
            avg.update_parameters(model)
        outs.append(_np(avg.module.weight))
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(outs[0], np.mean(ws, axis=0), rtol=1e-5, atol=1e-6)


def test_averaging_functions_direct(torch):
    a, b = np.array([1.0, 2.0], np.float32), np.array([3.0, 6.0], np.float32)
    for lib in (ember, torch):
        su = swa_utils if lib is ember else lib.optim.swa_utils
        np.testing.assert_allclose(_np(su.get_swa_avg_fn()(lib.tensor(a), lib.tensor(b), 1)), [2.0, 4.0])
        np.testing.assert_allclose(_np(su.get_ema_avg_fn(0.75)(lib.tensor(a), lib.tensor(b), 7)), [1.5, 3.0])
        xs, ys = [lib.tensor(a)], [lib.tensor(b)]
        su.get_swa_multi_avg_fn()(xs, ys, 3)
        np.testing.assert_allclose(_np(xs[0]), [1.5, 3.0])
        ints = [lib.tensor([10, 20])]
        su.get_ema_multi_avg_fn(0.5)(ints, [lib.tensor([0, 0])], 1)
        np.testing.assert_array_equal(_np(ints[0]), [5, 10])
        with pytest.raises(RuntimeError, match="Integer division with addcdiv is no longer supported"):
            su.get_swa_multi_avg_fn()([lib.tensor([1])], [lib.tensor([2])], lib.tensor(1))


def test_update_bn_matches_torch(torch):
    rng = np.random.default_rng(7)
    batches = [rng.standard_normal((5, 4)).astype(np.float32) * 3 + 1 for _ in range(4)]
    stats = []
    for lib in (ember, torch):
        su = swa_utils if lib is ember else lib.optim.swa_utils
        model = _model(lib, bn=True)
        model.eval()
        model[1].momentum = 0.3
        # batches as tensors, and as (input, target) pairs
        loader = [lib.tensor(b) for b in batches[:2]] + [(lib.tensor(b), lib.zeros(5)) for b in batches[2:]]
        su.update_bn(loader, model)
        assert model[1].momentum == 0.3 and not model.training
        bn = model[1]
        stats.append([_np(bn.running_mean), _np(bn.running_var), int(bn.num_batches_tracked)])
    np.testing.assert_allclose(stats[0][0], stats[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats[0][1], stats[1][1], rtol=1e-5, atol=1e-6)
    assert stats[0][2] == stats[1][2] == 4


def test_update_bn_cumulative_average():
    """Without the oracle: running_mean is the mean over batches of each batch's mean."""
    bn = nn.BatchNorm1d(2, momentum=0.5)
    batches = [ember.tensor([[1.0, 2.0], [3.0, 4.0]]), ember.tensor([[5.0, -2.0], [7.0, 0.0]])]
    swa_utils.update_bn(batches, nn.Sequential(bn), device="cpu")
    np.testing.assert_allclose(_np(bn.running_mean), [4.0, 1.0])
    assert bn.momentum == 0.5 and bn.training
    model = nn.Linear(2, 2)                      # no BatchNorm: nothing runs, nothing changes
    model.eval()
    swa_utils.update_bn([None], model)
    assert not model.training


def test_swalr_values_and_state_dict(torch):
    for lr, swa_lr, epochs, strategy in ((1.0, 0.1, 4, "cos"), (0.5, [0.2, 0.05], 0, "linear"),
                                         (0.2, 0.3, 2, "linear")):
        seqs, sds = [], []
        for lib in (ember, torch):
            p1, p2 = lib.nn.Parameter(lib.zeros(2)), lib.nn.Parameter(lib.zeros(2))
            opt = lib.optim.SGD([{"params": [p1]}, {"params": [p2], "lr": lr / 2}], lr=lr)
            sched = lib.optim.swa_utils.SWALR(opt, swa_lr, anneal_epochs=epochs, anneal_strategy=strategy)
            seq = [[g["lr"] for g in opt.param_groups]]
            for _ in range(6):
                opt.step()
                sched.step()
                seq.append(sched.get_last_lr())
            seqs.append(seq)
            sds.append(sched.state_dict())
        np.testing.assert_allclose(seqs[0], seqs[1], rtol=1e-13, atol=0)
        assert sorted(sds[0]) == sorted(sds[1])
        assert sds[0]["_anneal_strategy"] == strategy and "anneal_func" not in sds[0]


def test_swalr_hand_values():
    p = nn.Parameter(ember.zeros(1))
    opt = ember.optim.SGD([p], lr=1.0)
    sched = swa_utils.SWALR(opt, swa_lr=0.0, anneal_epochs=2, anneal_strategy="cos")
    assert opt.param_groups[0]["swa_lr"] == 0.0
    assert opt.param_groups[0]["lr"] == 1.0
    got = []
    for _ in range(3):
        opt.step()
        sched.step()
        got.append(opt.param_groups[0]["lr"])
    assert got[0] == pytest.approx((1 + math.cos(math.pi / 2)) / 2) and got[1:] == [0.0, 0.0]
    # state_dict round trip restores the anneal function
    sd = sched.state_dict()
    other = swa_utils.SWALR(opt, swa_lr=0.0, anneal_strategy="linear")
    other.load_state_dict(sd)
    assert other.anneal_func is swa_utils.SWALR._cosine_anneal and other.anneal_epochs == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sched.get_lr()
    assert "get_last_lr()" in str(caught[0].message)


def test_errors_match_torch(torch):
    for lib in (ember, torch):
        su = swa_utils if lib is ember else lib.optim.swa_utils
        model = lib.nn.Linear(2, 2)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
            su.AveragedModel(model, avg_fn=su.get_swa_avg_fn(), multi_avg_fn=su.get_swa_multi_avg_fn())
        for fn in (su.get_ema_avg_fn, su.get_ema_multi_avg_fn):
            with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in "
                                                 r"\[0,1\] range."):
                fn(1.5)
        with pytest.raises(ValueError, match="anneal_strategy must be one of 'cos' or 'linear', instead got exp"):
            su.SWALR(opt, 0.05, anneal_strategy="exp")
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got -1"):
            su.SWALR(opt, 0.05, anneal_epochs=-1)
        with pytest.raises(ValueError, match="anneal_epochs must be equal or greater than 0, got 1.5"):
            su.SWALR(opt, 0.05, anneal_epochs=1.5)
        with pytest.raises(ValueError, match="swa_lr must have the same length as optimizer.param_groups"):
            su.SWALR(opt, [0.05, 0.01])
        avg = su.AveragedModel(lib.nn.Sequential(lib.nn.Linear(2, 2), lib.nn.BatchNorm1d(2)))
        with pytest.raises(ValueError, match="zip\\(\\) argument 2 is shorter than argument 1"):
            avg.update_parameters(lib.nn.Linear(2, 2))


def test_repr_and_forward_match_torch(torch):
    e = swa_utils.AveragedModel(_model(ember))
    t = torch.optim.swa_utils.AveragedModel(_model(torch))
    assert repr(e) == repr(t)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_allclose(_np(e(ember.tensor(x))), _np(t(torch.tensor(x))), rtol=1e-6)
    assert sorted(swa_utils.__all__) == sorted(torch.optim.swa_utils.__all__)
    on_cpu = swa_utils.AveragedModel(_model(ember), device="cpu")
    assert on_cpu.n_averaged.device.type == "cpu" and on_cpu.module[0].weight.device.type == "cpu"
    assert "swa_utils" in ember.optim.__all__ and ember.optim.swa_utils is swa_utils
