"""Conv, pooling, padding, upsampling, pixel-shuffle and fold layers against PyTorch: state_dicts copied
across, outputs and every gradient compared (train and eval), reprs, default init and errors."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn


def _load_from_torch(module, torch_module):
    state = torch_module.state_dict()
    assert list(module.state_dict()) == list(state)
    for key, value in module.state_dict().items():
        assert tuple(value.shape) == tuple(state[key].shape), key
    module.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in state.items()})


def _oracle(torch, build, shapes, train=True, dtype="float64", call=None, atol=1e-10, seed=0):
    """Build the layer in both libraries, copy torch's weights, compare outputs and all gradients."""
    torch.manual_seed(seed)
    theirs = build(torch.nn).to(getattr(torch, dtype))
    ours = build(nn).to(getattr(ember, dtype))
    _load_from_torch(ours, theirs)
    theirs.train(train)
    ours.train(train)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    xs = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    call = call or (lambda module, *inputs: module(*inputs))
    out, expected = call(ours, *xs), call(theirs, *ts)
    out, expected = (out[0], expected[0]) if isinstance(out, tuple) else (out, expected)
    assert out.dtype is getattr(ember, dtype)
    np.testing.assert_allclose(out.detach().numpy(), expected.detach().numpy(), atol=atol, rtol=1e-6)
    weights = np.cos(np.arange(expected.numel())).reshape(tuple(expected.shape)).astype(dtype)
    (out * ember.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for a, b in zip(xs, ts):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol, rtol=1e-6)
    reference = dict(theirs.named_parameters())
    for name, param in ours.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), reference[name].grad.numpy(), atol=atol, rtol=1e-6,
                                   err_msg=name)
    return ours, theirs


CONV_MODULES = [
    ("Conv1d", lambda nn: nn.Conv1d(3, 4, 3, stride=2, padding=1), [(2, 3, 9)]),
    ("Conv1d-same-circular", lambda nn: nn.Conv1d(3, 4, 4, padding="same", padding_mode="circular"), [(2, 3, 9)]),
    ("Conv2d", lambda nn: nn.Conv2d(3, 4, 3), [(2, 3, 7, 6)]),
    ("Conv2d-full", lambda nn: nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
     [(2, 4, 8, 7)]),
    ("Conv2d-nobias-valid", lambda nn: nn.Conv2d(3, 2, 2, padding="valid", bias=False), [(2, 3, 5, 5)]),
    ("Conv2d-reflect", lambda nn: nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), [(2, 3, 6, 5)]),
    ("Conv2d-replicate", lambda nn: nn.Conv2d(3, 4, 3, padding=(2, 1), padding_mode="replicate"), [(2, 3, 6, 5)]),
    ("Conv2d-circular-same", lambda nn: nn.Conv2d(3, 4, (3, 4), padding="same", padding_mode="circular"),
     [(2, 3, 6, 5)]),
    ("Conv2d-unbatched", lambda nn: nn.Conv2d(3, 4, 3, padding=1), [(3, 5, 5)]),
    ("Conv3d", lambda nn: nn.Conv3d(2, 3, (2, 3, 2), stride=(1, 2, 1), padding=1), [(2, 2, 4, 5, 4)]),
    ("ConvTranspose1d", lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, output_padding=1), [(2, 3, 5)]),
    ("ConvTranspose2d", lambda nn: nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, groups=2, dilation=2),
     [(2, 4, 4, 5)]),
    ("ConvTranspose2d-nobias", lambda nn: nn.ConvTranspose2d(3, 2, (2, 3), stride=(2, 1), bias=False),
     [(2, 3, 4, 4)]),
]


@pytest.mark.parametrize("name,build,shapes", CONV_MODULES, ids=[c[0] for c in CONV_MODULES])
def test_conv_module_matches_torch(torch, name, build, shapes):
    _oracle(torch, build, shapes)


def test_conv_module_float32(torch):
    _oracle(torch, lambda nn: nn.Conv2d(3, 8, 3, padding=1), [(4, 3, 10, 10)], dtype="float32", atol=2e-5)
    _oracle(torch, lambda nn: nn.ConvTranspose2d(3, 5, 3, stride=2), [(2, 3, 5, 5)], dtype="float32", atol=2e-5)


