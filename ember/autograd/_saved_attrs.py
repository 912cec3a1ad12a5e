"""PyTorch's names for what a grad_fn saved: `grad_fn._saved_<name>` (the value) and `grad_fn._raw_saved_<name>`
(a SavedTensor, whose register_hooks(pack_hook, unpack_hook) swaps the saved tensor for what pack_hook returns).

Note [saved names]: ember's nodes keep saved entries by position (Note [saved entries] in graph.py) and their
op's non-tensor attributes in the node's __dict__ (ctx.dims, ctx.keepdim ...). The names PyTorch's generated
nodes expose are resolved only when read: _TABLE maps an op class to {torch name: entry index} for tensors and
{torch name: getter(node)} for other values; an op without a table row gets positional names (the saved
entries that are not outputs are `self` then `other`, the outputs `result`, or `result<nr>` for an op with
several). The names are non-data descriptors on Node (installed by graph.py), not a __getattr__: CPython 3.11
stops specialising every attribute read of a class with __getattr__, which made each recorded op ~3% slower.
A value set on a custom Function's ctx under such a name still lands in its __dict__ and wins.

Deviations, kept on purpose: dims are reported normalised (`x.sum(-1)` gives `(1,)`; PyTorch reports the dim as
passed, a negative one wrapped to 2**64 + dim); a Python scalar operand (`x * 2`) comes back as a tensor of the
op's result dtype (PyTorch's is int64 for an int); PyTorch's `_saved_*_sym_strides` and `_saved_alpha` (ember
folds alpha into the operand) are not there.
"""
import math
import weakref

from .._tensor import Tensor as _Tensor, _make
from .grad_mode import no_grad
from .graph import FREED, SAVED_INPUT, SAVED_OUTPUT, SAVED_PACKED, _raise_freed, _unpack, grad_accumulator

__all__ = ["SavedTensor"]

_ABSENT = object()                 # a getter's answer when this node has no such value
_REDUCTION = {"none": 0, "mean": 1, "sum": 2}     # PyTorch's at::Reduction enum, as its nodes report it


def _attr(name, convert=None):
    def get(node):
        value = node.__dict__.get(name, _ABSENT)
        return value if value is _ABSENT or convert is None else convert(value)
    return get


def _sizes(name="input_shape"):
    return _attr(name, tuple)


def _numel(node):
    shape = node.__dict__.get("input_shape", _ABSENT)
    return _ABSENT if shape is _ABSENT else math.prod(shape)


def _item(name, i, convert=None):
    """Item i of a tuple attribute (ctx.bounds = (min, max), ctx.shapes = (a.shape, b.shape) ...)."""
    def get(node):
        value = node.__dict__.get(name, _ABSENT)
        if value is _ABSENT:
            return value
        return value[i] if convert is None else convert(value[i])
    return get


def _const(value):
    return lambda node: value


def _transposed(i):
    """Saved entry i transposed: ember's linear keeps weight where PyTorch's mm/addmm keep weight.t()."""
    def get(node):
        saved = node._saved
        if saved is FREED:
            _raise_freed()
        if saved is None or i >= len(saved) or saved[i] is None:
            return None
        return _unpack(node, saved[i]).t()
    return get


_DIMS = {"dim": _attr("dims"), "keepdim": _attr("keepdim")}
_MAX_DIM = {"dim": _attr("dim"), "keepdim": _attr("keepdim"), "indices": 0, "self_sym_sizes": _sizes("shape")}
_SELF_RESULT = {"self": 0, "result": 1}
_SIZES = {"self_sym_sizes": _sizes()}
_VAR_DIMS = {"dim": lambda node: None if node.__dict__.get("full", True) else tuple(node.__dict__["dims"]),
             "keepdim": _attr("keepdim")}
_LOSS = {"self": 0, "target": 1, "reduction": _attr("reduction", _REDUCTION.get)}

