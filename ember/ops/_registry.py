"""@export: one decorator makes an op a public function, a Tensor method and (optionally) an in-place method."""
from .._tensor import Tensor

PUBLIC = {}          # name -> function, re-exported as ember.<name>
METHODS = {}         # name -> function bound on Tensor


def export(fn=None, *, method=True, inplace=False, name=None, public=True, aliases=()):
    """Register `fn` as ember.<name>; with method=True also Tensor.<name>; inplace=True adds <name>_."""
    def register(fn):
        op_name = name or fn.__name__
        for n in (op_name, *aliases):
            if public:
                PUBLIC[n] = fn
            if method:
                METHODS[n] = fn
                setattr(Tensor, n, fn)
        if inplace:
            from .inplace import make_inplace
            for n in (op_name, *aliases):
                inplace_fn = make_inplace(fn, n + "_")
                if method:                         # torch.celu_ has no Tensor.celu_: method=False has none
                    METHODS[n + "_"] = inplace_fn
                    setattr(Tensor, n + "_", inplace_fn)
                if public and inplace == "public":
                    PUBLIC[n + "_"] = inplace_fn
        return fn
    return register if fn is None else register(fn)


def export_method(fn, name=None):
    """A Tensor method only (no ember.<name> function)."""
    n = name or fn.__name__
    METHODS[n] = fn
    setattr(Tensor, n, fn)
    return fn