def test_conv_transpose_output_size(torch):
    call = (lambda m, x: m(x, output_size=[9, 10]))
    _oracle(torch, lambda nn: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1), [(1, 3, 5, 5)], call=call)
    with pytest.raises(ValueError, match="requested an output size of"):
        nn.ConvTranspose2d(3, 2, 3, stride=2)(ember.ones(1, 3, 5, 5), output_size=[20, 20])


CONV_REPRS = [
    lambda nn: nn.Conv2d(3, 4, 3),
    lambda nn: nn.Conv2d(4, 4, (3, 2), stride=2, padding=1, dilation=2, groups=2, bias=False, padding_mode="reflect"),
    lambda nn: nn.Conv1d(2, 3, 3, padding="same"),
    lambda nn: nn.Conv3d(2, 3, 3),
    lambda nn: nn.ConvTranspose2d(3, 4, 3, stride=2, output_padding=1),
    lambda nn: nn.MaxPool2d(2),
    lambda nn: nn.MaxPool1d(3, 2, 1, return_indices=True, ceil_mode=True),
    lambda nn: nn.AvgPool1d(3),
    lambda nn: nn.AvgPool2d(2, divisor_override=3),
    lambda nn: nn.AdaptiveAvgPool2d((3, None)),
    lambda nn: nn.AdaptiveMaxPool2d(2, True),
    lambda nn: nn.MaxUnpool2d(2),
    lambda nn: nn.LPPool2d(2, 3),
    lambda nn: nn.ZeroPad2d(1),
    lambda nn: nn.ZeroPad1d((1, 2)),
    lambda nn: nn.ConstantPad2d(1, 3.5),
    lambda nn: nn.ReflectionPad2d(2),
    lambda nn: nn.ReplicationPad1d((1, 2)),
    lambda nn: nn.CircularPad2d(1),
    lambda nn: nn.Upsample(scale_factor=2),
    lambda nn: nn.Upsample(size=(3, 4), mode="bilinear"),
    lambda nn: nn.UpsamplingNearest2d(scale_factor=2),
    lambda nn: nn.UpsamplingBilinear2d(size=3),
    lambda nn: nn.PixelShuffle(2),
    lambda nn: nn.PixelUnshuffle(3),
    lambda nn: nn.Fold((4, 5), 2),
    lambda nn: nn.Unfold(2, padding=1),
    lambda nn: nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)),
    lambda nn: nn.ChannelShuffle(2),
    lambda nn: nn.LPPool3d(2, 2),
]


@pytest.mark.parametrize("build", CONV_REPRS)
def test_repr_matches_torch(torch, build):
    assert repr(build(nn)) == repr(build(torch.nn))