# Op class (module under ember.ops, class name) -> {torch name: saved entry index | getter(node)}. Checked
# against PyTorch by tests/autograd/test_saved_introspection.py.
_TABLE = {
    "arithmetic.Mul": {"self": 0, "other": 1},
    "arithmetic.Div": {"self": 0, "other": 1},
    "arithmetic.PowScalar": {"self": 0, "exponent": _attr("exponent")},
    "arithmetic.Pow": {"self": 0, "exponent": 1, "result": 2},
    "arithmetic.RPowScalar": {"self": _attr("base"), "exponent": 1, "result": 0},
    "arithmetic.DivRounded": {"self": 0, "other": 1,
                              "rounding_mode": _attr("floor", lambda floor: "floor" if floor else "trunc")},
    "arithmetic.Lerp": {"weight": _attr("weight")},
    "arithmetic.Addcmul": {"tensor1": 0, "tensor2": 1, "value": _attr("value")},
    "spectral.FftR2C": {"self": 0, "dim": _attr("dims", tuple), "onesided": _attr("onesided")},
    "arithmetic.LerpTensor": {"self": 0, "end": 1, "weight": 2},
    "unary.Square": {"self": 0, "exponent": _const(2)},
    "reduction.SumAll": _SIZES,
    "reduction.Sum": {**_DIMS, **_SIZES},
    "reduction.Mean": {**_SIZES, "self_sym_numel": _numel},
    "reduction.MeanDim": {**_DIMS, **_SIZES, "self_sym_numel": _numel},
    "reduction.MaxAll": _SELF_RESULT,
    "reduction.MinAll": _SELF_RESULT,
    "reduction.MaxDim": _MAX_DIM,
    "reduction.MinDim": _MAX_DIM,
    "reduction.Amax": {**_DIMS, **_SELF_RESULT},
    "reduction.Amin": {**_DIMS, **_SELF_RESULT},
    "reduction.Prod": _SELF_RESULT,
    "reduction.ProdDim": {"dim": _attr("dim"), "keepdim": _attr("keepdim"), **_SELF_RESULT},
    "reduction.LogSumExp": {**_DIMS, **_SELF_RESULT},
    "statistics.Var": {"self": 0, **_VAR_DIMS},
    "statistics.Std": {**_SELF_RESULT, **_VAR_DIMS},
    "norms.VectorNorm": {**_SELF_RESULT, "ord": _attr("ord"), "keepdim": _attr("keepdim"),
                         "dim": lambda node: tuple(node.__dict__["dims"]) if node.__dict__.get("dim_given") else None},
    "scan.Cumsum": {"dim": _attr("dim")},
    "scan.Cumprod": {"dim": _attr("dim"), **_SELF_RESULT},
    "products.Matmul": {"self": 0, "mat2": 1, "self_sym_sizes": _item("shapes", 0, tuple),
                        "mat2_sym_sizes": _item("shapes", 1, tuple)},
    "products.BmmOp": {"self": 0, "mat2": 1},
    "conv.Convolution": {"input": 0, "weight": 1, "stride": _item("geometry", 1, tuple),
                         "dilation": _item("geometry", 2, tuple),
                         "padding": _item("geometry", 3, lambda pads: tuple(lo for lo, _ in pads)),
                         "groups": _attr("groups"), "transposed": _const(False),
                         "output_padding": lambda node: (0,) * len(node.__dict__["geometry"][0]),
                         "bias_sym_sizes_opt": lambda node: node.__dict__["bias_sizes"]},
    "conv.TransposedConvolution": {"input": 0, "weight": 1, "stride": _item("geometry", 1, tuple),
                                   "dilation": _item("geometry", 2, tuple), "padding": _attr("padding", tuple),
                                   "groups": _attr("groups"), "transposed": _const(True),
                                   "output_padding": _attr("output_padding", tuple),
                                   "bias_sym_sizes_opt": lambda node: node.__dict__["bias_sizes"]},
    "products.Dot": {"self": 0, "tensor": 1},
    "linear.Linear": {"mat1": 0, "mat2": _transposed(1), "mat1_sym_sizes": _sizes(),
                      "mat2_sym_sizes": _attr("weight_shape", lambda s: tuple(s[::-1])),
                      "alpha": _const(1), "beta": _const(1)},
    "linear.LinearMm": {"self": 0, "mat2": _transposed(1), "self_sym_sizes": _sizes(),
                        "mat2_sym_sizes": _attr("weight_shape", lambda s: tuple(s[::-1]))},
    "views.ReshapeCopy": _SIZES,
    "linear.Embedding": {"indices": 0, "padding_idx": _attr("padding_idx", lambda p: 2 ** 64 - 1 if p is None else p),
                         "scale_grad_by_freq": _attr("scale"), "weight_sym_argsize_0": _attr("num_weights")},
    "piecewise_activations.Relu": {"result": 0},
    "smooth_activations.Gelu": {"self": 0, "approximate": _attr("approximate")},
    "smooth_activations.Softplus": {"self": 0, "beta": _attr("beta"), "threshold": _attr("threshold")},
    "piecewise_activations.LeakyRelu": {"self": 0, "negative_slope": _attr("negative_slope")},
    "smooth_activations.Elu": {"self": 0, "alpha": _attr("alpha"), "scale": _attr("scale"),
                               "input_scale": _attr("input_scale")},
    "smooth_activations.Celu": {"self": 0, "alpha": _attr("alpha")},
    "piecewise_activations.Hardtanh": {"self": 0, "min_val": _attr("min_val"), "max_val": _attr("max_val")},
    "softmax_family.Softmax": {"dim": _attr("dim"), "result": 0},
    "softmax_family.LogSoftmax": {"dim": _attr("dim"), "result": 0},
    "joining.Cat": {"dim": _attr("dim")},
    "joining.Stack": {"dim": _attr("dim")},
    "joining.Split": {"dim": _attr("dim")},
    "joining.SplitWithSizes": {"dim": _attr("dim")},
    "views.View": _SIZES,
    "views.Expand": _SIZES,
    "views.Squeeze": _SIZES,
    "views.SqueezeDim": _SIZES,
    "views.Transpose": {"dim0": _item("dims", 0), "dim1": _item("dims", 1)},
    "views.Permute": {"dims": _attr("dims", tuple)},
    "views.Unsqueeze": {"dim": _attr("dim")},
    "slicing.Select": _SIZES,
    "slicing.Slice": _SIZES,
    "slicing.Diagonal": {**_SIZES, "offset": _item("args", 0), "dim1": _item("args", 1),
                         "dim2": _item("args", 2)},
    "indexing.Index": _SIZES,
    "indexing.IndexPut": {"accumulate": _attr("accumulate")},   # its saved entries are index tensors, not self
    "indexing.MaskedScatter": {"mask": 0},
    "indexing.MaskedFill": {"mask": 0},
    "scatter_gather.Gather": {"index": 0, "self": 1, "dim": _attr("dim")},
    "reordering.Flip": {"dims": _attr("dims", tuple)},
    "reordering.Roll": {"dims": _attr("dims", tuple), "shifts": _attr("shifts", tuple)},
    "comparison.Clamp": {"self": 0, "min": _item("bounds", 0), "max": _item("bounds", 1)},
    "comparison.ClampMin": {"self": 0, "min": _item("bounds", 0)},
    "comparison.ClampMax": {"self": 0, "max": _item("bounds", 1)},
    "comparison.ClampTensor": {"self": 0, "min": 1, "max": 2},
    "comparison.Where": {"condition": 0},
    "loss.MseLoss": _LOSS,
    "loss.BinaryCrossEntropy": {**_LOSS, "weight": 2},
    "loss.NllLoss": {"self": 0, "target": 1, "weight": 2, "reduction": _item("state", 6, _REDUCTION.get)},
    # ember fuses log_softmax + nll_loss in one op: what it saves is not what PyTorch's node of that name
    # holds, so it exposes nothing rather than a wrong `self`.
    "loss.CrossEntropy": {},
}
_TABLE = {"ember.ops." + key: names for key, names in _TABLE.items()}

