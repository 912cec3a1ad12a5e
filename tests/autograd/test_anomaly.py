"""Anomaly detection (AG-7 in docs/RELIABILITY.md): NaN in backward names the function and shows the forward traceback."""
import warnings

import pytest

import ember


def test_off_by_default_and_no_error_without_it():
    assert not ember.autograd.is_anomaly_enabled()
    x = ember.zeros(1, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (ember.sqrt(x) * 0).sum().backward()         # NaN gradient, silently (as in PyTorch)
    assert x.grad.isnan().all()


def test_nan_names_backward_function_and_forward_line(torch):
    x = ember.zeros(1, requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = ember.sqrt(x)                            # the line the message must point at
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError) as info:
                (y * 0).sum().backward()
    message = str(info.value)
    assert message.startswith("Function 'SqrtBackward0' returned nan values in its 0th output.")
    assert __file__ in message and "y = ember.sqrt(x)" in message
    tx = torch.zeros(1, requires_grad=True)
    with torch.autograd.detect_anomaly(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError) as theirs:
            (torch.sqrt(tx) * 0).sum().backward()
    assert message.splitlines()[0] == str(theirs.value).splitlines()[0]
    assert not ember.autograd.is_anomaly_enabled()


def test_check_nan_false_and_set_detect_anomaly():
    x = ember.zeros(1, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with ember.autograd.detect_anomaly(check_nan=False):
            (ember.sqrt(x) * 0).sum().backward()
        ember.autograd.set_detect_anomaly(True)
        try:
            assert ember.autograd.is_anomaly_enabled()
            with pytest.raises(RuntimeError, match="SqrtBackward0"):
                (ember.sqrt(x) * 0).sum().backward()
        finally:
            ember.autograd.set_detect_anomaly(False)
    with ember.autograd.set_detect_anomaly(True, check_nan=False):
        assert ember.autograd.is_anomaly_enabled() and not ember.autograd.is_anomaly_check_nan_enabled()
    assert not ember.autograd.is_anomaly_enabled()


def test_error_inside_backward_warns_with_forward_trace():
    class Broken(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            raise ValueError("boom")

    x = ember.ones(2, requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = Broken.apply(x)
        with pytest.warns(UserWarning, match="Error detected in BrokenBackward") as record:
            with pytest.raises(ValueError, match="boom"):
                y.sum().backward()
    assert any("y = Broken.apply(x)" in str(w.message) for w in record)


def test_decorator_form():
    @ember.autograd.detect_anomaly()
    def run():
        return ember.autograd.is_anomaly_enabled()
    assert run() and not ember.autograd.is_anomaly_enabled()
