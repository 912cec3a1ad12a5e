"""Running one small program under ember and, where it is installed, under PyTorch: the regression tests of the
divergences the fuzzer found compare the two outcomes."""
import ember

try:
    import torch
except ImportError:                                # the ember-only assertions still run
    torch = None


def outcome(f):
    """[f(ember)] plus f(torch) when PyTorch is installed; each a value or its exception's type name."""
    out = []
    for m in (ember, torch):
        if m is None:
            continue
        try:
            out.append(f(m))
        except Exception as e:
            out.append(type(e).__name__)
    return out


def same(f, expected):
    assert outcome(f) == [expected] * (1 if torch is None else 2)