_POSITIONAL = ("self", "other")
_MAX_RESULTS = 4                  # result0 .. result3 for multi-output ops without a table row

# Every name a node may answer to: graph.py puts a descriptor on Node for each.
TENSOR_NAMES = sorted({name for names in _TABLE.values() for name, spec in names.items() if spec.__class__ is int}
                      | {*_POSITIONAL, "result"} | {f"result{i}" for i in range(_MAX_RESULTS)})
VALUE_NAMES = sorted({name for names in _TABLE.values() for name, spec in names.items()
                      if spec.__class__ is not int} - set(TENSOR_NAMES))


def _is_function(op):
    """Whether a node's op is a custom autograd.Function (not a primitive Op)."""
    from .function import Op                      # here: function.py imports graph.py, which imports this
    return not issubclass(op, Op)


def _op_names(node):
    """{torch name: entry index | getter} for this node, None for nodes without PyTorch names (AccumulateGrad,
    custom Functions: PyTorch's expose saved_tensors and _raw_saved_tensors only)."""
    op = node._op
    if op is None or _is_function(op):
        return None
    key = f"{op.__module__}.{op.__qualname__}"
    names = _TABLE.get(key)
    if names is not None:
        return names
    if op.__module__ == "ember.ops.unary":
        names = _unary_names(op)
        if names is not None:
            _TABLE[key] = names
            return names
    saved = node._saved
    if saved is None or saved is FREED:           # FREED: the positions are gone with the entries
        return {} if saved is None else _FREED_POSITIONAL
    names = {}
    k = 0
    for i, entry in enumerate(saved):
        # An output packed by register_hooks says which it was (a saved_tensors_hooks one does not: it counts
        # as an input here, which is why the ops that save outputs have table rows).
        nr = entry[5] if entry is not None and entry[0] == SAVED_OUTPUT else \
            getattr(entry[2], "out_nr", None) if entry is not None and entry[0] == SAVED_PACKED else None
        if nr is not None:
            names["result" if node._n_out == 1 else f"result{nr}"] = i
        else:
            if k < len(_POSITIONAL):
                names[_POSITIONAL[k]] = i
            k += 1
    return names