def test_conv_default_init_follows_torch_recipe():
    conv = nn.Conv2d(16, 8, 3)
    bound = 1 / math.sqrt(16 * 9)                        # kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(fan_in), ...)
    weight = conv.weight.detach().numpy()
    assert weight.shape == (8, 16, 3, 3) and np.abs(weight).max() <= bound
    assert np.abs(weight).max() > 0.8 * bound and abs(weight.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert np.abs(conv.bias.detach().numpy()).max() <= bound
    transposed = nn.ConvTranspose2d(16, 8, 3, groups=2)
    assert tuple(transposed.weight.shape) == (16, 4, 3, 3)
    assert np.abs(transposed.bias.detach().numpy()).max() <= 1 / math.sqrt(4 * 9)


def test_conv_module_errors():
    with pytest.raises(RuntimeError, match=r"expected input\[1, 2, 8, 8\] to have 3 channels, but got 2 channels"):
        nn.Conv2d(3, 4, 3)(ember.ones(1, 2, 8, 8))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 4, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        nn.Conv2d(3, 4, 3, padding="full")
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect")


POOL_MODULES = [
    ("MaxPool1d", lambda nn: nn.MaxPool1d(3, 2, 1), [(2, 3, 9)]),
    ("MaxPool2d", lambda nn: nn.MaxPool2d(2), [(2, 3, 6, 7)]),
    ("MaxPool2d-ceil", lambda nn: nn.MaxPool2d((3, 2), stride=(2, 1), padding=1, ceil_mode=True), [(2, 3, 7, 6)]),
    ("MaxPool3d", lambda nn: nn.MaxPool3d(2, 1), [(1, 2, 3, 4, 3)]),
    ("AvgPool1d", lambda nn: nn.AvgPool1d(3, 2, 1, count_include_pad=False), [(2, 3, 9)]),
    ("AvgPool2d", lambda nn: nn.AvgPool2d(3, 2, 1, ceil_mode=True), [(2, 3, 7, 6)]),
    ("AvgPool3d", lambda nn: nn.AvgPool3d(2), [(1, 2, 4, 4, 4)]),
    ("AdaptiveAvgPool1d", lambda nn: nn.AdaptiveAvgPool1d(4), [(2, 3, 9)]),
    ("AdaptiveAvgPool2d", lambda nn: nn.AdaptiveAvgPool2d((3, 2)), [(2, 3, 7, 5)]),
    ("AdaptiveMaxPool2d", lambda nn: nn.AdaptiveMaxPool2d((3, 2)), [(2, 3, 7, 5)]),
    ("LPPool1d", lambda nn: nn.LPPool1d(2, 3, 2), [(2, 3, 9)]),
    ("ZeroPad2d", lambda nn: nn.ZeroPad2d((1, 2, 0, 1)), [(2, 3, 4, 4)]),
    ("ConstantPad1d", lambda nn: nn.ConstantPad1d(2, -1.0), [(2, 3, 4)]),
    ("ConstantPad3d", lambda nn: nn.ConstantPad3d(1, 0.5), [(1, 2, 2, 3, 2)]),
    ("ReflectionPad1d", lambda nn: nn.ReflectionPad1d((2, 1)), [(2, 3, 4)]),
    ("ReflectionPad2d", lambda nn: nn.ReflectionPad2d(2), [(2, 3, 4, 4)]),
    ("ReplicationPad2d", lambda nn: nn.ReplicationPad2d((1, 0, 2, 1)), [(2, 3, 4, 4)]),
    ("ReplicationPad3d", lambda nn: nn.ReplicationPad3d(1), [(1, 2, 2, 3, 2)]),
    ("CircularPad2d", lambda nn: nn.CircularPad2d(1), [(2, 3, 4, 4)]),
    ("Upsample-nearest", lambda nn: nn.Upsample(scale_factor=2), [(2, 3, 3, 4)]),
    ("Upsample-bilinear", lambda nn: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=False), [(2, 3, 3, 4)]),
    ("UpsamplingBilinear2d", lambda nn: nn.UpsamplingBilinear2d(scale_factor=2), [(2, 3, 3, 4)]),
    ("PixelShuffle", lambda nn: nn.PixelShuffle(2), [(2, 8, 3, 4)]),
    ("PixelUnshuffle", lambda nn: nn.PixelUnshuffle(2), [(2, 2, 4, 6)]),
    ("ChannelShuffle", lambda nn: nn.ChannelShuffle(2), [(2, 4, 3, 3)]),
    ("Unfold", lambda nn: nn.Unfold((2, 3), padding=1, stride=2), [(2, 3, 5, 6)]),
    ("Fold", lambda nn: nn.Fold((4, 5), 2), [(2, 12, 12)]),
]


@pytest.mark.parametrize("name,build,shapes", POOL_MODULES, ids=[c[0] for c in POOL_MODULES])
def test_stateless_module_matches_torch(torch, name, build, shapes):
    _oracle(torch, build, shapes)


def test_maxpool_with_indices_and_unpool_modules(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 8))
    out, idx = nn.MaxPool2d(2, return_indices=True)(ember.tensor(x))
    t_out, t_idx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())
    back = nn.MaxUnpool2d(2)(out, idx)
    np.testing.assert_array_equal(back.numpy(), torch.nn.MaxUnpool2d(2)(t_out, t_idx).numpy())


def test_lenet_training_step_matches_torch(torch):
    """A small CNN: forward, loss, backward and one SGD step agree with PyTorch in float32."""
    def build(nn):
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(6 * 4 * 4, 10))
    torch.manual_seed(0)
    theirs, ours = build(torch.nn), build(nn)
    _load_from_torch(ours, theirs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 1, 10, 10)).astype(np.float32)
    y = rng.integers(0, 10, 5)
    for module, lib in ((ours, ember), (theirs, torch)):
        loss = lib.nn.functional.cross_entropy(module(lib.tensor(x)), lib.tensor(y))
        loss.backward()
        with lib.no_grad():
            for p in module.parameters():
                p -= 0.1 * p.grad
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=1e-5, err_msg=name)
