"""nn.TransformerEncoder in eval with a src_key_padding_mask: PyTorch (CPU) runs its nested-tensor path when its
conditions hold, and the padded positions come out as zeros; elsewhere the ordinary path (issue 12)."""
import warnings

import numpy as np
import pytest

import ember


def _encoder(m, batch_first=True, norm_first=False, nhead=2, bias=True, activation="relu", final_norm=False,
             enable_nested_tensor=True, num_layers=2):
    m.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = m.nn.TransformerEncoderLayer(8, nhead, dim_feedforward=16, batch_first=batch_first,
                                             norm_first=norm_first, activation=activation, bias=bias)
        encoder = m.nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=enable_nested_tensor,
                                          norm=m.nn.LayerNorm(8) if final_norm else None)
    said = [str(w.message) for w in caught if "nested" in str(w.message)]
    return encoder.eval(), said


def _run(m, mask="left", training=False, grad=False, src_mask=False, no_grad=True, **kw):
    encoder, said = _encoder(m, **kw)
    encoder.train(training)
    batch_first = kw.get("batch_first", True)
    x = m.tensor(np.random.default_rng(0).standard_normal((3, 5, 8) if batch_first else (5, 3, 8)),
                 dtype=m.float32, requires_grad=grad)
    pad = {"left": [[False] * 5, [False, False, False, True, True], [False, True, True, True, True]],
           "all": [[True] * 5, [False] * 5, [False, False, True, True, True]],
           "holes": [[False, True, False, False, False], [False] * 5, [False, False, False, False, True]]}[mask]
    padding = m.tensor(pad)
    kwargs = {"src_key_padding_mask": padding}
    if src_mask:
        kwargs["mask"] = m.nn.Transformer.generate_square_subsequent_mask(5)
    if no_grad:
        with m.no_grad():
            out = encoder(x, **kwargs)
    else:
        out = encoder(x, **kwargs)
    return np.nan_to_num(out.detach().numpy()), said


CASES = {
    "eval": {}, "grad mode (parameters require grad)": dict(no_grad=False), "training": dict(training=True), "nested off": dict(enable_nested_tensor=False),
    "seq first": dict(batch_first=False), "norm_first": dict(norm_first=True), "gelu": dict(activation="gelu"),
    "odd heads": dict(nhead=1), "no bias": dict(bias=False), "final norm": dict(final_norm=True),
    "input requires grad": dict(grad=True, no_grad=False), "requires grad under no_grad": dict(grad=True),
    "with src mask": dict(src_mask=True), "not left aligned": dict(mask="holes"), "a row all padding": dict(mask="all"),
    "one layer": dict(num_layers=1),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_encoder_padding_as_torch(case):
    torch = pytest.importorskip("torch")
    ours, our_warnings = _run(ember, **CASES[case])
    theirs, their_warnings = _run(torch, **CASES[case])
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)
    assert our_warnings == their_warnings


def test_encoder_padding_zeros_in_eval():
    out, said = _run(ember)
    assert (out[1, 3:] == 0).all() and (out[2, 1:] == 0).all() and (out[0] != 0).all() and not said
    trained, _ = _run(ember, training=True)
    assert (trained[2, 1:] != 0).any()                     # training: the ordinary path
    recorded, _ = _run(ember, no_grad=False)
    assert (recorded[2, 1:] != 0).any()                    # parameters that require grad, in grad mode: too
    _, said = _run(ember, batch_first=False)
    assert said == ["enable_nested_tensor is True, but self.use_nested_tensor is False because encoder_layer."
                    "self_attn.batch_first was not True(use batch_first for better inference performance)"]