def _unary_names(op):
    """Names for an op of ops/unary.py's table, from what unary_op was told it keeps (its forward's closure)."""
    forward = op.__dict__.get("forward")
    forward = getattr(forward, "__func__", forward)
    cells = dict(zip(getattr(getattr(forward, "__code__", None), "co_freevars", ()),
                     getattr(forward, "__closure__", None) or ()))
    keeps = cells["keeps"].cell_contents if "keeps" in cells else _ABSENT
    return {"input": {"self": 0}, "output": {"result": 0}, "both": _SELF_RESULT, None: {}}.get(keeps)


_FREED_POSITIONAL = {name: -1 for name in (*_POSITIONAL, "result", *(f"result{i}" for i in range(_MAX_RESULTS)))}


def _missing(node, attr):
    return AttributeError(f"'{type(node).__name__}' object has no attribute '{attr}'")


def saved_value(node, name):
    """node._saved_<name>: the saved tensor (version-checked, through any unpack hook), or the saved value."""
    names = _op_names(node)
    spec = names.get(name, _ABSENT) if names is not None else _ABSENT
    if spec is _ABSENT:
        raise _missing(node, "_saved_" + name)
    if spec.__class__ is not int:
        value = spec(node)
        if value is _ABSENT:
            raise _missing(node, "_saved_" + name)
        return value
    saved = node._saved
    if saved is FREED:
        _raise_freed()
    if saved is None or spec >= len(saved):
        return None
    return _unpack(node, saved[spec])


def raw_saved(node, name):
    """node._raw_saved_<name>: a SavedTensor for a saved tensor's slot (also after backward freed it)."""
    if name == "tensors" and node._op is not None and _is_function(node._op):
        saved = node._saved                       # a custom Function's ctx._raw_saved_tensors
        if saved is FREED:
            _raise_freed()
        return tuple([SavedTensor(node, i) for i in range(len(saved or ()))])
    names = _op_names(node)
    spec = names.get(name, _ABSENT) if names is not None else _ABSENT
    if spec.__class__ is not int:
        raise _missing(node, "_raw_saved_" + name)
    return SavedTensor(node, spec)


def saved_names(node):
    """The `_saved_*` / `_raw_saved_*` names this node answers to (for dir())."""
    names = _op_names(node)
    if names is None:
        return ["_raw_saved_tensors"] if node._op is not None else []
    out = []
    for name, spec in names.items():
        if spec.__class__ is int:
            out += ["_saved_" + name, "_raw_saved_" + name]
        elif spec(node) is not _ABSENT:
            out.append("_saved_" + name)
    return out


class SavedName:
    """A non-data descriptor on Node for one `_saved_<name>` or `_raw_saved_<name>` (Note [saved names])."""
    __slots__ = ("name", "raw")

    def __init__(self, name, raw):
        self.name, self.raw = name, raw

    def __get__(self, node, cls=None):
        if node is None:
            return self
        return raw_saved(node, self.name) if self.raw else saved_value(node, self.name)


def saved_name_descriptors():
    """{attribute: descriptor} for graph.py to put on Node."""
    out = {"_saved_" + name: SavedName(name, False) for name in (*TENSOR_NAMES, *VALUE_NAMES)}
    out.update({"_raw_saved_" + name: SavedName(name, True) for name in (*TENSOR_NAMES, "tensors")})
    return out


class SavedTensor:
    """One saved tensor slot of a grad_fn, PyTorch's torch._C._autograd.SavedTensor."""
    __slots__ = ("_node", "_index")

    def __init__(self, node, index):
        self._node, self._index = node, index

    def _entry(self):
        saved = self._node._saved
        if saved is FREED:
            return FREED
        if saved is None or not 0 <= self._index < len(saved):
            return None
        return saved[self._index]

    def unpack(self):
        """The saved tensor, as the node's backward gets it."""
        entry = self._entry()
        if entry is FREED:
            _raise_freed()
        return _unpack(self._node, entry)

    @property
    def data(self):
        """What the slot holds: the tensor, or what pack_hook returned; None once freed."""
        entry = self._entry()
        if entry is FREED or entry is None:
            return None
        if entry[0] == SAVED_PACKED:
            return entry[1]
        if entry[0] == SAVED_OUTPUT:
            _, array, vc, _, device, nr = entry
            return _make(array, device, True, self._node, nr, vc)
        return entry[1]

    @property
    def unpack_hook(self):
        entry = self._entry()
        if entry is FREED or entry is None or entry[0] != SAVED_PACKED:
            return None
        return getattr(entry[2], "user_hook", entry[2])

    def register_hooks(self, pack_hook, unpack_hook):
        """Call pack_hook(tensor) now and keep only what it returns; unpack_hook(packed) gives the tensor back
        whenever the node's backward (or _saved_<name>) needs it. One pair per saved tensor."""
        if not callable(pack_hook) or not callable(unpack_hook):
            raise TypeError("register_hooks(): expected two callables, pack_hook and unpack_hook, got "
                            f"{type(pack_hook).__name__} and {type(unpack_hook).__name__}")
        entry = self._entry()
        if entry is FREED:
            raise RuntimeError(
                "Calling register_hooks on a saved tensor after it has been freed. Saved intermediate values of "
                "the graph are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
                "you need to backward through the graph a second time or if you need to access saved variables "
                "after calling backward.")
        if entry is None:
            raise RuntimeError("Calling register_hooks on a saved tensor with value None is forbidden")
        if entry[0] == SAVED_PACKED:
            raise RuntimeError("Calling register_hooks on a saved tensor whose hooks have already been set. "
                               "Hint: only one pair of hooks is allowed at a time.")
        node = self._node
        tensor, unpack = _detached_and_unpack(node, entry, unpack_hook)
        with no_grad():
            packed = pack_hook(tensor)
        saved = node._saved
        i = self._index
        node._saved = saved[:i] + ((SAVED_PACKED, packed, unpack),) + saved[i + 1:]


def _detached_and_unpack(node, entry, unpack_hook):
    """The tensor pack_hook gets (the saved data, without history, as PyTorch passes it) and the function the
    entry unpacks with: unpack_hook, then the result re-attached to the saved tensor's place in the graph (its
    grad_fn, or a leaf's accumulator), so double backward still reaches the inputs. The closure holds the
    history, never the saved tensor itself: freeing it is what the hooks are for."""
    kind = entry[0]
    if kind == SAVED_OUTPUT:
        _, array, vc, _, device, nr = entry
        tensor = _make(array, device, vc=vc)
        grad_fn, acc = _weak_node(node), None
    else:
        original = entry[1]
        tensor = original.detach() if kind == SAVED_INPUT else original
        grad_fn, acc, nr = None, None, original._out_nr
        if kind == SAVED_INPUT and original._requires_grad:
            if original.grad_fn is not None:
                grad_fn = _strong(original.grad_fn)
            else:
                acc = grad_accumulator(original)

    def unpack(packed):
        out = unpack_hook(packed)
        if not isinstance(out, _Tensor):
            raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                            f"{type(out).__name__}")
        if grad_fn is not None:
            return _make(out._array, out._device, True, grad_fn(), nr)
        if acc is not None:                       # a leaf: a new leaf whose gradient goes to the original's sink
            alias = _make(out._array, out._device, True)
            alias._acc = acc
            return alias
        return out
    unpack.user_hook = unpack_hook
    if kind == SAVED_OUTPUT:
        unpack.out_nr = nr                        # the entry stays named `result` (see _op_names)
    return tensor, unpack


def _weak_node(node):
    # The entry lives in node._saved: a strong reference back to the node would make a cycle.
    return weakref.ref(node)


def _strong(node):
    return lambda: node

